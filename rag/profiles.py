"""Model profiles, the one table of what ``--profile`` (``LATTE_PROFILE``, ``latte eval --profile``) builds.

A :class:`Profile` names the model serving each representation (None: not used); the passage-level indexes it builds
follow from them (``dense`` -> the dense index, ``sparse`` -> the sparse index, ``multivector`` -> the token
tensors). ``page_images`` marks a profile whose multivector model reads PDF page images (ColPali): each page becomes
one passage, and the page-image model is loaded by ``rag.service.load_encoders``, not as a text encoder.

Which profile an index has (the one rule, used by every way of opening an index for ingest or search):

- an existing index has the profile its manifest recorded; one that recorded none was written before profiles
  existed, with BM25 only: :data:`indexers.manifest.UNRECORDED_PROFILE` (``bm25``);
- a new index gets the profile asked for, else :data:`DEFAULT_PROFILE` (``latte ingest``, the API) — the low-level
  ``rag.ingest.ingest``, which loads no models, records ``bm25`` when given none;
- asking an existing index for another profile is refused (:class:`ProfileMismatch`).

:func:`index_profile` applies it before models load; ``rag.ingest.open_for_ingest`` again under the write lock.

>>> get_profile("m3").indexes
('dense', 'sparse', 'tensors')
>>> get_profile("colpali").page_images, get_profile("bm25").indexes
(True, ())
>>> get_profile("nope")
Traceback (most recent call last):
...
rag.profiles.UnknownProfile: unknown profile 'nope'; known profiles: bm25, colpali, default, dense, m3, minilm-tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from indexers.folder import IndexFolder
from indexers.manifest import UNRECORDED_PROFILE, Manifest
from rag.encoders.base import Representation
from rag.encoders.resolve import BGE_M3, MINILM

#: the profile of a new index when none is asked for (SciFact: MaxSim over binary MiniLM token tensors lifts
#: BM25 + dense RRF from 0.712 to 0.740 nDCG@10, README, so the default builds the tensors and reranks)
DEFAULT_PROFILE = "default"
__all__ = ["DEFAULT_PROFILE", "PROFILES", "REP_OF_INDEX", "UNRECORDED_PROFILE", "Profile", "ProfileMismatch",
           "UnknownProfile", "get_profile", "index_profile"]

#: the page-image model of a ``page_images`` profile unless ``--image-model`` / ``$LATTE_COLPALI_MODEL`` says
COLPALI = "vidore/colpali-v1.3-hf"

#: passage-level index kind -> the representation it stores
REP_OF_INDEX: dict[str, Representation] = {"dense": "dense", "sparse": "sparse", "tensors": "multivector"}


class UnknownProfile(UserError, KeyError):
    """A profile name not in :data:`PROFILES` (a ``KeyError`` too, for callers that caught that)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Profile:
    """Which model (HF id, alias or path) serves each representation; None = not used.

    ``lexical`` names the non-neural first-stage retriever (``"bm25"``), which needs no encoder.
    ``options`` are keyword arguments passed to every encoder the profile loads. ``page_images``: the
    ``multivector`` model reads PDF page images (ColPali/ColQwen2), and each page is one passage.
    """

    name: str
    dense: str | None
    sparse: str | None
    multivector: str | None
    lexical: str | None = "bm25"
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    page_images: bool = False

    def models(self) -> dict[Representation, str]:
        """Representation -> model spec, for the representations this profile uses."""
        specs: dict[Representation, str | None] = {
            "dense": self.dense, "sparse": self.sparse, "multivector": self.multivector
        }
        return {rep: spec for rep, spec in specs.items() if spec}

    @property
    def indexes(self) -> tuple[str, ...]:
        """The passage-level indexes the profile builds (``dense``, ``sparse``, ``tensors``), in that order."""
        models = self.models()
        return tuple(kind for kind, rep in REP_OF_INDEX.items() if rep in models)

    @property
    def representations(self) -> tuple[Representation, ...]:
        """The query/passage representations its indexes need encoders for."""
        return tuple(REP_OF_INDEX[kind] for kind in self.indexes)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("bm25", dense=None, sparse=None, multivector=None, description="BM25 only: no models."),
        Profile(
            "default", dense=MINILM, sparse=None, multivector=MINILM,
            description="BM25 + all-MiniLM-L6-v2 dense first stage; MiniLM token vectors for the MaxSim rerank.",
        ),
        Profile("dense", dense=MINILM, sparse=None, multivector=None,
                description="BM25 + all-MiniLM-L6-v2 dense first stage; no rerank tensors."),
        Profile(
            "minilm-tokens", dense=MINILM, sparse=None, multivector=MINILM,
            description="The same as 'default' (its name before it became the default).",
        ),
        Profile(
            "m3", dense=BGE_M3, sparse=BGE_M3, multivector=BGE_M3,
            description="BM25 + BGE-M3 dense and learned-sparse first stage; BGE-M3 ColBERT vectors for the rerank "
            "(one model, one forward pass).",
        ),
        Profile(
            "colpali", dense=MINILM, sparse=None, multivector=COLPALI, page_images=True,
            description="PDF pages as images: MiniLM dense on page text, ColPali/ColQwen2 page patches as the tensors.",
        ),
    )
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name is a :class:`UnknownProfile` naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}.") from None


class ProfileMismatch(UserError):
    """An existing index asked for another profile than the one it was built with."""

    def __init__(self, index: str | Path, recorded: str, requested: str) -> None:
        super().__init__(
            f"index {index} was built with profile {recorded!r}; ingest into it with the same profile "
            f"(or omit --profile), or build a new index for {requested!r}"
        )
        self.recorded, self.requested = recorded, requested


def recorded_or_requested(index: str | Path, manifest: Manifest | None, requested: str | None, default: str) -> Profile:
    """The module's rule: an existing index's (``manifest``) recorded profile, which ``requested`` must match; for a
    new one (``manifest`` None), ``requested`` or ``default``."""
    if manifest is None:
        return get_profile(requested or default)
    if requested is not None and requested != manifest.profile:
        raise ProfileMismatch(index, manifest.profile, requested)
    return get_profile(manifest.profile)


def index_profile(index: str | Path, requested: str | None = None, *,
                  default: str = DEFAULT_PROFILE) -> tuple[Profile, Manifest | None]:
    """The profile ``index`` is (or will be) built with, and its committed manifest (None: no index yet)."""
    folder = IndexFolder(index)
    manifest = folder.read_manifest() if folder.exists() else None
    return recorded_or_requested(index, manifest, requested, default), manifest
