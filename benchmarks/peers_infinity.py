"""The Infinity side of ``benchmarks/bench_peers.py``: run by the Python of an environment where
``infinity-embedded-sdk`` is installed (it pins numpy, pyarrow, pydantic and pytest to versions latte does not use,
so it lives in its own virtual environment; see bench_peers.py).

Reads what bench_peers.py exported into ``WORK`` (one row per passage: docno, text, the dense vector and the sign
bits of the token vectors that latte's index holds; per query: the text, the dense vector, the token vectors),
builds an embedded Infinity table with a full-text index on the text, then times each pipeline one query at a time
after one warm-up pass, and writes ``WORK/infinity.json``: per pipeline, the latencies and each query's ranked
docnos (passage rows collapse to their document at its best rank).

Usage (from bench_peers.py): INFINITY_PYTHON benchmarks/peers_infinity.py WORK --depth 100 --rerank-depth 100
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def _fts(text: str) -> str:
    """A query string Infinity's full-text parser takes: words only (its syntax gives meaning to :, ", (, -, ...)."""
    return " ".join(_NON_WORD.sub(" ", text).split())


def build(work: Path, db_dir: Path):
    import infinity_embedded as infinity
    from infinity_embedded.common import ConflictType
    from infinity_embedded.index import IndexInfo, IndexType

    meta = json.loads((work / "passages.json").read_text())
    vecs = np.load(work / "passage_vectors.npy")
    bits = np.load(work / "token_bits.npy", mmap_mode="r")  # uint8 [tokens, dim/8], packed sign bits
    offs = np.load(work / "token_offsets.npy")
    dim = vecs.shape[1]
    if db_dir.exists():
        shutil.rmtree(db_dir)
    inf = infinity.connect(str(db_dir))
    db = inf.get_database("default_db")
    table = db.create_table("passages", {
        "docno": {"type": "int"},
        "body": {"type": "varchar"},
        "vec": {"type": f"vector,{dim},float"},
        "tok": {"type": f"tensor,{dim},bit"},
    }, ConflictType.Error)
    t = time.perf_counter()
    batch = []
    for i, (docno, body) in enumerate(zip(meta["docnos"], meta["texts"])):
        toks = np.unpackbits(np.asarray(bits[offs[i]:offs[i + 1]]), axis=1, bitorder="little")[:, :dim].astype(bool)
        batch.append({"docno": int(docno), "body": body, "vec": vecs[i].astype(np.float32), "tok": toks})
        if len(batch) == 500:
            table.insert(batch)
            batch = []
    if batch:
        table.insert(batch)
    table.create_index("body_ft", IndexInfo("body", IndexType.FullText), ConflictType.Error)
    return inf, table, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--rerank-depth", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()
    inf, table, build_s = build(a.work, a.work / "infinity-db")
    q = json.loads((a.work / "queries.json").read_text())
    qvec = np.load(a.work / "query_vectors.npy")
    qtok = np.load(a.work / "query_tokens.npy")
    qoff = np.load(a.work / "query_token_offsets.npy")
    texts = [_fts(t) for t in q["texts"]]
    tokens = [qtok[qoff[i]:qoff[i + 1]].astype(np.float32).tolist() for i in range(len(texts))]
    vectors = [v.astype(np.float32).tolist() for v in qvec]

    def bm25(i):
        return table.output(["docno", "_score"]).match_text("body", texts[i], a.depth)

    def hybrid(i):
        return (table.output(["docno", "_score"]).match_dense("vec", vectors[i], "float", "ip", a.depth)
                .match_text("body", texts[i], a.depth).fusion(method="rrf", topn=a.rerank_depth))

    def hybrid_maxsim(i):
        return hybrid(i).fusion(method="match_tensor", topn=a.rerank_depth,
                                fusion_params={"field": "tok", "element_type": "float", "query_tensor": tokens[i]})

    out = {"build_s": round(build_s, 1), "pipelines": {}}
    for name, make in (("bm25", bm25), ("hybrid", hybrid), ("hybrid+maxsim", hybrid_maxsim)):
        for i in range(min(10, len(texts))):  # warm-up
            make(i).to_pl()
        lat, ranked = [], []
        for i in range(len(texts)):
            t = time.perf_counter()
            df, _ = make(i).to_pl()
            lat.append(time.perf_counter() - t)
            seen, docs = set(), []
            for d in df["docno"].to_list():
                if d not in seen:
                    seen.add(d)
                    docs.append(int(d))
            ranked.append(docs[: a.k])
        out["pipelines"][name] = {"latencies_s": lat, "ranked": ranked}
    (a.work / "infinity.json").write_text(json.dumps(out))
    inf.disconnect()


if __name__ == "__main__":
    main()
