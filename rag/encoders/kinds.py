"""Encoder kinds: one ``EncoderKind`` per model-folder layout, in ``ENCODER_KINDS``.

A kind says how to recognise its layout in a model folder (``detect``), how to build its encoder (``load``), which
file marks it (named when no kind matches) and the names ``kind_hint`` accepts for it. Adding a model layout is a
module with the encoder class (``encode`` and ``info``, see ``rag/encoders/base.py``) plus one entry here (or
``register_kind`` at run time); ``KINDS``, ``detect_model_kind`` and ``load_encoder`` (``rag/encoders/registry.py``)
read the table. Detection and loading import the encoder modules on first use, so this table imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from rag.encoders.base import Encoder


class KindLoader(Protocol):
    """Builds the encoder for the model folder ``path``; ``name`` is the spec the user gave (recorded in its info)."""

    def __call__(self, path: Path, *, name: str, device: str, dtype: str, **options: Any) -> Encoder: ...


@dataclass(frozen=True)
class EncoderKind:
    """One model-folder layout.

    - ``name``: the kind (``kind_hint`` value, ``EncoderInfo.kind`` of most of its encoders);
    - ``detect``: True for a folder in this layout (cheap: file names, small JSON files);
    - ``load``: the ``KindLoader``;
    - ``marker``: what ``detect`` looks for, named in ``UnknownModelKind``'s message (``"sparse_linear.pt (BGE-M3)"``);
    - ``aliases``: other names ``kind_hint`` accepts (compared lower-case);
    - ``generic``: detected only after every specific kind, because its marker is also found in their folders
      (``modules.json`` is in BGE-M3 and PyLate folders too).
    """

    name: str
    detect: Callable[[Path], bool]
    load: KindLoader
    marker: str
    aliases: tuple[str, ...] = ()
    generic: bool = False


def colbert_module() -> ModuleType | None:
    """``rag.encoders.colbert`` when it is present (imported lazily: it may pull optional packages)."""
    try:
        from rag.encoders import colbert
    except ModuleNotFoundError as exc:
        if exc.name == "rag.encoders.colbert":
            return None
        raise
    return colbert


def _is_sentence_transformers(path: Path) -> bool:
    return (path / "modules.json").is_file()


def _load_sentence_transformers(path: Path, *, name: str, device: str, dtype: str, **options: Any) -> Encoder:
    from rag.encoders.transformer import TransformerEncoder

    return TransformerEncoder(path, name=name, device=device, dtype=dtype, **options)


def _is_bge_m3(path: Path) -> bool:
    from rag.encoders.bge_m3 import is_bge_m3_checkpoint

    return is_bge_m3_checkpoint(path)


def _load_bge_m3(path: Path, *, name: str, device: str, dtype: str, **options: Any) -> Encoder:
    from rag.encoders.bge_m3 import BGEM3Encoder

    return BGEM3Encoder(path, name=name, device=device, dtype=dtype, **options)


def _is_colbert(path: Path) -> bool:
    colbert = colbert_module()
    return (path / "artifact.metadata").is_file() or (colbert is not None and colbert.is_colbert_checkpoint(path))


def _load_colbert(path: Path, *, name: str, device: str, dtype: str, **options: Any) -> Encoder:
    colbert = colbert_module()
    if colbert is None:
        raise ImportError(f"{path} is a ColBERT model, but rag.encoders.colbert is missing from this install.")
    encoder: Encoder = colbert.load_colbert(path, name=name, device=device, dtype=dtype, **options)
    return encoder


ENCODER_KINDS: dict[str, EncoderKind] = {
    kind.name: kind
    for kind in (
        EncoderKind(
            "sentence-transformers",
            _is_sentence_transformers,
            _load_sentence_transformers,
            marker="modules.json (sentence-transformers)",
            aliases=("sentence_transformers", "st", "transformer"),
            generic=True,
        ),
        EncoderKind("bge-m3", _is_bge_m3, _load_bge_m3, marker="sparse_linear.pt (BGE-M3)", aliases=("m3",)),
        EncoderKind("colbert", _is_colbert, _load_colbert, marker="artifact.metadata (ColBERT)"),
    )
}
"""Every kind, in the order ``KINDS`` lists them; ``detection_order`` tries the specific ones first."""


def register_kind(kind: EncoderKind, *, replace: bool = False) -> None:
    """Add ``kind`` to ``ENCODER_KINDS``; ``replace`` allows overriding a kind of the same name."""
    taken = kind_aliases()
    clash = [n for n in (kind.name, *kind.aliases) if n.lower() in taken and not (replace and taken[n.lower()] == kind.name)]
    if clash:
        raise ValueError(f"encoder kind names {clash} are already taken; pass replace=True to override a kind")
    ENCODER_KINDS[kind.name] = kind


def kind_names() -> tuple[str, ...]:
    """The kinds in the table now."""
    return tuple(ENCODER_KINDS)


def kind_aliases() -> dict[str, str]:
    """Every name ``kind_hint`` accepts (lower-case) -> its kind."""
    return {alias.lower(): kind.name for kind in ENCODER_KINDS.values() for alias in (kind.name, *kind.aliases)}


def detection_order() -> list[EncoderKind]:
    """The kinds in the order a folder is tested: the specific layouts in table order, then the generic ones."""
    kinds = list(ENCODER_KINDS.values())
    return [k for k in kinds if not k.generic] + [k for k in kinds if k.generic]


def markers() -> str:
    """The markers of every kind, for the message about a folder none of them matches.

    >>> markers()
    'modules.json (sentence-transformers), sparse_linear.pt (BGE-M3) or artifact.metadata (ColBERT)'
    """
    names = [kind.marker for kind in ENCODER_KINDS.values()]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
