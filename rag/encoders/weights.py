"""The weight files of a transformers-style checkpoint folder, and reading tensors from them on the CPU.

A folder holds one file (``model.safetensors`` or ``pytorch_model.bin``) or shards named by an index
(``*.index.json`` with a ``weight_map``). Readers that build their own modules (ColBERT projections,
jina's rotary XLM-RoBERTa) share these two functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def weight_files(folder: Path, *, error: type[Exception] = ValueError) -> list[Path]:
    """The folder's weight files: the single file, or every shard its index names; [] when there are none.

    A shard index that is not JSON raises ``error`` (the caller's checkpoint error type).
    """
    folder = Path(folder)
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return [folder / name]
    for name in INDEX_FILES:
        path = folder / name
        if path.is_file():
            try:
                weight_map = json.loads(path.read_text(encoding="utf-8")).get("weight_map", {})
            except ValueError as exc:
                raise error(f"{path} is not valid JSON ({exc}); re-download the model.") from exc
            return sorted({folder / shard for shard in weight_map.values()})
    return []


def load_tensors(files: Sequence[Path], keys: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """The named tensors (every tensor when ``keys`` is None) from safetensors / torch weight files, on the CPU.

    Absent keys are left out; when several files hold a key, the first one wins.
    """
    found: dict[str, torch.Tensor] = {}
    for file in files:
        if Path(file).suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), framework="pt", device="cpu") as handle:
                names = set(handle.keys())
                wanted = names if keys is None else [k for k in keys if k in names]
                found.update({k: handle.get_tensor(k) for k in wanted if k not in found})
        else:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            wanted = state.keys() if keys is None else [k for k in keys if k in state]
            found.update({k: state[k].clone() for k in wanted if k not in found})
    return found
