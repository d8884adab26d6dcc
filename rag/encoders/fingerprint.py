"""A stable fingerprint of a model folder, cheap even for multi-GB checkpoints.

It hashes the content of ``config.json`` (canonical JSON, minus keys that only record which
library version saved it), and for every weight and tokenizer file its relative path, its
size and three 64 KiB samples (start, middle, end). Sizes alone would not tell a fine-tuned
checkpoint from its base model (same shapes, same sizes); the samples do, while reading at
most 192 KiB per file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "merges.txt", "vocab.json")
_VOLATILE_CONFIG_KEYS = ("transformers_version", "_name_or_path", "_commit_hash", "torch_dtype", "dtype")
SAMPLE_BYTES = 64 * 1024


def _canonical_config(path: Path) -> bytes:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path.read_bytes() if path.is_file() else b""
    if isinstance(config, dict):
        for key in _VOLATILE_CONFIG_KEYS:
            config.pop(key, None)
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _fingerprinted_files(folder: Path) -> list[Path]:
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.endswith(WEIGHT_SUFFIXES) or path.name in TOKENIZER_FILES:
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _file_samples(path: Path, size: int) -> bytes:
    if size <= 3 * SAMPLE_BYTES:
        return path.read_bytes()
    chunks = []
    with path.open("rb") as handle:
        for offset in (0, size // 2, size - SAMPLE_BYTES):
            handle.seek(offset)
            chunks.append(handle.read(SAMPLE_BYTES))
    return b"".join(chunks)


def model_fingerprint(folder: Path) -> str:
    """``"sha256:<20 hex>"`` for a model folder: same weights and config, same fingerprint.

    Renaming or moving the folder does not change it; changing ``config.json`` content, a weight
    file's name or size, or the bytes sampled from it does.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot fingerprint {folder}: it is not a model folder.")
    digest = hashlib.sha256()
    digest.update(b"config.json\0" + _canonical_config(folder / "config.json"))
    for path in _fingerprinted_files(folder):
        size = path.stat().st_size
        rel = path.relative_to(folder).as_posix()
        digest.update(f"\0{rel}\0{size}\0".encode())
        digest.update(hashlib.sha256(_file_samples(path, size)).digest())
    return "sha256:" + digest.hexdigest()[:20]
