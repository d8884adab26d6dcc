"""jina-colbert-v2's backbone (rotary XLM-RoBERTa) on the native port, offline, on a tiny random checkpoint.

The checkpoint is built in jina-colbert-v2's layout by ``tiny_colbert.build_tiny_jina_colbert`` (config keys,
``roberta.``-prefixed weights in bfloat16, ``linear.weight``, ``artifact.metadata`` with jina's markers).
The model is checked against a forward pass written out here by hand (per head, complex-number rotary,
explicit softmax and LayerNorm), on rotary's defining property, and on its failure messages.
"""

from __future__ import annotations

import json
import shutil
import string
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_colbert import CORPUS, DOCS, JINA_MARKERS, QUERIES, build_tiny_jina_colbert  # noqa: E402

from rag.encoders.colbert import ColBERTCheckpointError, ColBERTEncoder, load_colbert, read_colbert_settings  # noqa: E402
from rag.encoders.jina_xlmr import (  # noqa: E402
    JinaXLMRConfig,
    JinaXLMRError,
    JinaXLMRModel,
    apply_rotary,
    is_jina_xlmr_config,
    rotary_cos_sin,
)

pytestmark = pytest.mark.usefixtures("hub_offline")


@pytest.fixture(scope="module")
def jina_dir(tmp_path_factory) -> Path:
    return build_tiny_jina_colbert(tmp_path_factory.mktemp("jina") / "jina-colbert-v2", hidden=16, heads=2, layers=2)


@pytest.fixture(scope="module")
def jina(jina_dir) -> ColBERTEncoder:
    return load_colbert(jina_dir, device="cpu", dtype="float32", trust_remote_code=False)


def _copy(jina_dir: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(jina_dir, tmp_path / name))


def _hand_backbone(folder: Path, ids: list[int], attention: list[int]) -> torch.Tensor:
    """jina's rotary XLM-RoBERTa for one text, from the raw tensors, written out step by step: ``[t, hidden]`` float64."""
    from safetensors.torch import load_file

    raw = json.loads((folder / "config.json").read_text())
    w = {k: v.double() for k, v in load_file(str(folder / "model.safetensors")).items()}
    heads, eps, base = raw["num_attention_heads"], raw["layer_norm_eps"], raw["rotary_emb_base"]
    d = raw["hidden_size"] // heads

    def layer_norm(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def rotate(x):  # x [t, d]: feature pairs (j, j + d/2) as complex numbers, turned by position * base^(-2j/d)
        t = torch.arange(x.shape[0], dtype=torch.float64)[:, None]
        theta = t * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        z = torch.complex(x[:, : d // 2], x[:, d // 2 :]) * torch.polar(torch.ones_like(theta), theta)
        return torch.cat([z.real, z.imag], dim=-1)

    h = w["roberta.embeddings.word_embeddings.weight"][ids] + w["roberta.embeddings.token_type_embeddings.weight"][0]
    h = layer_norm(h, "roberta.emb_ln")
    keep = torch.tensor(attention, dtype=torch.bool)
    for i in range(raw["num_hidden_layers"]):
        p = f"roberta.encoder.layers.{i}."
        qkv = linear(h, p + "mixer.Wqkv")
        n = raw["hidden_size"]
        q, k, v = qkv[:, :n], qkv[:, n : 2 * n], qkv[:, 2 * n :]
        outs = []
        for head in range(heads):
            cols = slice(head * d, (head + 1) * d)
            scores = rotate(q[:, cols]) @ rotate(k[:, cols]).T / d**0.5
            scores = scores.masked_fill(~keep[None, :], float("-inf"))
            outs.append(torch.softmax(scores, dim=-1) @ v[:, cols])
        h = layer_norm(h + linear(torch.cat(outs, dim=-1), p + "mixer.out_proj"), p + "norm1")
        ff = linear(h, p + "mlp.fc1")
        ff = 0.5 * ff * (1 + torch.erf(ff / 2**0.5))
        h = layer_norm(h + linear(ff, p + "mlp.fc2"), p + "norm2")
    return h


def _hand_vectors(folder: Path, ids: list[int], attention: list[int]) -> np.ndarray:
    from safetensors.torch import load_file

    linear = load_file(str(folder / "model.safetensors"))["linear.weight"].double()
    vectors = _hand_backbone(folder, ids, attention) @ linear.T
    return torch.nn.functional.normalize(vectors, dim=-1).numpy()


def test_architecture_is_recognised(jina_dir):
    raw = json.loads((jina_dir / "config.json").read_text())
    assert is_jina_xlmr_config(raw)
    assert is_jina_xlmr_config({k: v for k, v in raw.items() if k != "auto_map"})  # rotary XLM-R without auto_map
    assert not is_jina_xlmr_config({"model_type": "bert", "position_embedding_type": "absolute"})
    assert not is_jina_xlmr_config({"auto_map": {"AutoModel": "someone/other-code--modeling.Model"}})
    settings = read_colbert_settings(jina_dir)
    assert (settings.layout, settings.query_marker, settings.doc_marker) == ("stanford", *JINA_MARKERS)
    assert settings.attend_to_mask_tokens is True


def test_loads_offline_without_remote_code_and_encodes(jina, jina_dir):
    from transformers import PreTrainedTokenizerBase

    assert isinstance(jina.model, JinaXLMRModel) and isinstance(jina.tokenizer, PreTrainedTokenizerBase)
    assert jina.dim == 8 and jina.info.multivector_dim == 8 and jina.info.extra["layout"] == "stanford"
    tok = jina.tokenizer
    qmark, dmark = tok.convert_tokens_to_ids(list(JINA_MARKERS))
    rows = jina.token_ids(QUERIES, kind="query")
    for row in rows:  # <s> [QueryMarker] ... </s> <mask>... up to query_maxlen
        assert len(row) == jina.query_maxlen == 16
        assert row[:2] == [tok.cls_token_id, qmark]
        end = row.index(tok.sep_token_id)
        assert set(row[end + 1 :]) <= {tok.mask_token_id}
    assert rows[1].count(tok.mask_token_id) > 0  # "fox" is short: query augmentation pads it
    queries = jina.encode(QUERIES, kind="query").multivector
    assert [q.shape for q in queries] == [(16, 8)] * 3
    docs = jina.encode(DOCS, kind="document").multivector
    doc_rows = jina.token_ids(DOCS, kind="document")
    punctuation = {tok.encode(c, add_special_tokens=False)[0] for c in string.punctuation}
    for vectors, row in zip(docs, doc_rows):
        assert row[:2] == [tok.cls_token_id, dmark]
        assert vectors.shape == (sum(t not in punctuation for t in row), 8)  # skiplist drops punctuation
    for v in queries + docs:
        assert v.dtype == np.float32 and np.all(np.isfinite(v))
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_matches_a_hand_written_forward(jina, jina_dir):
    tok = jina.tokenizer
    row = jina.token_ids(QUERIES[:1], kind="query")[0]  # attend_to_mask_tokens: every position attended
    got = jina.encode(QUERIES[:1], kind="query").multivector[0]
    np.testing.assert_allclose(got, _hand_vectors(jina_dir, row, [1] * len(row)), atol=2e-5)

    blind = load_colbert(jina_dir, device="cpu", dtype="float32", attend_to_mask_tokens=False)
    n_real = row.index(tok.sep_token_id) + 1  # the [MASK] expansion is masked out as keys, still encoded
    got = blind.encode(QUERIES[:1], kind="query").multivector[0]
    np.testing.assert_allclose(got, _hand_vectors(jina_dir, row, [1] * n_real + [0] * (len(row) - n_real)), atol=2e-5)

    doc_row = jina.token_ids(DOCS[1:2], kind="document")[0]
    keep = [t not in jina.skip_ids.tolist() for t in doc_row]
    want = _hand_vectors(jina_dir, doc_row, [1] * len(doc_row))[keep]
    np.testing.assert_allclose(jina.encode(DOCS[1:2], kind="document").multivector[0], want, atol=2e-5)


def test_padding_in_a_batch_changes_nothing(jina):
    alone = [jina.encode([d], kind="document").multivector[0] for d in DOCS]
    batched = jina.encode(DOCS, kind="document", batch_size=4).multivector
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_rotary_scores_depend_on_relative_positions_only():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(m: int, n: int, interleaved: bool) -> float:
        cos_m, sin_m = rotary_cos_sin(torch.tensor([m]), 8, 20000.0)
        cos_n, sin_n = rotary_cos_sin(torch.tensor([n]), 8, 20000.0)
        return float((apply_rotary(q, cos_m, sin_m, interleaved) * apply_rotary(k, cos_n, sin_n, interleaved)).sum())

    for interleaved in (False, True):
        assert score(7, 3, interleaved) == pytest.approx(score(107, 103, interleaved), abs=1e-4)
        assert score(7, 3, interleaved) != pytest.approx(score(7, 5, interleaved), abs=1e-3)
    # partial rotary: features past the rotary width pass through untouched
    x = torch.randn(1, 2, 1, 8)
    cos, sin = rotary_cos_sin(torch.arange(2), 4, 10000.0)
    assert torch.equal(apply_rotary(x, cos, sin)[..., 4:], x[..., 4:])


def test_layers_see_order_only_through_rotary(jina):
    model = jina.model
    layer = model.encoder.layers[0]
    x = torch.randn(2, 9, model.config.hidden_size)
    mask = torch.ones(2, 1, 1, 9, dtype=torch.bool)
    with torch.no_grad():
        at_zero = layer(x, *rotary_cos_sin(torch.arange(9), model.config.rotary_dim, model.config.rotary_emb_base), mask)
        shifted = layer(x, *rotary_cos_sin(torch.arange(9) + 50, model.config.rotary_dim, model.config.rotary_emb_base), mask)
        torch.testing.assert_close(at_zero, shifted, atol=1e-4, rtol=1e-4)  # a global shift changes no relative offset
        ids = torch.tensor([jina.tokenizer(CORPUS[0])["input_ids"]])
        swapped = ids.clone()
        swapped[0, [2, 5]] = ids[0, [5, 2]]
        h = model(ids).last_hidden_state
        h_swapped = model(swapped).last_hidden_state
    assert (h_swapped[0, [5, 2]] - h[0, [2, 5]]).abs().max() > 1e-3  # no position table, yet order matters


def test_dtype_is_respected(jina_dir, jina):
    half = load_colbert(jina_dir, device="cpu", dtype="bfloat16")
    assert {p.dtype for p in half.model.parameters()} == {torch.bfloat16}
    assert half.info.extra["dtype"] == "bfloat16"
    for a, b in zip(half.encode(QUERIES, kind="query").multivector, jina.encode(QUERIES, kind="query").multivector):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=0.08)


def test_missing_weight_is_named(jina_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(jina_dir, tmp_path, "missing")
    state = load_file(str(folder / "model.safetensors"))
    del state["roberta.encoder.layers.1.mlp.fc2.bias"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ColBERTCheckpointError, match=r"1 missing \(e\.g\. \['encoder\.layers\.1\.mlp\.fc2\.bias'\]"):
        load_colbert(folder, device="cpu", dtype="float32")


def test_lora_adapters_and_foreign_configs_are_refused_with_advice(jina_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(jina_dir, tmp_path, "lora")
    state = load_file(str(folder / "model.safetensors"))
    state["roberta.encoder.layers.0.mixer.Wqkv.parametrizations.weight.original"] = state.pop("roberta.encoder.layers.0.mixer.Wqkv.weight")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ColBERTCheckpointError, match="LoRA adapters.*trust_remote_code=True"):
        load_colbert(folder, device="cpu", dtype="float32")

    folder = _copy(jina_dir, tmp_path, "wrong-size")
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ColBERTCheckpointError, match="shapes do not match config.json"):
        load_colbert(folder, device="cpu", dtype="float32")

    config["intermediate_size"], config["position_embedding_type"] = 32, "absolute"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ColBERTCheckpointError, match="only jina's rotary variant.*trust_remote_code=True"):
        load_colbert(folder, device="cpu", dtype="float32")

    with pytest.raises(JinaXLMRError, match=r"lacks \['hidden_size'\]"):
        JinaXLMRConfig.from_dict({"vocab_size": 5, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4})


def test_tokenizer_falls_back_to_the_xlmr_class(jina_dir, monkeypatch):
    import transformers

    def refuse(*args, **kwargs):
        raise ValueError("the tokenizer of this repository needs trust_remote_code=True")  # as older transformers say

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    encoder = load_colbert(jina_dir, device="cpu", dtype="float32")
    assert encoder.tokenizer.convert_tokens_to_ids(JINA_MARKERS[0]) == encoder.query_marker_id
    assert "XLMRoberta" in type(encoder.tokenizer).__name__


def test_trust_remote_code_still_asks_for_jinas_own_code(jina_dir):
    with pytest.raises(ColBERTCheckpointError, match=r"(?s)not available offline.*leave trust_remote_code off"):
        load_colbert(jina_dir, device="cpu", dtype="float32", trust_remote_code=True)
