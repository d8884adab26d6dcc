"""Encoding the passages of a batch of documents at ingest: one forward pass per distinct encoder (the ingest
pipeline's ``encode`` callback, in one process or in a Ray encoder actor)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def make_encode(encoders: dict[str, Any], batch_size: int = 32, dpi: int = 96) -> Callable[[list[Any]], dict[str, Any]] | None:
    """One forward pass per distinct encoder over a batch of documents' passages.

    Text encoders see each passage prefixed by its document's title (a passage alone often lacks the subject its
    title names); a page-image encoder (one with ``encode_images``) sees the rendered PDF page of each passage (a
    passage that is not a PDF page gets an empty token matrix: it is reranked by nothing).
    """
    if not encoders:
        return None
    groups: dict[int, tuple[Any, list[str]]] = {}
    for rep, enc in encoders.items():
        groups.setdefault(id(enc), (enc, []))[1].append(rep)

    def encode(items: list[Any]) -> dict[str, Any]:
        texts = [f"{it.doc.title}\n{p.text}" if it.doc.title else p.text for it in items for p in it.passages]
        out: dict[str, Any] = {}
        for enc, reps in groups.values():
            if hasattr(enc, "encode_images"):
                out["multivector"] = encode_pages(enc, items, dpi=dpi)
                continue
            e = enc.encode(texts, kind="document", want=tuple(reps), batch_size=batch_size)
            for rep in reps:
                out[rep] = getattr(e, rep)
        return out

    return encode


def encode_pages(enc: Any, items: list[Any], *, dpi: int = 96) -> list[Any]:
    """Token matrices of every passage's PDF page image, in passage order."""
    import numpy as np

    from rag.pdf_render import render_pages

    dim = enc.info.multivector_dim
    out: list[Any] = []
    for it in items:
        pages = [p.page for p in it.passages]
        src = it.doc.source
        if src.lower().endswith(".pdf") and all(pages) and Path(src).is_file():
            images = {pi.page: pi.image for pi in render_pages(src, dpi=dpi, pages=sorted(set(pages)))}
            mats = enc.encode_images([images[p] for p in pages])
            out.extend(mats)
        else:
            out.extend(np.zeros((0, dim), np.float32) for _ in pages)
    return out
