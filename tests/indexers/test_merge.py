"""Segment merging: plans, identical results after merging every component, kill -9 mid-merge, and readers that
search while a writer merges."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from indexers.analyzer import Analyzer
from indexers.bm25 import BM25Index
from indexers.dense import DenseIndex
from indexers.docstore import DocStore, StoredDoc
from indexers.folder import Snapshot
from indexers.merge import MergePolicy, plan_tiered, plan_to_count
from indexers.sparse import SparseIndex
from indexers.tensors import TensorIndex
from indexers.writer import IndexWriter
from rag.records import Document, Passage

ROOT = Path(__file__).resolve().parents[2]
WORDS = [f"w{i}" for i in range(300)]
DIM, VOCAB, TDIM = 16, 50, 16


def _items(rng, start, n):
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p /= p.sum()
    items = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(5, 60)), p=p))
        doc = Document(f"d{start + i}", text, metadata={"n": start + i})
        cut = len(text) // 2
        ps = [Passage(doc.id, 0, 0, cut, text[:cut]), Passage(doc.id, 1, cut, len(text), text[cut:])]
        items.append(StoredDoc(doc, bytes(16), bytes(16), np.zeros(8, np.uint32), ps))
    return items


def _encoded(rng, n_passages):
    dense = rng.normal(size=(n_passages, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse = sp.random(n_passages, VOCAB, density=0.2, random_state=int(rng.integers(1 << 30)), format="csr",
                       dtype=np.float32)
    multi = [rng.normal(size=(int(rng.integers(1, 6)), TDIM)).astype(np.float32) for _ in range(n_passages)]
    return {"dense": dense, "sparse": sparse, "multivector": multi}


def _build(path, n_batches=12, per_batch=25, seed=0):
    rng = np.random.default_rng(seed)
    comps = {"docs": DocStore(), "bm25": BM25Index(analyzer=Analyzer(stemmer=None, stopwords=None)),
             "dense": DenseIndex(DIM, index_type="flat"), "sparse": SparseIndex(VOCAB),
             "tensors": TensorIndex(TDIM, store_float16=True)}
    with IndexWriter(path, components=comps, auto_merge=False) as w:
        for b in range(n_batches):
            items = _items(rng, b * per_batch, per_batch)
            w.add(items, _encoded(rng, 2 * per_batch), num_perm=8)
            w.commit()
        w.delete_ids([f"d{i}" for i in (3, 30, 31, 77, 150, 299)])
        w.commit()
    return rng


def _results(path, rng_seed=5):
    """Every component's answers for a fixed set of queries, as plain lists."""
    snap = Snapshot.open(path)
    rng = np.random.default_rng(rng_seed)
    out = {"docs": len(snap["docs"]), "passages": snap["docs"].n_passages,
           "rows": [snap["docs"].row(d)["id"] for d in (0, 1, 100, 200)]}
    for qi in range(8):
        q = " ".join(rng.choice(WORDS[:100], size=3))
        hits = snap["bm25"].search(q, 10)
        d, s = hits.docnos, hits.scores
        out[f"bm25 {qi}"] = (d.tolist(), np.round(s, 5).tolist())
        v = rng.normal(size=DIM).astype(np.float32)
        hits = snap["dense"].search(v / np.linalg.norm(v), 10)
        d, s, best = hits.docnos, hits.scores, hits.passages
        out[f"dense {qi}"] = (d.tolist(), np.round(s, 4).tolist(), best)
        hits = snap["sparse"].search({int(t): 1.0 for t in rng.choice(VOCAB, 4)}, 10)
        d, s, best = hits.docnos, hits.scores, hits.passages
        out[f"sparse {qi}"] = (d.tolist(), np.round(s, 4).tolist(), best)
        qt = rng.normal(size=(4, TDIM)).astype(np.float32)
        for quant in ("binary", "float16"):
            hits = snap["tensors"].search(qt, 10, quantization=quant, backend="reference")
            d, s, best = hits.docnos, hits.scores, hits.passages
            out[f"tensors {quant} {qi}"] = (d.tolist(), np.round(s, 3).tolist(), best)
    return out, {k: len(c.segments) for k, c in snap.components.items()}


def test_plans():
    policy = MergePolicy(merge_factor=4, floor_docs=10)
    assert plan_tiered([10] * 9, policy) == [(0, 4), (4, 8)]
    assert plan_tiered([400, 40, 40, 40, 40, 5], policy) == [(1, 5)]  # tiers: 400 -> 2, 40 -> 1, 5 -> 0
    assert plan_tiered([10, 10, 10], policy) == []
    assert plan_to_count([1] * 5, 1) == [(0, 5)]
    assert plan_to_count([1, 2, 3], 3) == []
    with pytest.raises(ValueError):
        MergePolicy(merge_factor=1)


def test_merged_index_answers_exactly_as_the_unmerged_one(tmp_path):
    _build(tmp_path / "idx")
    before, seg_before = _results(tmp_path / "idx")
    assert all(n == 12 for n in seg_before.values())
    with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
        v = w.merge(max_segments=3)
    assert v > 0
    after, seg_after = _results(tmp_path / "idx")
    assert all(n <= 3 for n in seg_after.values()), seg_after
    assert after == before
    # deleted documents' postings, passages and texts are gone from the merged segments
    snap = Snapshot.open(tmp_path / "idx")
    assert snap["docs"].row(3)["text"] == "" and not snap["docs"].is_live(3)
    assert 3 not in np.asarray(snap["dense"].segments[0].docnos).tolist()
    assert all("postings" in s for s in snap.manifest.components["bm25"]["segments"])
    # everything merges into one segment and still answers the same; a second writer opens it normally
    with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
        w.merge(max_segments=1)
    final, seg_final = _results(tmp_path / "idx")
    assert set(seg_final.values()) == {1} and final == before


def test_tiered_policy_runs_after_commits(tmp_path):
    rng = np.random.default_rng(1)
    with IndexWriter(tmp_path / "idx", components={"docs": DocStore(), "bm25": BM25Index()}) as w:
        for b in range(25):
            w.add(_items(rng, b * 5, 5), num_perm=8)
            w.commit()
        n = {k: len(c.segments) for k, c in w.components.items()}
    assert n["bm25"] < 10 and n["docs"] < 10  # 10 tiny segments merge into one, twice
    assert len(Snapshot.open(tmp_path / "idx")["docs"]) == 125


def test_dense_segment_merged_past_the_threshold_gets_hnsw(tmp_path):
    rng = np.random.default_rng(2)
    comps = {"docs": DocStore(), "dense": DenseIndex(DIM, hnsw_min=100)}
    with IndexWriter(tmp_path / "idx", components=comps, auto_merge=False) as w:
        for b in range(3):
            items = _items(rng, b * 20, 20)
            w.add(items, {"dense": _encoded(rng, 40)["dense"]}, num_perm=8)
            w.commit()
        segs = w.components["dense"].segments
        # the collection had 40 and 80 passages when the first two segments came: they are exact (flat)
        assert segs[0].name not in w.components["dense"]._hnsw and segs[1].name not in w.components["dense"]._hnsw
        w.merge(max_segments=1)
    dense = Snapshot.open(tmp_path / "idx")["dense"]
    (seg,) = dense.segments
    assert dense._hnsw == {seg.name} and (tmp_path / "idx" / "dense" / seg.name / "hnsw.faiss").exists()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import indexers.folder as folder
    from indexers.writer import IndexWriter

    real_commit = folder.IndexFolder.commit

    def slow_commit(self, manifest, previous):
        Path(sys.argv[2]).write_text("merged files written")  # every merged segment is on disk, not yet named
        time.sleep(60)
        real_commit(self, manifest, previous)

    folder.IndexFolder.commit = slow_commit
    with IndexWriter(sys.argv[1], auto_merge=False) as w:
        w.merge(max_segments=1)
    """
)


def test_kill_9_mid_merge_loses_nothing(tmp_path):
    _build(tmp_path / "idx")
    before, segs = _results(tmp_path / "idx")
    version = Snapshot.open(tmp_path / "idx").version
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "idx"), str(marker)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert p.poll() is None, "the merging child died before it wrote its segments"
            assert time.monotonic() < deadline, "the merging child never reached the commit"
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    assert p.returncode == -signal.SIGKILL
    # the last committed version is intact: same version, same segments, same answers, same counts
    snap = Snapshot.open(tmp_path / "idx")
    assert snap.version == version
    after, segs_after = _results(tmp_path / "idx")
    assert after == before and segs_after == segs
    # the next writer removes the orphaned merged folders and merges cleanly
    orphans = {p.name for p in (tmp_path / "idx" / "bm25").iterdir()} - set(
        snap.manifest.components["bm25"]["segments"][i]["name"] for i in range(12)
    )
    assert any(o.startswith("seg-") for o in orphans)
    with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
        assert not any((tmp_path / "idx" / "bm25" / o).exists() for o in orphans if o.startswith("seg-"))
        w.merge(max_segments=1)
    final, segs_final = _results(tmp_path / "idx")
    assert final == before and set(segs_final.values()) == {1}


def test_searches_during_merges_see_whole_versions(tmp_path):
    _build(tmp_path / "idx", n_batches=16, per_batch=15)
    reference, _ = _results(tmp_path / "idx")
    errors: list[BaseException] = []

    def merge_down():
        try:
            for m in (12, 8, 5, 3, 2, 1):
                with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
                    w.merge(max_segments=m)
        except BaseException as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=merge_down)
    t.start()
    seen = set()
    checks = 0
    while t.is_alive() or checks == 0:
        got, segs = _results(tmp_path / "idx")
        assert got == reference, f"a reader saw a different answer with segments {segs}"
        seen.add(tuple(sorted(segs.items())))
        checks += 1
    t.join()
    assert not errors, errors
    got, segs = _results(tmp_path / "idx")
    assert got == reference and set(segs.values()) == {1}


def test_optimize_rewrites_old_uncompressed_bm25_segments(tmp_path):
    import json

    from indexers.postings import PostingBlocks

    def _write_legacy_layout(folder, state):  # uncompressed term_ids/indptr/rows/tf, as before issue 15
        for entry in state["segments"]:
            seg = folder / entry["name"]
            pb = PostingBlocks.load(seg, mmap=False)
            indptr, rows, tf = pb.decode_all()
            for name in PostingBlocks.names():
                os.remove(seg / f"{name}.npy")
            for name, arr in (("term_ids", np.asarray(pb.term_ids, np.int64)), ("indptr", indptr), ("rows", rows),
                              ("tf", tf)):
                np.save(seg / f"{name}.npy", arr)
            del entry["postings"]

    rng = np.random.default_rng(3)
    with IndexWriter(tmp_path / "idx", components={"docs": DocStore(), "bm25": BM25Index()}, auto_merge=False) as w:
        for b in range(2):
            w.add(_items(rng, b * 30, 30), num_perm=8)
            w.commit()
    manifest_path = tmp_path / "idx" / "manifest.json"
    m = json.loads(manifest_path.read_text())
    _write_legacy_layout(tmp_path / "idx" / "bm25", m["components"]["bm25"])  # as the main branch wrote them
    manifest_path.write_text(json.dumps(m))
    snap = Snapshot.open(tmp_path / "idx")
    assert all(s.legacy for s in snap["bm25"].segments)
    queries = [" ".join(rng.choice(WORDS[:80], size=3)) for _ in range(10)]
    before = [snap["bm25"].search(q, 10).docnos.tolist() for q in queries]
    with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
        w.merge(max_segments=10)  # nothing to merge, but the old layout is rewritten
    snap = Snapshot.open(tmp_path / "idx")
    assert len(snap["bm25"].segments) == 2 and not any(s.legacy for s in snap["bm25"].segments)
    assert [snap["bm25"].search(q, 10).docnos.tolist() for q in queries] == before
