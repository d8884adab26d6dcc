"""The index-component contract: what the writer hands a component (a :class:`Batch` of :class:`StoredDoc`) and
what every component kind does (:class:`Component`).

A component kind is one class satisfying :class:`Component` plus one ``register_component`` line in
``indexers/folder.py`` (the table of kinds). The writer adds each batch to every component with ``add_batch``,
deletes with ``delete``, saves each at commit (``save`` returns the small JSON-able state the manifest records);
``Snapshot.open`` loads each with ``load``; garbage collection keeps the files ``files_of(state)`` names. A kind that
retrieves also has ``search(query, n, ...) -> Ranking`` (``indexers.ranking``), and ``search_passages(...) ->
PassageHits`` where it ranks passages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from core.records import Document, Passage


@dataclass
class StoredDoc:
    """What the writer hands the store for one kept document."""

    doc: Document
    content_hash: bytes
    exact_key: bytes
    signature: np.ndarray  # MinHash, [num_perm]
    passages: list[Passage]
    raw_counts: dict[str, int] | None = None  # BM25 raw token counts of the lexical text, when a worker made them
    lang: str | None = None  # the language BM25 analyzes it in (metadata or --lang); None: the analyzer detects it


@dataclass
class Batch:
    """One batch of kept documents, with docnos ``start .. start + len(items) - 1`` and passage payloads.

    ``encoded`` maps a representation to per-passage data in passage order (documents in order, their passages in
    order): ``dense`` float32 [P, d], ``sparse`` CSR [P, V], ``multivector`` list of P float32 arrays [t, d].
    ``num_perm`` is the length of the documents' MinHash signatures (what the document store keeps for an empty
    batch's signature array).

    >>> b = Batch(5, [])
    >>> b.docnos.tolist(), b.passage_docnos.tolist(), b.num_perm
    ([], [], 128)
    """

    start: int
    items: list[StoredDoc]
    encoded: dict[str, Any] = field(default_factory=dict)
    num_perm: int = 128

    @property
    def docnos(self) -> np.ndarray:
        return np.arange(self.start, self.start + len(self.items), dtype=np.int64)

    @property
    def passage_docnos(self) -> np.ndarray:
        return np.repeat(self.docnos, [len(it.passages) for it in self.items]).astype(np.int64)

    def passage_texts(self) -> list[str]:
        return [p.text for it in self.items for p in it.passages]


@runtime_checkable
class Component(Protocol):
    """One index component kind (``docs``, ``bm25``, ``bm25_passages``, ``dense``, ``sparse``, ``tensors``...).

    ``kind`` is its folder's name under the index and its key in the manifest's ``components``. ``add_batch`` takes
    every batch the writer adds (documents ``batch.docnos``, their passages, the encoders' outputs), ``delete``
    drops documents by docno; both become visible at the next ``save(folder, tag)``, which writes new files only
    (``tag`` names this version's files) and returns the state the manifest records. ``load(folder, state, mmap)``
    opens that state again; ``files_of(state)`` names every file or folder (relative to the component's folder) the
    state uses, so everything else there is garbage.
    """

    kind: ClassVar[str]

    def add_batch(self, batch: Batch) -> None: ...

    def delete(self, docnos: np.ndarray) -> None: ...

    def save(self, folder: Path, tag: str) -> dict: ...

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> Component: ...

    @staticmethod
    def files_of(state: dict) -> set[str]: ...
