"""The index-component contract (``indexers.component.Component``) and its table (``indexers.folder``): every
registered kind satisfies it, and a new component is one class plus one ``register_component`` line: created from
the table, filled by the writer through ``add_batch``, saved at commit, reopened by ``Snapshot.open`` and its old
files garbage-collected, with nothing else changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from core.records import Document, Passage
from indexers import folder as folder_mod
from indexers.component import Batch, Component, StoredDoc
from indexers.folder import Snapshot, component_class, create_component, register_component, registered_kinds
from indexers.ranking import Ranking
from indexers.writer import IndexWriter

PARAMS = {"dense": {"dim": 8}, "sparse": {"vocab_size": 16}, "tensors": {"dim": 8}}


def test_every_registered_kind_satisfies_the_contract():
    assert registered_kinds() == ["docs", "bm25", "bm25_passages", "dense", "sparse", "tensors"]
    for kind in registered_kinds():
        cls = component_class(kind)
        assert cls.kind == kind
        comp = create_component(kind, **PARAMS.get(kind, {}))
        assert isinstance(comp, Component) and type(comp) is cls
        for name in ("add_batch", "delete", "save", "load", "files_of"):
            assert callable(getattr(cls, name)), (kind, name)


def test_an_unknown_kind_is_refused():
    with pytest.raises(folder_mod.IndexFormatError, match="unknown index component 'nope'"):
        create_component("nope")


class Lengths:
    """A toy component: each live document's text length, one JSON file per version; searches by length."""

    kind: ClassVar[str] = "lengths"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.lengths: dict[int, int] = {}

    def add_batch(self, batch: Batch) -> None:
        for docno, item in zip(batch.docnos.tolist(), batch.items):
            self.lengths[docno] = len(item.doc.text)

    def delete(self, docnos: np.ndarray) -> None:
        for d in np.asarray(docnos).tolist():
            self.lengths.pop(int(d), None)

    def save(self, folder: Path, tag: str) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"lengths-{tag}.json"
        (folder / name).write_text(json.dumps({str(k): v for k, v in self.lengths.items()}))
        return {"file": name, "scale": self.scale}

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> Lengths:
        comp = cls(state["scale"])
        comp.lengths = {int(k): v for k, v in json.loads((folder / state["file"]).read_text()).items()}
        return comp

    @staticmethod
    def files_of(state: dict) -> set[str]:
        return {state["file"]}

    def search(self, query: str, n: int) -> Ranking:
        ranked = sorted(self.lengths.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return Ranking(
            np.array([d for d, _ in ranked], np.int64), np.array([self.scale * v for _, v in ranked], np.float32)
        )


_check: type[Component] = Lengths  # mypy checks the toy against the protocol too (the tests are not in mypy's files)


@pytest.fixture()
def lengths_kind(monkeypatch):
    monkeypatch.setattr(folder_mod, "_LOADERS", dict(folder_mod._LOADERS))
    register_component("lengths", lambda: Lengths)  # the one table entry
    return "lengths"


def _items(texts: list[str]) -> list[StoredDoc]:
    return [
        StoredDoc(Document(f"d{i}-{len(t)}", t), bytes(16), bytes(16), np.zeros(4, np.uint32), [Passage("", 0, 0, len(t), t)])
        for i, t in enumerate(texts)
    ]


def test_a_new_component_is_one_class_and_one_table_entry(tmp_path, lengths_kind):
    path = tmp_path / "idx"
    comps = {"docs": create_component("docs"), "lengths": create_component("lengths", scale=2.0)}
    with IndexWriter(path, components=comps, auto_merge=False) as w:
        w.add(_items(["aaaa", "bb", "cccccc"]), num_perm=4)  # docnos 0, 1, 2
        assert w.commit() == 1
        w.add(_items(["ddddddddd"]), num_perm=4)  # docno 3
        w.delete_docnos([2])
        assert w.commit() == 2
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["components"]["lengths"] == {"file": "lengths-v000002.json", "scale": 2.0}

    snap = Snapshot.open(path)
    assert isinstance(snap["lengths"], Lengths)
    assert snap["lengths"].lengths == {0: 4, 1: 2, 3: 9}
    hits = snap["lengths"].search("", 2)
    assert hits.docnos.tolist() == [3, 0] and hits.scores.tolist() == [18.0, 8.0]

    # the writer reopens it through the table; a third commit: v1's file is garbage, v2 stays for `previous`
    (path / "lengths" / "left-by-a-crash.json").write_text("{}")
    with IndexWriter(path) as w:
        assert not (path / "lengths" / "left-by-a-crash.json").exists()  # collected when the writer opens
        assert w.components["lengths"].lengths == {0: 4, 1: 2, 3: 9}
        w.add(_items(["e"]), num_perm=4)  # docno 4
        assert w.commit() == 3
    assert sorted(p.name for p in (path / "lengths").iterdir()) == ["lengths-v000002.json", "lengths-v000003.json"]
    assert Snapshot.open(path)["lengths"].lengths == {0: 4, 1: 2, 3: 9, 4: 1}


def test_an_index_written_without_the_kind_opens(tmp_path, lengths_kind):
    path = tmp_path / "idx"
    with IndexWriter(path, components={"docs": create_component("docs")}) as w:
        w.add(_items(["aaaa"]), num_perm=4)
        w.commit()
    snap = Snapshot.open(path)
    assert snap.get("lengths") is None and snap["docs"].ids_by_docno() == ["d0-4"]


def test_every_index_search_returns_the_typed_records(tmp_path):
    """One record per search shape: ``search`` -> Ranking (int64 docnos, float32 scores, best passages where the
    index knows them), ``search_passages`` -> PassageHits; empty answers are the same records."""
    import scipy.sparse as sp

    from indexers.analyzer import Analyzer
    from indexers.ranking import PassageHits

    rng = np.random.default_rng(0)
    texts = ["red apple pie", "green apple tart", "blue sky"]
    items = [
        StoredDoc(Document(f"d{i}", t), bytes(16), bytes(16), np.zeros(4, np.uint32),
                  [Passage(f"d{i}", 0, 0, len(t), t), Passage(f"d{i}", 1, 0, len(t), t)])
        for i, t in enumerate(texts)
    ]
    dense = rng.normal(size=(6, 8)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    encoded = {
        "dense": dense,
        "sparse": sp.csr_matrix(rng.random((6, 16)) * (rng.random((6, 16)) < 0.3), dtype=np.float32),
        "multivector": [rng.normal(size=(3, 8)).astype(np.float32) for _ in range(6)],
    }
    comps = {
        "docs": create_component("docs"),
        "bm25": create_component("bm25", analyzer=Analyzer()),
        "bm25_passages": create_component("bm25_passages"),
        **{kind: create_component(kind, **PARAMS[kind]) for kind in ("dense", "sparse", "tensors")},
    }
    with IndexWriter(tmp_path / "idx", components=comps) as w:
        w.add(items, encoded, num_perm=4)
        w.commit()
    snap = Snapshot.open(tmp_path / "idx")
    queries = {"bm25": "apple", "dense": dense[0], "sparse": {1: 1.0, 2: 0.5, 3: 0.25}, "tensors": dense[:2]}
    for kind, q in queries.items():
        hits = snap[kind].search(q, 2)
        assert isinstance(hits, Ranking), kind
        assert hits.docnos.dtype == np.int64 and hits.scores.dtype == np.float32 and len(hits.docnos) == 2, kind
        assert (hits.passages is None) == (kind == "bm25"), kind  # passage indexes know each document's best
        if kind != "bm25":
            passages = snap[kind].search_passages(q, 3)
            assert isinstance(passages, PassageHits) and len(passages.docnos) == len(passages.ordinals) == 3, kind
    assert isinstance(snap["bm25_passages"].search_passages("apple", 3), PassageHits)
    empty = snap["bm25"].search("nothing matches", 5)
    assert isinstance(empty, Ranking) and empty.docnos.tolist() == [] and empty.docnos.dtype == np.int64
    empty_passages = snap["sparse"].search_passages({15: 0.0}, 5)
    assert isinstance(empty_passages, PassageHits) and empty_passages.docnos.tolist() == []
