"""`latte ingest --ray` on a real local Ray cluster (a head and a worker node on 127.0.0.1, one CPU each) builds
the index a single process builds: same decisions, ids, stored passages, BM25 scores, vectors and tensors."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'latte[ray]')")

from indexers.folder import Snapshot
from rag.ingest import IngestSettings, ingest
from rag.service import ingest_paths

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "encoders"))
from test_ingest import corpus_rows, make_doc, write_jsonl


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A head node and one worker node, separate raylets on 127.0.0.1 (ray.cluster_utils starts them as
    subprocesses and stops only them)."""
    import os

    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def _stored(idx: Path) -> dict:
    docs = Snapshot.open(idx)["docs"]
    return {docs.document(n).id: (docs.document(n).text, docs.document(n).title,
                                  [(p.start, p.end) for p in docs.passages(n)])
            for n in range(docs.next_docno) if docs.is_live(n)}


def _decisions(summary) -> dict:
    return {k: v for k, v in summary.to_dict().items()
            if k not in ("seconds", "docs_per_second", "report", "commits", "version")}


def test_ray_ingest_equals_single_process_bm25(tmp_path, ray_cluster):
    """2,000 documents with exact and near duplicates, a repeated id and a blank one, then a second run that
    replaces one document: the Ray cluster's index equals one process's, through the CLI's service function."""
    import ray

    base = make_doc(1, n_words=400)
    near = base.split()
    near[10] = "zebra"
    rows = corpus_rows(1000) + [
        {"_id": "orig", "title": "", "text": base},
        {"_id": "blank", "title": "", "text": "   "},
        {"_id": "exact", "title": "", "text": base.upper()},
        {"_id": "doc3", "title": "again", "text": "a repeated id"},
        {"_id": "near", "title": "", "text": " ".join(near)},
    ] + corpus_rows(1000, 5000)
    first = write_jsonl(tmp_path / "a.jsonl", rows)
    folder = tmp_path / "more"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", [{"_id": "doc5", "title": "New", "text": make_doc(555)}])
    (folder / "c.txt").write_text(make_doc(777), encoding="utf-8")
    settings = IngestSettings(batch_docs=400, passage_size=40, passage_overlap=8)
    out = {}
    for mode in ("single", "ray"):
        idx = tmp_path / mode
        kw = {"ray_address": ray_cluster.address} if mode == "ray" else {}
        s1 = ingest_paths([first], idx, settings=settings, profile="bm25", **kw)
        s2 = ingest_paths([folder], idx, **kw)
        assert not ray.is_initialized()  # the driver disconnected after its run
        snap = Snapshot.open(idx)
        out[mode] = (_decisions(s1), _decisions(s2), _stored(idx),
                     snap["bm25"].score_all("tumor immune kinase therapy title").tolist(),
                     [a.tolist() for a in snap["bm25_passages"].search_passages("tumor immune kinase", 50)],
                     snap.manifest.counts)
    assert out["single"][0]["exact_duplicates"] == 1 and out["single"][0]["near_duplicates"] == 1
    assert out["single"][0]["dropped"]["duplicate_id"] == 1 and out["single"][1]["replaced"] == 1
    assert out["single"][0]["indexed"] == 2001
    assert out["ray"] == out["single"]


def test_ray_ingest_equals_single_process_vectors_and_tensors(tmp_path, ray_cluster):
    """Dense vectors and MaxSim token tensors encoded by the actor pool (2 actors) are the ones one process
    encodes (a tiny random sentence-transformers model for both)."""
    from tiny_models import build_tiny_sentence_transformer

    model = build_tiny_sentence_transformer(tmp_path / "tiny-st")
    overrides = {"dense": str(model), "multivector": str(model)}
    corpus = write_jsonl(tmp_path / "c.jsonl", corpus_rows(120))
    settings = IngestSettings(batch_docs=50, passage_size=40, passage_overlap=8, encode_passages=16)
    snaps = {}
    for mode in ("single", "ray"):
        kw = {"ray_address": ray_cluster.address, "ray_actors": 2} if mode == "ray" else {}
        ingest_paths([corpus], tmp_path / mode, settings=settings, profile="default", device="cpu",
                     model_overrides=overrides, **kw)
        snaps[mode] = Snapshot.open(tmp_path / mode)
    a, b = snaps["single"], snaps["ray"]
    assert _stored(tmp_path / "single") == _stored(tmp_path / "ray")
    assert a.manifest.models == b.manifest.models
    for kind, names in (("dense", ("vectors",)), ("tensors", ("codes", "token_offsets"))):
        for name in names:
            x, y = ([np.asarray(s.arrays[name]) for s in snap[kind].segments] for snap in (a, b))
            np.testing.assert_array_equal(np.concatenate(x), np.concatenate(y))


def test_ray_ingest_refuses_a_missing_path_before_starting_ray(tmp_path):
    import ray

    from rag.distributed import ingest_ray

    with pytest.raises(FileNotFoundError, match="no such file"):
        ingest_ray([tmp_path / "missing.jsonl"], tmp_path / "idx", address="local")
    assert not ray.is_initialized()


def test_single_process_ingest_is_unchanged_by_the_ray_path(tmp_path):
    """The local path never imports Ray."""
    import subprocess

    corpus = write_jsonl(tmp_path / "c.jsonl", corpus_rows(5))
    code = ("import sys; from rag.ingest import ingest; ingest([sys.argv[1]], sys.argv[2]); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code, str(corpus), str(tmp_path / "idx")], check=True,
                   cwd=Path(__file__).resolve().parents[2])


def test_a_task_whose_worker_dies_is_retried(tmp_path, ray_cluster):
    import ray

    from rag.distributed import RayExecutor

    def die_once(marker: str) -> int:  # nested: shipped by value (the test module is not importable on workers)
        """Kills its worker process the first time it runs (a lost node or an OOM kill), returns 7 after."""
        import os

        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return 7

    ray.init(address=ray_cluster.address)
    try:
        future = RayExecutor(ray, 2).submit(die_once, str(tmp_path / "died"))
        assert future.result(timeout=120) == 7 and (tmp_path / "died").exists()
    finally:
        ray.shutdown()


def test_a_killed_driver_leaves_the_last_commit_and_a_rerun_resumes(tmp_path, ray_cluster):
    """kill -9 of the driver after its first commits: the index opens at a committed version, and the same
    command run again ends with the index one uninterrupted run builds."""
    import os
    import signal
    import subprocess

    corpus = write_jsonl(tmp_path / "c.jsonl", corpus_rows(800))
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index", str(tmp_path / "idx"), "--profile",
           "bm25", "--batch-docs", "50", "--ray", ray_cluster.address, "--json"]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "idx" / "manifest.json"
    import time

    deadline = time.monotonic() + 120
    while not manifest.exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no commit within 2 minutes"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    snap = Snapshot.open(tmp_path / "idx")  # a whole committed version
    assert len(snap["docs"].id_map) == snap.manifest.counts["documents"] <= 800
    subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    ingest([corpus], tmp_path / "ref", settings=IngestSettings(batch_docs=50), profile="bm25")
    assert _stored(tmp_path / "idx") == _stored(tmp_path / "ref")
