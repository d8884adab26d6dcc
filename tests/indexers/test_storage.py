"""An index on a real S3-compatible server (moto's standalone server on 127.0.0.1, started here): ingest publishes
each commit, mirrors pull whole versions, writers are serialised, and two `latte serve` replicas searching it
while a third process ingests only ever see whole versions, picking new ones up without a restart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'latte[s3]')")
pytest.importorskip("moto.server", reason="moto[server] is not installed (the test extra)")
httpx = pytest.importorskip("httpx")

from indexers.folder import IndexLocked, Snapshot  # noqa: E402 (after the optional-dependency skips)
from indexers.manifest import Manifest  # noqa: E402
from indexers.storage import RemoteIndex, manifest_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "rag"))
from test_ingest import make_doc, write_jsonl  # noqa: E402 (tests/rag on sys.path first)

WORD = "espresso"  # in every document: a search for it returns every document of the version searched


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server in a subprocess; the AWS variables point s3fs at it. Yields the environment to use."""
    port = _free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
           "LATTE_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        import s3fs

        s3fs.S3FileSystem().mkdir("latte")
        yield env
    finally:
        proc.terminate()
        proc.wait(10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"_id": f"doc{i}", "title": f"Title {i}", "text": f"{WORD} " + make_doc(i, n_words=40)}
            for i in range(start, start + n)]


def test_ingest_publishes_versions_that_mirrors_pull_whole(tmp_path, s3):
    from rag.ingest import IngestSettings
    from rag.service import ingest_paths

    url = "s3://latte/roundtrip"
    local = ingest_paths([write_jsonl(tmp_path / "a.jsonl", rows(50))], tmp_path / "local",
                         settings=IngestSettings(batch_docs=20), profile="bm25")
    remote = ingest_paths([write_jsonl(tmp_path / "a.jsonl", rows(50))], url,
                          settings=IngestSettings(batch_docs=20), profile="bm25")
    assert remote.version == local.version and remote.indexed == 50
    r = RemoteIndex(url)
    assert r.pull(tmp_path / "mirror") == remote.version
    a, b = Snapshot.open(tmp_path / "local"), Snapshot.open(tmp_path / "mirror")
    assert a["bm25"].score_all(f"{WORD} tumor").tolist() == b["bm25"].score_all(f"{WORD} tumor").tolist()
    assert [b["docs"].document(n).id for n in range(50)] == [f"doc{i}" for i in range(50)]

    # a second run replaces one document and adds ten: the mirror follows, downloading only new files
    before = set(os.listdir(tmp_path / "mirror" / "docs"))
    changed = rows(10, 100) + [{"_id": "doc3", "title": "New", "text": f"{WORD} changed"}]
    second = ingest_paths([write_jsonl(tmp_path / "b.jsonl", changed)], url)
    assert r.pull(tmp_path / "mirror") == second.version > remote.version
    snap = Snapshot.open(tmp_path / "mirror")
    assert snap.manifest.counts["documents"] == 60 and len(snap["docs"].id_map) == 60
    assert before & set(os.listdir(tmp_path / "mirror" / "docs"))  # unchanged segments were kept, not fetched again
    # only the committed and the previous versions' files remain on the server
    previous = Manifest.from_dict(json.loads(r.fs.cat_file(f"{r.root}/manifest.previous.json")))
    kept = {(kind, name) for m in (r.read_manifest(), previous)
            for kind, name in manifest_files(m)}
    on_server = {tuple(p[len(r.root) + 1:].split("/")[:2]) for p in r.fs.find(r.root)
                 if p.split("/")[len(r.root.split("/"))] in ("docs", "bm25", "bm25_passages", "dedupe")}
    assert on_server == kept


def test_writers_are_serialised_and_a_lost_version_race_is_refused(tmp_path, s3):
    from rag.service import ingest_paths

    url = "s3://latte/locked"
    r = RemoteIndex(url)
    with r.lock(), pytest.raises(IndexLocked, match="LOCK held by .* delete s3://latte/locked/LOCK"):
        ingest_paths([write_jsonl(tmp_path / "a.jsonl", rows(3))], url, profile="bm25")
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", rows(3))], url, profile="bm25")  # the lock was released
    # a writer whose version was claimed by another one meanwhile fails instead of overwriting it
    version = r.read_manifest().version
    r.fs.pipe_file(f"{r.root}/versions/manifest-v{version + 1:06d}.json", b"{}")
    with pytest.raises(IndexLocked, match=f"already committed version {version + 1}"):
        ingest_paths([write_jsonl(tmp_path / "b.jsonl", rows(3, 10))], url)
    assert r.read_manifest().version == version  # readers still see the last whole version


def _serve(port: int, url: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--index", url, "--port", str(port), "--log-level", "warning"],
        env={**env, "LATTE_SYNC_INTERVAL": "0.2", "LATTE_ALLOW_OPEN_WRITES": "true"}, cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT,
    )


def test_two_replicas_see_only_whole_versions_while_a_third_process_ingests(tmp_path, s3):
    url = "s3://latte/replicated"
    cli = [sys.executable, "-m", "rag.cli", "ingest", "--index", url]
    first = write_jsonl(tmp_path / "a.jsonl", rows(20))
    subprocess.run(cli + [str(first), "--profile", "bm25", "--batch-docs", "10", "--json"], env=s3, cwd=ROOT,
                   check=True, capture_output=True)
    ports = [_free_port(), _free_port()]
    servers = [_serve(p, url, s3, tmp_path / f"serve{p}.log") for p in ports]
    seen: list[tuple[int, int, int]] = []  # (replica, version, hits)
    errors: list[str] = []
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 120
        for p in ports:
            while not _ready(p):
                assert time.monotonic() < deadline, (tmp_path / f"serve{p}.log").read_text()
                time.sleep(0.2)

        def hammer(i: int, port: int) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                while not stop.is_set():
                    r = c.post("/v1/search", json={"query": WORD, "k": 100, "mode": "bm25"})
                    if r.status_code != 200:
                        errors.append(f"{port}: {r.status_code} {r.text[:200]}")
                        continue
                    body = r.json()
                    seen.append((i, body["version"], len(body["hits"])))

        threads = [threading.Thread(target=hammer, args=(i, p), daemon=True) for i, p in enumerate(ports)]
        for t in threads:
            t.start()
        more = write_jsonl(tmp_path / "b.jsonl", rows(60, 100))  # 6 commits of 10
        out = subprocess.run(cli + [str(more), "--batch-docs", "10", "--json"], env=s3, cwd=ROOT, capture_output=True,
                             text=True, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        final = RemoteIndex(url).read_manifest()
        deadline = time.monotonic() + 60
        while not all(any(i == k and v == final.version for k, v, _ in seen) for i in range(2)):
            assert time.monotonic() < deadline, f"replicas did not reach version {final.version}: {seen[-5:]}"
            time.sleep(0.2)
        # writes to a replica are refused with what to do instead
        w = httpx.post(f"http://127.0.0.1:{ports[0]}/v1/documents",
                       json={"documents": [{"id": "x", "text": "some words here"}]}, timeout=10)
        assert w.status_code == 409 and "read replica" in w.text and "latte ingest" in w.text
    finally:
        stop.set()
        for s in servers:
            s.terminate()
        for s in servers:
            s.wait(30)
    assert not errors, errors[:5]
    whole = {20 + 10 * k for k in range(7)}  # documents of each committed version
    assert {h for _, _, h in seen} <= whole, sorted({h for _, _, h in seen} - whole)
    by_version: dict[int, set[int]] = {}
    for _, v, h in seen:
        by_version.setdefault(v, set()).add(h)
    assert all(len(h) == 1 for h in by_version.values()), by_version  # one version, one document count
    print("versions seen (version: documents):", {v: sorted(h) for v, h in sorted(by_version.items())}, len(seen), "searches")
    assert len(by_version) >= 2 and max(by_version) == final.version
    assert by_version[final.version] == {80}
    for i in range(2):  # each replica only moved forward
        versions = [v for k, v, _ in seen if k == i]
        assert versions == sorted(versions)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
