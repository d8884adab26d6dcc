"""Loading a profile's encoders, model-kind detection and loading, compatibility checks.

A profile (``rag.profiles``, the one table: ``Profile`` and ``PROFILES`` are re-exported here) names a model per
representation; ``load_profile`` loads each model once, so when one model serves several representations (BGE-M3:
dense, sparse and multivector) the same encoder object is returned under each key and one forward pass gives all
of them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from core.errors import UserError
from rag.encoders.base import Encoder, EncoderInfo
from rag.encoders.kinds import ENCODER_KINDS, detection_order, kind_aliases, kind_names, markers
from rag.encoders.resolve import canonical_name, resolve_model
from rag.profiles import PROFILES, Profile, get_profile

__all__ = ["PROFILES", "IncompatibleModel", "Profile", "UnknownModelKind", "check_compatible", "detect_model_kind",
           "info_from_dict", "load_encoder", "load_profile"]

KIND_ALIASES = kind_aliases()  # the built-in kinds' names (rag/encoders/kinds.py: ENCODER_KINDS, register_kind)
KINDS = kind_names()

#: ``extra`` keys that do not change what a model outputs for a query (device, dtype, length limits).
_NON_OUTPUT_EXTRA = {"dtype", "device", "batch_size"}


class IncompatibleModel(UserError, ValueError):
    """The encoder at hand is not the one an index was built with."""


class UnknownModelKind(UserError, ValueError):
    """A folder's layout does not say which kind of encoder it holds."""




def detect_model_kind(path: Path) -> str:
    """The kind (``ENCODER_KINDS``) whose layout the model folder ``path`` has: ``"bge-m3"``
    (``sparse_linear.pt``), ``"colbert"`` (``artifact.metadata`` or a ColBERT/PyLate layout), then the generic
    ``"sentence-transformers"`` (``modules.json``)."""
    path = Path(path)
    if not path.is_dir():
        raise UnknownModelKind(f"{path} is not a folder: a model is a folder with config.json and weight files.")
    for kind in detection_order():
        if kind.detect(path):
            return kind.name
    if (path / "config.json").is_file():
        raise UnknownModelKind(
            f"{path} has a config.json but none of {markers()}, so it is unclear how to pool it. "
            f"Pass kind_hint='sentence-transformers' to use mean pooling, or download the model's full folder."
        )
    raise UnknownModelKind(f"{path} holds no model: expected config.json and weight files (model.safetensors...).")


def load_encoder(
    spec: str,
    *,
    kind_hint: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    models_dir: Path | None = None,
    **options: Any,
) -> Encoder:
    """Resolve ``spec`` (HF id, alias or path; see ``resolve_model``) and build the matching encoder.

    ``kind_hint`` forces the kind (``"sentence-transformers"``, ``"bge-m3"``, ``"colbert"``, any name or alias in
    ``ENCODER_KINDS``) instead of detecting it from the folder; ``options`` go to the encoder's constructor.
    """
    path = resolve_model(spec, models_dir=models_dir)
    if kind_hint is not None:
        aliases = kind_aliases()
        if kind_hint.lower() not in aliases:
            raise ValueError(f"kind_hint {kind_hint!r} is unknown; use one of {', '.join(kind_names())}.")
        kind = aliases[kind_hint.lower()]
    else:
        kind = detect_model_kind(path)
    return ENCODER_KINDS[kind].load(path, name=spec, device=device, dtype=dtype, **options)


def _has(encoder: Encoder, representation: str) -> bool:
    info = encoder.info
    dims = {"dense": info.dense_dim, "sparse": info.sparse_vocab, "multivector": info.multivector_dim}
    return dims[representation] is not None


def load_profile(
    name: str | Profile,
    *,
    device: str = "auto",
    dtype: str = "auto",
    models_dir: Path | None = None,
) -> dict[str, Encoder]:
    """Text encoders keyed by representation for a profile (a name from ``PROFILES`` or a ``Profile``).

    A model named for several representations is loaded once and the same object is returned for
    each. Raises when a model cannot produce the representation the profile assigns to it. A ``page_images``
    profile's multivector model reads page images, not text: ``rag.service.load_encoders`` loads it.
    """
    profile = name if isinstance(name, Profile) else get_profile(name)
    loaded: dict[str, Encoder] = {}
    out: dict[str, Encoder] = {}
    for representation, spec in profile.models().items():
        if representation == "multivector" and profile.page_images:
            continue
        key = canonical_name(spec)
        if key not in loaded:
            loaded[key] = load_encoder(spec, device=device, dtype=dtype, models_dir=models_dir, **profile.options)
        encoder = loaded[key]
        if not _has(encoder, representation):
            raise ValueError(
                f"profile {profile.name!r} takes {representation} from {spec!r}, but that model "
                f"({encoder.info.kind}) has no {representation} output. Choose another model for {representation}."
            )
        out[representation] = encoder
    return out


def info_from_dict(data: dict[str, Any]) -> EncoderInfo:
    """An ``EncoderInfo`` from its manifest form (``dataclasses.asdict``); unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(EncoderInfo)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"encoder record has unknown fields {unknown}; expected a subset of {sorted(names)}.")
    return EncoderInfo(**data)


def _output_extra(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k not in _NON_OUTPUT_EXTRA and "max_len" not in k and "maxlen" not in k}


def _models_env() -> str:
    from rag.encoders.resolve import MODELS_DIR_ENV

    return f"${MODELS_DIR_ENV}"


def check_compatible(recorded: EncoderInfo | dict[str, Any], current: EncoderInfo) -> None:
    """Raise ``IncompatibleModel`` unless ``current`` encodes like the encoder that ``recorded`` describes.

    Compared: kind, fingerprint, dimensions, and the ``extra`` settings both record that shape the
    output (pooling, prefixes...). The name is not compared (a path and a hub id may be the same
    model); dtype, device and length limits are not either.
    """
    if isinstance(recorded, dict):
        recorded = info_from_dict(recorded)
    differences = []
    for attr in ("kind", "fingerprint", "dense_dim", "sparse_vocab", "multivector_dim"):
        old, new = getattr(recorded, attr), getattr(current, attr)
        if old != new:
            differences.append(f"{attr}: index {old!r} != current {new!r}")
    old_extra, new_extra = _output_extra(recorded.extra), _output_extra(current.extra)
    for key in sorted(set(old_extra) & set(new_extra)):
        if old_extra[key] != new_extra[key]:
            differences.append(f"{key}: index {old_extra[key]!r} != current {new_extra[key]!r}")
    if differences:
        raise IncompatibleModel(
            f"the index was built with encoder {recorded.name!r} ({recorded.kind}), which does not match the current "
            f"encoder {current.name!r} ({current.kind}): {'; '.join(differences)}. Make the model the index was built "
            f"with available ({recorded.name!r}: a folder under {_models_env()} or in the Hugging Face cache), or rebuild "
            f"the index with the current model (latte ingest PATH --index NEW_DIR --dense-model / --tensor-model MODEL)."
        )
