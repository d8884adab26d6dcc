"""Explicit device and dtype choice for encoders.

``"auto"`` is resolved once, when an encoder is built; an encode call never moves a
model or changes its dtype. ``"cuda"`` means ``"cuda:0"``; asking for a GPU that is not
there fails loudly instead of falling back to the CPU.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch


class DeviceUnavailable(RuntimeError):
    """The device that was asked for does not exist on this machine."""


_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a concrete ``torch.device``.

    ``"auto"`` picks ``cuda:0`` when a CUDA GPU is visible, else the CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise ValueError(f"device {spec!r} is not valid: write 'cuda' or 'cuda:N' with N a GPU number, e.g. 'cuda:0'.")
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"device {spec!r} was asked for, but no CUDA GPU is usable here (torch {torch.__version__}, "
                f"torch.cuda.is_available() is False). Use device='cpu' or 'auto', or install a CUDA build of torch "
                f"on a machine with an NVIDIA GPU."
            )
        index = int(index_text)
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceUnavailable(f"device {spec!r} was asked for, but only {count} GPU(s) are visible (cuda:0..cuda:{count - 1}).")
        return torch.device("cuda", index)
    raise ValueError(f"unknown device {spec!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'.")


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """CPU feature flags of the first processor listed in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when this CPU runs bfloat16 matrix maths natively (x86 AVX512-BF16 or AMX, ARM BF16).

    ``torch.backends.cpu.get_cpu_capability()`` only says ``"AVX512"`` on such CPUs, and oneDNN
    accepts bf16 on any AVX512 CPU (emulated, slower than fp32), so the instruction flags decide.
    """
    flags = _cpu_flags()
    if {"avx512_bf16", "amx_bf16"} & flags:
        return True
    return platform.machine().lower() in ("aarch64", "arm64") and "bf16" in flags


def resolve_dtype(spec: str | torch.dtype = "auto", device: torch.device | str = "cpu") -> torch.dtype:
    """Turn ``"auto" | "float32" | "bfloat16" | "float16"`` (or fp32/bf16/fp16) into a ``torch.dtype`` for ``device``.

    ``"auto"``: on CPU bfloat16 when the CPU has native bf16 instructions, else float32; on a GPU
    bfloat16 when supported, else float16.

    >>> resolve_dtype("float32", "cpu")
    torch.float32
    """
    if isinstance(spec, torch.dtype):
        if spec not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"dtype {spec} is not supported for encoders: use float32, bfloat16 or float16.")
        return spec
    text = str(spec).strip().lower().removeprefix("torch.")
    device = torch.device(device) if isinstance(device, str) else device
    if text == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu":
            return torch.bfloat16 if cpu_supports_bf16() else torch.float32
        return torch.float32
    if text not in _DTYPES:
        raise ValueError(f"unknown dtype {spec!r}: use 'auto', 'float32', 'bfloat16' or 'float16'.")
    return _DTYPES[text]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"`` (for manifests and logs)."""
    return str(dtype).removeprefix("torch.")
