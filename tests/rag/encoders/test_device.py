"""Explicit devices and dtypes: 'cuda' means cuda:0, a missing GPU fails loudly, 'auto' follows the hardware."""

from __future__ import annotations

import pytest
import torch

from rag.encoders import device as device_mod
from rag.encoders.device import DeviceUnavailable, cpu_supports_bf16, dtype_name, resolve_device, resolve_dtype

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without a CUDA GPU")
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cpu_and_torch_device_inputs():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@no_gpu
def test_auto_is_cpu_without_gpu():
    assert resolve_device("auto") == torch.device("cpu")


@no_gpu
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_gpu_raises_a_clear_error(spec):
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU is usable here.*device='cpu'"):
        resolve_device(spec)


@gpu
@pytest.mark.gpu
def test_cuda_means_cuda0_and_auto_picks_it():
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("auto") == torch.device("cuda", 0)
    with pytest.raises(DeviceUnavailable, match="GPU"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "gpu0", ""])
def test_unknown_devices_are_refused(spec):
    with pytest.raises(ValueError, match="device"):
        resolve_device(spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("float32", torch.float32), ("fp32", torch.float32), ("bf16", torch.bfloat16), ("bfloat16", torch.bfloat16),
     ("float16", torch.float16), ("torch.float16", torch.float16), (torch.bfloat16, torch.bfloat16)],
)
def test_explicit_dtypes(spec, expected):
    assert resolve_dtype(spec, torch.device("cpu")) == expected


def test_unknown_dtypes_are_refused():
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int8", "cpu")
    with pytest.raises(ValueError, match="not supported"):
        resolve_dtype(torch.int8, "cpu")


def test_auto_dtype_on_cpu_follows_native_bf16():
    expected = torch.bfloat16 if cpu_supports_bf16() else torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) == expected


@gpu
@pytest.mark.gpu
def test_auto_dtype_on_gpu():
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert resolve_dtype("auto", torch.device("cuda", 0)) == expected


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert device_mod._cpu_flags(info) == frozenset({"fpu", "sse", "avx512f", "avx512_bf16", "amx_tile"})
    assert device_mod._cpu_flags(tmp_path / "missing") == frozenset()


def test_cpu_supports_bf16_matches_this_machine():
    flags = device_mod._cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this platform")
    assert cpu_supports_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags or "bf16" in flags)


def test_dtype_name():
    assert dtype_name(torch.bfloat16) == "bfloat16"
