"""The encoder-kind table: a model layout is one encoder class plus one ``EncoderKind``; detection from the folder,
``load_encoder``, ``kind_hint`` and the unknown-layout message all follow the table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.encoders.base import Encoded, Encoder, EncoderInfo
from rag.encoders.kinds import ENCODER_KINDS, EncoderKind, detection_order, register_kind
from rag.encoders.registry import KIND_ALIASES, KINDS, UnknownModelKind, detect_model_kind, load_encoder


# ---- the toy layout: one file would hold this class and its loader ---------------------------------------------
class ToyEncoder:
    """Dense vectors of letter counts (a, b, c), L2-normalised; the folder's ``toy.json`` sets a scale."""

    def __init__(self, path: Path, *, name: str, device: str = "auto", dtype: str = "auto", scale: float = 1.0):
        config = json.loads((path / "toy.json").read_text(encoding="utf-8"))
        self.device, self.dtype, self.scale = device, dtype, scale * config["scale"]
        self.info = EncoderInfo(name=name, kind="toy", fingerprint=f"toy-{config['scale']}", dense_dim=3)

    def encode(self, texts: Sequence[str], *, kind: str, want: Sequence[str] = ("dense",), batch_size: int = 32):
        if "dense" not in want:
            return Encoded()
        counts = np.array([[t.count(c) * self.scale + 1e-6 for c in "abc"] for t in texts], dtype=np.float32)
        return Encoded(dense=counts / np.linalg.norm(counts, axis=1, keepdims=True))


def is_toy(path: Path) -> bool:
    return (path / "toy.json").is_file()


def load_toy(path: Path, *, name: str, device: str, dtype: str, **options: Any) -> ToyEncoder:
    return ToyEncoder(path, name=name, device=device, dtype=dtype, **options)


TOY = EncoderKind("toy", is_toy, load_toy, marker="toy.json (toy)", aliases=("toy-encoder",))


@pytest.fixture()
def toy_kind():
    before = dict(ENCODER_KINDS)
    register_kind(TOY)
    yield
    ENCODER_KINDS.clear()
    ENCODER_KINDS.update(before)


def _toy_folder(root: Path, *, modules_json: bool = False) -> Path:
    root.mkdir()
    (root / "config.json").write_text("{}", encoding="utf-8")
    (root / "toy.json").write_text(json.dumps({"scale": 2.0}), encoding="utf-8")
    if modules_json:  # the generic sentence-transformers marker: the specific toy layout still wins
        (root / "modules.json").write_text("[]", encoding="utf-8")
    return root


def test_a_registered_kind_is_detected_and_loaded(tmp_path, toy_kind):
    folder = _toy_folder(tmp_path / "toy-model")
    assert detect_model_kind(folder) == "toy"
    assert detect_model_kind(_toy_folder(tmp_path / "with-modules", modules_json=True)) == "toy"

    encoder = load_encoder(str(folder), device="cpu", dtype="float32", scale=0.5)
    assert isinstance(encoder, ToyEncoder) and isinstance(encoder, Encoder)
    assert encoder.info == EncoderInfo(name=str(folder), kind="toy", fingerprint="toy-2.0", dense_dim=3)
    assert (encoder.device, encoder.dtype, encoder.scale) == ("cpu", "float32", 1.0)
    dense = encoder.encode(["aab", "ccc"], kind="query").dense
    assert dense is not None and dense.shape == (2, 3)
    assert np.argmax(dense, axis=1).tolist() == [0, 2]


def test_a_registered_kind_is_a_kind_hint_and_named_when_nothing_matches(tmp_path, toy_kind):
    folder = _toy_folder(tmp_path / "hinted")
    (folder / "toy.json").rename(folder / "settings.json")
    with pytest.raises(UnknownModelKind, match=r"artifact\.metadata \(ColBERT\) or toy\.json \(toy\)"):
        detect_model_kind(folder)
    (folder / "settings.json").rename(folder / "toy.json")
    assert isinstance(load_encoder(str(folder), kind_hint="TOY-encoder", device="cpu"), ToyEncoder)
    with pytest.raises(ValueError, match="use one of sentence-transformers, bge-m3, colbert, toy"):
        load_encoder(str(folder), kind_hint="splade")


def test_specific_kinds_are_detected_before_generic_ones(toy_kind):
    assert [k.name for k in detection_order()] == ["bge-m3", "colbert", "toy", "sentence-transformers"]


def test_register_kind_refuses_a_taken_name_or_alias():
    with pytest.raises(ValueError, match="already taken"):
        register_kind(EncoderKind("st", is_toy, load_toy, marker="toy.json"))
    with pytest.raises(ValueError, match="already taken"):
        register_kind(EncoderKind("toy", is_toy, load_toy, marker="toy.json", aliases=("M3",)))
    assert "toy" not in ENCODER_KINDS


def test_the_built_in_table(tmp_path):
    assert KINDS == ("sentence-transformers", "bge-m3", "colbert")
    assert KIND_ALIASES == {
        "sentence-transformers": "sentence-transformers",
        "sentence_transformers": "sentence-transformers",
        "st": "sentence-transformers",
        "transformer": "sentence-transformers",
        "bge-m3": "bge-m3",
        "m3": "bge-m3",
        "colbert": "colbert",
    }
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UnknownModelKind) as info:
        detect_model_kind(plain)
    assert str(info.value) == (
        f"{plain} has a config.json but none of modules.json (sentence-transformers), sparse_linear.pt (BGE-M3) "
        "or artifact.metadata (ColBERT), so it is unclear how to pool it. Pass kind_hint='sentence-transformers' "
        "to use mean pooling, or download the model's full folder."
    )
