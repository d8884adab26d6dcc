"""PLAID ranker mode through colbert-ai (the optional ``[colbert]`` extra).

``build_plaid`` indexes every live passage of a latte index with a colbert-ai checkpoint into ``index/plaid/``
(beside the versioned components; it records the index version it covers). ``PlaidRetriever`` serves
``--mode plaid``: colbert-ai's PLAID search over passages, reduced to documents by their best passage, with
latte's deletions and metadata filters applied. A PLAID index built before later commits misses the newer
documents; the retriever says so in its ``stale`` flag and ``latte info`` shows it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from indexers.folder import Snapshot
from indexers.passage_index import best_per_document
from rag.ranking import Ranking, SearchOptions

FOLDER = "plaid"


def _need_colbert() -> None:
    try:
        import colbert  # noqa: F401
    except ImportError as e:
        raise ImportError("PLAID needs colbert-ai: pip install 'latte[colbert]'") from e


def build_plaid(index: str | Path, checkpoint: str | Path, *, nbits: int = 2, kmeans_niters: int = 4) -> dict[str, Any]:
    """Index every live passage of ``index`` with colbert-ai PLAID; returns the metadata written."""
    _need_colbert()
    from rag.encoders.colbert_ai_compat import plaid_index

    snap = Snapshot.open(index)
    docs = snap["docs"]
    collection: list[str] = []
    docnos: list[int] = []
    ordinals: list[int] = []
    for docno, _, _ in docs.iter_live():
        for p in docs.passages(docno):
            collection.append(p.text)
            docnos.append(docno)
            ordinals.append(p.ordinal)
    if not collection:
        raise ValueError(f"index {index} has no passages to index with PLAID")
    out = Path(index) / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    plaid_index(str(checkpoint), collection, index_dir=out / "colbert", nbits=nbits, kmeans_niters=kmeans_niters)
    np.save(out / "docnos.npy", np.asarray(docnos, dtype=np.int64))
    np.save(out / "ordinals.npy", np.asarray(ordinals, dtype=np.int32))
    meta = {"version": snap.version, "checkpoint": str(checkpoint), "nbits": nbits, "passages": len(collection)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


class PlaidRetriever:
    name = "plaid"

    def __init__(self, snapshot: Snapshot) -> None:
        _need_colbert()
        from colbert import Searcher
        from colbert.infra import ColBERTConfig, Run

        from rag.encoders.colbert_ai_compat import _run_config, colbert_ai_fixes

        folder = snapshot.path / FOLDER
        self.meta = json.loads((folder / "meta.json").read_text())
        self.stale = int(self.meta["version"]) != snapshot.version
        self.docnos = np.load(folder / "docnos.npy")
        self.ordinals = np.load(folder / "ordinals.npy")
        self.docs = snapshot["docs"]
        ckpt, index_dir = self.meta["checkpoint"], folder / "colbert"
        self._fixes = colbert_ai_fixes
        self._run = lambda: Run().context(_run_config(index_dir, 0))  # a fresh context each time (single-use)
        with colbert_ai_fixes(), self._run():
            self.searcher = Searcher(
                index=index_dir.name, checkpoint=ckpt, index_root=str(folder),
                config=ColBERTConfig(checkpoint=ckpt), verbose=0,
            )

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking:
        with self._fixes(), self._run():
            pids, _, scores = self.searcher.search(query, k=min(max(4 * n, 100), len(self.docnos)))
        pids = np.asarray(pids, dtype=np.int64)
        d = self.docnos[pids]
        keep = np.array([self.docs.is_live(int(x)) for x in d], dtype=bool)
        if allowed is not None:
            keep &= np.array([int(x) < len(allowed) and bool(allowed[int(x)]) for x in d], dtype=bool)
        docnos, s, best = best_per_document(d[keep], self.ordinals[pids][keep], np.asarray(scores, np.float32)[keep], n)
        return Ranking(docnos, s, best)


def plaid_retriever(snapshot: Snapshot, encoders: Mapping[str, Any]) -> PlaidRetriever | None:
    """PLAID where ``latte plaid`` built it for this index and colbert-ai is installed."""
    if not (snapshot.path / FOLDER / "meta.json").is_file():
        return None
    try:
        return PlaidRetriever(snapshot)
    except ImportError:
        return None

