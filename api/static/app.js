// latte's search-and-ask page: plain JavaScript, no build step.
// Search: POST /v1/search and show each hit with its retrieval trace.
// Ask: search (so cited sources are on the page), then stream POST /v1/answer as Server-Sent Events read with
// fetch + ReadableStream; citation markers [n] become links that scroll to and highlight the cited hit.
// PDF pages: a hit or source from a PDF page shows a lazy-loaded thumbnail of the page (page_image_url); a click
// opens the full page in a dialog; a citation click enlarges the cited hit's page.
"use strict";

const $ = (id) => document.getElementById(id);
let lastHits = [];

function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function options() {
  const body = { k: Math.max(1, parseInt($("k").value, 10) || 10), mode: $("mode").value };
  const rerank = $("rerank").value;
  if (rerank) body.rerank = rerank === "true";
  const unit = $("unit").value; // empty: the server's default (search: document, answer: passage)
  if (unit) body.unit = unit;
  return body;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showMessage(text, isError) {
  const m = $("message");
  m.hidden = !text;
  m.textContent = text || "";
  m.classList.toggle("error", !!isError);
}

async function errorText(resp) {
  try {
    const data = await resp.json();
    const d = data.detail;
    const msg = Array.isArray(d) ? d.map((e) => e.msg).join("; ") : String(d);
    return `${resp.status}: ${msg}` + (data.request_id ? ` (request ${data.request_id})` : "");
  } catch (_) {
    return `${resp.status}: ${resp.statusText}`;
  }
}

function fmt(x) {
  return typeof x === "number" ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3)) : "";
}

// -- page images ------------------------------------------------------------------------------------------------------
const THUMB_DPI = 48;

function withDpi(url, dpi) {
  return url + (url.includes("?") ? "&" : "?") + "dpi=" + dpi;
}

// An <img> cannot send the API key: with a key, fetch the image and show it from a blob URL.
function setImage(img, url) {
  const key = $("api-key").value.trim();
  if (!key) {
    img.src = url;
    return;
  }
  fetch(url, { headers: { Authorization: "Bearer " + key } })
    .then((resp) => (resp.ok ? resp.blob() : Promise.reject(new Error(String(resp.status)))))
    .then((blob) => {
      const local = URL.createObjectURL(blob);
      img.addEventListener("load", () => URL.revokeObjectURL(local), { once: true });
      img.src = local;
    })
    .catch(() => img.dispatchEvent(new Event("error")));
}

function pageFigure(url, page, label, extraClass) {
  const fig = el("figure", "page-thumb" + (extraClass ? " " + extraClass : ""));
  fig.dataset.url = url;
  const button = el("button", "thumb-btn");
  button.type = "button";
  button.title = `open page ${page}`;
  const img = el("img");
  img.loading = "lazy";
  img.alt = `page ${page} of ${label}`;
  img.addEventListener("error", () => fig.classList.add("failed"));
  setImage(img, withDpi(url, THUMB_DPI));
  button.append(img);
  button.addEventListener("click", () => openPage(url, `${label} · page ${page}`));
  fig.append(button, el("figcaption", "muted", `p. ${page}`));
  return fig;
}

function openPage(url, caption) {
  const dialog = $("page-viewer");
  const img = $("viewer-img");
  img.removeAttribute("src");
  img.alt = caption;
  $("viewer-caption").textContent = caption;
  $("viewer-open").href = url;
  $("viewer-open").hidden = !!$("api-key").value.trim(); // a new tab could not send the key
  setImage(img, url);
  if (!dialog.open) dialog.showModal();
}

// one element id per hit: its document, and below the document unit its page or passage
function hitId(docId, hit) {
  let key = docId;
  if (hit && hit.unit === "page" && hit.passage) key += "#p" + hit.passage.page;
  else if (hit && hit.unit === "passage" && hit.passage) key += "#" + hit.passage.ordinal;
  return "hit-" + encodeURIComponent(key).replace(/[^A-Za-z0-9_-]/g, "_");
}

// the shown hit a cited source comes from: same document, and the same page or passage below the document unit
function hitForSource(src) {
  const hit = lastHits.find((h) => {
    if (h.doc_id !== src.doc_id) return false;
    if (h.unit === "page") return !!h.passage && h.passage.page === src.page;
    if (h.unit === "passage") {
      const ords = src.passage_ordinals && src.passage_ordinals.length ? src.passage_ordinals : [src.passage_ordinal];
      return !!h.passage && ords.includes(h.passage.ordinal);
    }
    return true;
  });
  return hit ? document.getElementById(hitId(hit.doc_id, hit)) : null;
}

function renderHits(result) {
  lastHits = result.hits;
  const list = $("hits");
  list.replaceChildren();
  $("hits-meta").textContent =
    `${result.hits.length} from ${result.retrievers.join(" + ")} · version ${result.version} · ` +
    Object.entries(result.timings_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(", ");
  for (const hit of result.hits) {
    const li = el("li", "hit");
    li.id = hitId(hit.doc_id, hit);
    li.dataset.docId = hit.doc_id;
    const head = el("div", "hit-head");
    head.append(el("span", "rank", "#" + hit.rank), el("span", "title", hit.title || hit.doc_id));
    head.append(el("span", "doc-id muted", hit.doc_id), el("span", "score", "score " + fmt(hit.score)));
    const trace = el("div", "trace");
    for (const [name, r] of Object.entries(hit.retrievers)) {
      trace.append(el("span", "chip", `${name} #${r.rank} · ${fmt(r.score)}`));
    }
    if (hit.rerank_score !== null && hit.rerank_score !== undefined) {
      trace.append(el("span", "chip rerank", `rerank ${fmt(hit.rerank_score)}`));
    }
    if (hit.passage) {
      trace.append(el("span", "chip", `passage ${hit.passage.ordinal}`));
      if (hit.passage.page) trace.append(el("span", "chip page", `p. ${hit.passage.page}`));
    }
    if (hit.page_image_url) li.append(pageFigure(hit.page_image_url, hit.passage.page, hit.title || hit.doc_id));
    li.append(head, trace);
    if (hit.passage) li.append(el("p", "passage", hit.passage.text));
    list.append(li);
  }
  $("hits-panel").hidden = false;
  if (!result.hits.length) showMessage("No hits for this query.", false);
}

async function search() {
  const query = $("query").value.trim();
  if (!query) return null;
  showMessage("Searching…", false);
  const resp = await fetch("/v1/search", { method: "POST", headers: headers(), body: JSON.stringify({ query, ...options() }) });
  if (!resp.ok) {
    showMessage(await errorText(resp), true);
    return null;
  }
  const result = await resp.json();
  showMessage("", false);
  renderHits(result);
  return result;
}

// -- citations ------------------------------------------------------------------------------------------------------
let sourcesByNumber = new Map();

function flash(node) {
  document.querySelectorAll(".highlight").forEach((n) => n.classList.remove("highlight"));
  void node.offsetWidth; // restart the animation
  node.classList.add("highlight");
  node.scrollIntoView({ behavior: "smooth", block: "center" });
}

function goToSource(number) {
  const src = sourcesByNumber.get(number);
  const target = (src && hitForSource(src)) || document.getElementById("source-" + number);
  if (!target) return;
  document.querySelectorAll(".page-thumb.expanded").forEach((f) => f.classList.remove("expanded"));
  const figure = target.querySelector(".page-thumb");
  if (figure && !figure.classList.contains("expanded")) {
    figure.classList.add("expanded"); // the cited page, large enough to read: at the server's default resolution
    setImage(figure.querySelector("img"), figure.dataset.url);
  }
  flash(target);
}

function renderCitedText(container, text) {
  container.replaceChildren();
  const marker = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
  let last = 0;
  for (const m of text.matchAll(marker)) {
    container.append(document.createTextNode(text.slice(last, m.index)));
    const numbers = m[1].split(",").map((s) => parseInt(s.trim(), 10));
    container.append("[");
    numbers.forEach((n, i) => {
      if (i) container.append(", ");
      const a = el("a", "cite", String(n));
      a.href = "#";
      a.dataset.n = String(n);
      const src = sourcesByNumber.get(n);
      if (src) a.title = `${src.title || src.doc_id}${src.page ? " · p. " + src.page : ""}`;
      a.addEventListener("click", (ev) => {
        ev.preventDefault();
        goToSource(n);
      });
      container.append(a);
    });
    container.append("]");
    last = m.index + m[0].length;
  }
  container.append(document.createTextNode(text.slice(last)));
}

function renderSources(sources, cited) {
  const list = $("sources");
  list.replaceChildren();
  const citedNumbers = new Set(cited.map((c) => c.number));
  for (const s of sources) {
    const li = el("li", "source" + (citedNumbers.has(s.number) ? " cited" : ""));
    li.id = "source-" + s.number;
    const a = el("a", "cite", `[${s.number}]`);
    a.href = "#";
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      goToSource(s.number);
    });
    if (s.page_image_url) li.append(pageFigure(s.page_image_url, s.page, s.title || s.doc_id, "small"));
    li.append(a, el("span", "title", " " + (s.title || s.doc_id)), el("span", "muted", ` ${s.doc_id}${s.page ? " · p. " + s.page : ""}`));
    li.append(el("div", "snippet", s.snippet));
    list.append(li);
  }
}

// -- streaming answer -------------------------------------------------------------------------------------------------
function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

async function* sseEvents(resp) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = parseFrame(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (frame) yield frame;
    }
  }
  const tail = parseFrame(buffer.trim());
  if (tail) yield tail;
}

async function ask() {
  const question = $("query").value.trim();
  if (!question) return;
  $("ask-btn").disabled = true;
  try {
    const found = await search();
    if (!found) return;
    const panel = $("answer-panel");
    const box = $("answer");
    panel.hidden = false;
    box.replaceChildren();
    box.classList.add("streaming");
    $("sources").replaceChildren();
    $("answer-meta").textContent = "generating…";
    sourcesByNumber = new Map();
    const resp = await fetch("/v1/answer", {
      method: "POST",
      headers: { ...headers(), Accept: "text/event-stream" },
      body: JSON.stringify({ question, ...options(), stream: true }),
    });
    if (!resp.ok) {
      $("answer-meta").textContent = "";
      showMessage(await errorText(resp), true);
      return;
    }
    let text = "";
    for await (const { event, data } of sseEvents(resp)) {
      if (event === "token") {
        text += data.text;
        box.textContent = text;
      } else if (event === "citations") {
        for (const c of data.citations) sourcesByNumber.set(c.number, c);
        renderCitedText(box, data.text);
      } else if (event === "done") {
        for (const s of data.sources) if (!sourcesByNumber.has(s.number)) sourcesByNumber.set(s.number, s);
        renderCitedText(box, data.text);
        renderSources(data.sources, data.citations);
        $("answer-meta").textContent = `${data.generator} · version ${data.version}`;
      } else if (event === "error") {
        $("answer-meta").textContent = "failed";
        showMessage(`The answer failed: ${data.message}`, true);
      }
    }
    box.classList.remove("streaming");
  } catch (err) {
    showMessage(String(err), true);
  } finally {
    $("ask-btn").disabled = false;
  }
}

async function loadStatus() {
  try {
    const resp = await fetch("/v1/index", { headers: headers() });
    if (!resp.ok) {
      $("index-status").textContent = resp.status === 503 ? "index not ready" : await errorText(resp);
      return;
    }
    const info = await resp.json();
    const docs = info.counts.documents ?? "?";
    $("index-status").textContent =
      `${docs} documents · version ${info.version} · ${info.retrievers.join(" + ")}` +
      (info.rerank ? " + MaxSim rerank" : "") + ` · answers: ${info.generator || "extractive"}`;
  } catch (err) {
    $("index-status").textContent = "server unreachable";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const saved = sessionStorage.getItem("latte-api-key");
  if (saved) $("api-key").value = saved;
  $("api-key").addEventListener("change", () => sessionStorage.setItem("latte-api-key", $("api-key").value.trim()));
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search().catch((err) => showMessage(String(err), true));
  });
  $("ask-btn").addEventListener("click", () => ask());
  const viewer = $("page-viewer");
  $("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("click", (ev) => {
    if (ev.target === viewer) viewer.close(); // a click on the backdrop
  });
  loadStatus();
});
