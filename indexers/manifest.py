"""The index manifest (``manifest.json``) as one typed record, read and written here only.

The manifest names the committed version: its format, version number, the settings and models the index was built
with, its counts, the next document number, and each component's saved state. :class:`Manifest` holds those fields
typed; :meth:`Manifest.from_dict` and :meth:`Manifest.to_dict` round-trip the JSON exactly, keeping keys this latte
does not know (a newer writer's) and leaving out known keys an older manifest did not have.

>>> m = Manifest.from_dict({"format": "latte-index", "format_version": 1, "version": 3, "next_docno": 7,
...                         "settings": {}, "components": {}, "future_key": [1]})
>>> m.version, m.profile, m.recorded_profile, m.models
(3, 'bm25', None, {})
>>> m.to_dict() == {"format": "latte-index", "format_version": 1, "version": 3, "next_docno": 7,
...                 "settings": {}, "components": {}, "future_key": [1]}
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FORMAT = "latte-index"
FORMAT_VERSION = 1

#: the profile of an index that recorded none: it was written before profiles existed, with BM25 only. (A *new*
#: index built by ``latte ingest`` or the API without a profile gets ``rag.profiles.DEFAULT_PROFILE``.)
UNRECORDED_PROFILE = "bm25"


@dataclass
class Manifest:
    """One committed (or, in a writer, the next) version of an index folder."""

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    version: int = 0
    created_at: float | None = None
    committed_at: float | None = None
    #: what the builder recorded: ``ingest`` (the ingest settings), ``profile``, ``dedupe`` (the MinHash hashing)
    settings: dict[str, Any] = field(default_factory=dict)
    #: representation -> the encoder record (``dataclasses.asdict`` of ``rag.encoders.base.EncoderInfo``)
    models: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    next_docno: int = 0
    #: component kind -> its saved state
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: folder -> file names the version needs besides the components' (the duplicates table)
    extra_files: dict[str, list[str]] = field(default_factory=dict)
    #: keys this latte does not know, kept as read
    unknown: dict[str, Any] = field(default_factory=dict)
    #: known keys the source lacked (left out of :meth:`to_dict` while they keep their default)
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    # -- JSON ------------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {k: v for k, v in data.items() if k in _KEYS}
        for key in ("version", "format_version", "next_docno"):
            if key in known:
                known[key] = int(known[key])
        return cls(
            **known,
            unknown={k: v for k, v in data.items() if k not in _KEYS},
            absent=frozenset(k for k in _KEYS if k not in data),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _KEYS:
            value = getattr(self, key)
            if key in self.absent and value == _DEFAULTS[key]:
                continue
            out[key] = value
        out.update(self.unknown)
        return out

    @classmethod
    def new(cls, *, created_at: float, settings: dict[str, Any] | None = None) -> Manifest:
        """The manifest of an index not committed yet (version 0)."""
        return cls(created_at=created_at, settings=dict(settings or {}))

    # -- what callers read -----------------------------------------------------------------------------------------
    @property
    def recorded_profile(self) -> str | None:
        """The profile the index recorded, or None (an index written before profiles existed)."""
        return self.settings.get("profile")

    @property
    def profile(self) -> str:
        """The profile the index was built with (:data:`UNRECORDED_PROFILE` when it recorded none)."""
        return self.recorded_profile or UNRECORDED_PROFILE

    @property
    def ingest_settings(self) -> dict[str, Any] | None:
        """The ingest settings recorded at creation (``rag.ingest.IngestSettings`` as a dict), or None."""
        return self.settings.get("ingest")

    @property
    def dedupe_hashing(self) -> dict[str, Any] | None:
        """The MinHash hashing the stored documents' signatures were made with (``rag.dedupe``), or None."""
        return self.settings.get("dedupe")

    @property
    def documents(self) -> int:
        """Live documents in this version."""
        return int(self.counts.get("documents", 0))

    @property
    def duplicates_file(self) -> str | None:
        """The duplicates table of this version (under ``dedupe/``), or None."""
        names = self.extra_files.get("dedupe")
        return names[0] if names else None

    @property
    def languages(self) -> dict[str, str]:
        """Language -> analyzer BM25 recorded for the documents it has seen ({} for an index that records none)."""
        state = self.components.get("bm25") or {}
        return dict((state.get("analyzer") or {}).get("languages") or {})


class IndexFormatError(RuntimeError):
    """A file that is not a latte index manifest, or a manifest in a newer format than this latte reads."""


def parse_manifest(data: Any, where: str) -> Manifest:
    """The manifest ``data`` (the parsed JSON read from ``where``), checked: every reader of a ``manifest.json``,
    local or remote, committed or previous, goes through here.

    >>> parse_manifest({"format": "latte-index", "format_version": 1, "version": 2}, "m.json").version
    2
    >>> parse_manifest([], "m.json")
    Traceback (most recent call last):
    ...
    indexers.manifest.IndexFormatError: m.json is not a latte index manifest
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexFormatError(f"{where} is not a latte index manifest")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise IndexFormatError(
            f"index format {data['format_version']} is newer than this latte supports ({FORMAT_VERSION}); upgrade latte"
        )
    return Manifest.from_dict(data)


_KEYS = tuple(f.name for f in dataclasses.fields(Manifest) if f.name not in ("unknown", "absent"))
_DEFAULTS = {k: getattr(Manifest(), k) for k in _KEYS}
