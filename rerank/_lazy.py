"""Lazy imports of the heavy optional dependencies; each ImportError names the pip install that fixes it."""

from __future__ import annotations

from types import ModuleType


def import_torch() -> ModuleType:
    """Return the ``torch`` module, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a core dependency of latte
        raise ImportError(
            "rerank needs PyTorch for this backend: pip install torch (or reinstall latte with pip install -e .)"
        ) from exc
    return torch


def import_triton() -> tuple[ModuleType, ModuleType]:
    """Return ``(triton, triton.language)``, or raise an ImportError naming ``pip install latte[triton]``."""
    try:
        import triton
        import triton.language as tl
    except ImportError as exc:
        raise ImportError(
            "the Triton MaxSim kernels need Triton: pip install latte[triton] (or pip install triton)"
        ) from exc
    return triton, tl
