"""Encoders: text in, dense / learned-sparse / multivector representations out.

Names are exported lazily, so ``from rag.encoders.base import Encoded`` (used by indexes) does not
import torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Encoded": "rag.encoders.base",
    "Encoder": "rag.encoders.base",
    "EncoderInfo": "rag.encoders.base",
    "ModelNotFound": "rag.encoders.resolve",
    "resolve_model": "rag.encoders.resolve",
    "DeviceUnavailable": "rag.encoders.device",
    "resolve_device": "rag.encoders.device",
    "resolve_dtype": "rag.encoders.device",
    "TransformerEncoder": "rag.encoders.transformer",
    "BGEM3Encoder": "rag.encoders.bge_m3",
    "Profile": "rag.profiles",
    "PROFILES": "rag.profiles",
    "IncompatibleModel": "rag.encoders.registry",
    "load_encoder": "rag.encoders.registry",
    "load_profile": "rag.encoders.registry",
    "check_compatible": "rag.encoders.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag.encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
