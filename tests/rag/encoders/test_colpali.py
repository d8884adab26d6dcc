"""ColPali / ColQwen2 page-image encoder on tiny random checkpoints built in the test (no download).

Real pages come from the SEC filings in ``../shared/data/pdfs`` (skipped when absent), rendered at
low resolution; expected token counts are written as the arithmetic of each processor.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rag.encoders.base import Encoded, Encoder
from rag.encoders.colpali import ColPaliEncoder, is_colvision_checkpoint, l2_normalize_rows
from rag.encoders.fingerprint import model_fingerprint
from rag.encoders.resolve import ModelNotFound
from rag.pdf_render import PageImage, render_pages

_spec = importlib.util.spec_from_file_location("tiny_colpali", Path(__file__).with_name("tiny_colpali.py"))
tiny_colpali = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_colpali)

PDF_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "pdfs"
PDFS = ["APPLE_2023Q3_10Q.pdf", "JOHNSON_JOHNSON_2023_8K_dated-2023-08-23.pdf", "EBAY_2023Q1_8K.pdf"]
FAMILIES = ["colpali", "colqwen2"]
QUERIES = ["what was the net revenue in the quarter?", "diluted earnings per share", "total assets"]
D = tiny_colpali.EMBEDDING_DIM


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_colvision")
    return {
        "colpali": tiny_colpali.build_tiny_colpali(root / "colpali"),
        "colqwen2": tiny_colpali.build_tiny_colqwen2(root / "colqwen2"),
    }


@pytest.fixture(scope="module")
def encoders(checkpoints) -> dict[str, ColPaliEncoder]:
    return {name: ColPaliEncoder(path, device="cpu", dtype="float32") for name, path in checkpoints.items()}


@pytest.fixture(scope="module")
def pages() -> list[PageImage]:
    """Page 1 and the last page of three real filings (two page sizes: US letter and A4), at 36 dpi."""
    missing = [name for name in PDFS if not (PDF_DIR / name).is_file()]
    if missing:
        pytest.skip(f"real PDFs not found in {PDF_DIR.resolve()} (missing {missing}); they live in ../shared/data/pdfs")
    out: list[PageImage] = []
    for name in PDFS:
        out.extend(render_pages(PDF_DIR / name, dpi=36, pages=[1]))
    out.extend(render_pages(PDF_DIR / PDFS[0], dpi=36, pages=[29]))
    return out


def _image_tokens(encoder: ColPaliEncoder, page: PageImage) -> int:
    """Image tokens a page becomes, from each processor's arithmetic (not from running it)."""
    ip = encoder.processor.image_processor
    if encoder.info.kind == "colpali":
        return ip.image_seq_length  # fixed: (image_size / patch_size) ** 2
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    factor = ip.patch_size * ip.merge_size
    h, w = smart_resize(
        page.height, page.width, factor=factor, min_pixels=ip.size["shortest_edge"], max_pixels=ip.size["longest_edge"]
    )
    return (h // factor) * (w // factor)  # (h / patch) * (w / patch) / merge**2


def _prompt_tokens(encoder: ColPaliEncoder) -> int:
    """Non-image tokens of a page: ColPali ``<bos>{prefix}\\n``; ColQwen2 its chat prompt minus the one image pad."""
    tok, proc = encoder.processor.tokenizer, encoder.processor
    if encoder.info.kind == "colpali":
        return len(tok.tokenize(f"{tok.bos_token}{proc.visual_prompt_prefix}\n"))
    return len(tok.tokenize(proc.visual_prompt_prefix)) - 1


def _query_tokens(encoder: ColPaliEncoder, query: str) -> int:
    tok, proc = encoder.processor.tokenizer, encoder.processor
    augmentation = tok.pad_token * 10
    bos = tok.bos_token if encoder.info.kind == "colpali" else ""
    return len(tok.tokenize(f"{bos}{proc.query_prefix}{query}{augmentation}\n"))


def _maxsim(queries: list[np.ndarray], docs: list[np.ndarray]) -> np.ndarray:
    """Reference late interaction: for each query token the best doc token's dot product, summed -> [n_q, n_d]."""
    return np.array([[float((q @ d.T).max(axis=1).sum()) for d in docs] for q in queries])


@pytest.mark.parametrize("family", FAMILIES)
def test_loads_as_encoder_with_stable_fingerprint(family, checkpoints, encoders):
    enc = encoders[family]
    assert isinstance(enc, Encoder)
    assert enc.info.kind == family and enc.info.multivector_dim == D == enc.dim
    assert enc.info.dense_dim is None and enc.info.sparse_vocab is None
    assert enc.info.extra["modality"] == "image" and enc.info.extra["dtype"] == "float32"
    again = ColPaliEncoder(str(checkpoints[family]), device="cpu", dtype="float32")
    assert again.info.fingerprint == enc.info.fingerprint == model_fingerprint(checkpoints[family])
    other = "colqwen2" if family == "colpali" else "colpali"
    assert encoders[other].info.fingerprint != enc.info.fingerprint


@pytest.mark.parametrize("family", FAMILIES)
def test_real_pages_encode_to_normalised_token_vectors(family, encoders, pages):
    enc = encoders[family]
    embeddings = enc.encode_images(pages, batch_size=3)
    assert len(embeddings) == len(pages)
    for page, emb in zip(pages, embeddings):
        assert emb.dtype == np.float32
        assert emb.shape == (_image_tokens(enc, page) + _prompt_tokens(enc), D)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
        assert np.isfinite(emb).all()
    # two different pages do not embed to the same vectors
    assert not np.allclose(embeddings[0][:8], embeddings[1][:8], atol=1e-3)
    if family == "colpali":  # fixed length whatever the page size
        assert {e.shape[0] for e in embeddings} == {16 + _prompt_tokens(enc)}
    else:  # letter and A4 pages give different grids
        assert len({e.shape[0] for e in embeddings}) > 1


@pytest.mark.parametrize("family", FAMILIES)
def test_storage_per_page_binary_vs_float16(family, encoders, pages):
    enc = encoders[family]
    for emb in enc.encode_images(pages[:2]):
        n = emb.shape[0]
        binary = np.packbits(emb > 0, axis=1)  # one sign bit per dimension
        half = emb.astype(np.float16)
        assert binary.shape == (n, D // 8) and binary.nbytes == n * D // 8 == n * 16
        assert half.nbytes == n * 2 * D == n * 256
        assert half.nbytes == 16 * binary.nbytes  # 2d / (d / 8)


@pytest.mark.parametrize("family", FAMILIES)
def test_query_encodes_with_prefix_and_augmentation_tokens(family, encoders):
    enc = encoders[family]
    result = enc.encode(QUERIES, kind="query")
    assert isinstance(result, Encoded) and result.dense is None and result.sparse is None
    assert len(result.multivector) == len(QUERIES)
    for query, emb in zip(QUERIES, result.multivector):
        assert emb.dtype == np.float32 and emb.shape == (_query_tokens(enc, query), D)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert enc.encode(QUERIES, kind="query", want=("dense", "sparse")) == Encoded()
    assert enc.encode([], kind="query").multivector == []


@pytest.mark.parametrize("family", FAMILIES)
def test_score_retrieval_ranks_like_our_maxsim(family, encoders, pages):
    enc = encoders[family]
    docs = enc.encode_images(pages)
    queries = enc.encode(QUERIES, kind="query").multivector
    ours = _maxsim(queries, docs)
    torch_q = [torch.from_numpy(q) for q in queries]
    # one page per call: within a call score_retrieval zero-pads shorter pages, and a zero row would win the max
    # for a query token whose dot products with a page are all negative; MaxSim over the real rows never pads
    reference = torch.cat([enc.processor.score_retrieval(torch_q, [torch.from_numpy(d)]) for d in docs], dim=1).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-4)
    for row_ours, row_ref in zip(ours, reference):
        ranked = np.argsort(-row_ours, kind="stable")
        assert (np.diff(row_ref[ranked]) <= 1e-5).all(), "score_retrieval ranks pages differently from MaxSim"
    if family == "colpali":  # equal-length pages: one batched call is the same
        batched = enc.processor.score_retrieval(torch_q, [torch.from_numpy(d) for d in docs]).numpy()
        np.testing.assert_allclose(batched, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_results_do_not_depend_on_batching(family, encoders):
    enc = encoders[family]
    rng = np.random.default_rng(0)
    sizes = [(300, 200), (90, 400), (64, 64)]
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in sizes]
    together = enc.encode_images(images, batch_size=3)
    alone = [enc.encode_images([image], batch_size=1)[0] for image in images]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, atol=1e-5)
    q_together = enc.encode(QUERIES, kind="query", batch_size=3).multivector
    q_alone = [enc.encode([q], kind="query").multivector[0] for q in QUERIES]
    for a, b in zip(q_together, q_alone):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_tokens_only_keeps_the_patch_rows(family, checkpoints, encoders):
    full_enc = encoders[family]
    patch_enc = ColPaliEncoder(checkpoints[family], device="cpu", dtype="float32", image_tokens_only=True)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (120, 90, 3), dtype=np.uint8))
    page = PageImage(page=1, image=image, width=90, height=120)
    full = full_enc.encode_images([page])[0]
    only = patch_enc.encode_images([page])[0]
    assert only.shape == (_image_tokens(full_enc, page), D)
    assert full.shape[0] - only.shape[0] == _prompt_tokens(full_enc)
    nearest = np.abs(only[:, None, :] - full[None, :, :]).max(axis=2).min(axis=1)
    assert (nearest < 1e-6).all()  # every kept row is one of the full rows
    assert patch_enc.info.extra["image_tokens_only"] is True
    # queries are unaffected by the switch
    [query_patch] = patch_enc.encode(QUERIES[:1], kind="query").multivector
    [query_full] = full_enc.encode(QUERIES[:1], kind="query").multivector
    np.testing.assert_allclose(query_patch, query_full)


def test_encode_never_changes_device_or_dtype(checkpoints):
    enc = ColPaliEncoder(checkpoints["colpali"], device="cpu", dtype="bfloat16")
    before = {(p.device, p.dtype) for p in enc.model.parameters()}
    assert before == {(torch.device("cpu"), torch.bfloat16)}
    default_dtype = torch.get_default_dtype()
    image = Image.new("L", (40, 60), color=128)  # grey-scale input is converted to RGB
    pages = enc.encode_images([image, image])
    queries = enc.encode(QUERIES, kind="query").multivector
    assert {(p.device, p.dtype) for p in enc.model.parameters()} == before
    assert torch.get_default_dtype() == default_dtype
    assert enc.info.extra["dtype"] == "bfloat16"
    for emb in pages + queries:  # float32 out, re-normalised after the bf16 forward
        assert emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_offline_hf_cache_is_used_and_missing_model_is_named(checkpoints, tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "models--tiny-org--tiny-colpali"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in checkpoints["colpali"].iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LATTE_MODELS_DIR", raising=False)

    enc = ColPaliEncoder("tiny-org/tiny-colpali", device="cpu", dtype="float32")
    assert enc.info.name == "tiny-org/tiny-colpali" and enc.folder == snapshot.resolve()
    named = ColPaliEncoder(snapshot, name="tiny-org/tiny-colpali", device="cpu", dtype="float32")
    assert named.info.name == "tiny-org/tiny-colpali" and named.info.fingerprint == enc.info.fingerprint
    assert enc.info.fingerprint == model_fingerprint(checkpoints["colpali"])
    with pytest.raises(ModelNotFound, match=r"vidore/not-cached.*HF_HUB_OFFLINE=1"):
        ColPaliEncoder("vidore/not-cached", device="cpu")


def test_wrong_checkpoints_get_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        ColPaliEncoder(empty, device="cpu")
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "config.json").write_text(json.dumps({"model_type": "paligemma"}))
    with pytest.raises(ValueError, match=r"colpali-engine checkpoint.*vidore/colpali-v1.3-hf"):
        ColPaliEncoder(engine, device="cpu")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match="adapter checkpoint"):
        ColPaliEncoder(adapter, device="cpu")
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match=r"model_type 'bert'.*colpali"):
        ColPaliEncoder(bert, device="cpu")
    assert not any(is_colvision_checkpoint(p) for p in (empty, engine, adapter, bert))


def test_checkpoint_detection(checkpoints):
    assert all(is_colvision_checkpoint(path) for path in checkpoints.values())


def test_bad_inputs_get_clear_errors(encoders):
    enc = encoders["colpali"]
    with pytest.raises(ValueError, match="encode_images"):
        enc.encode(["a page of text"], kind="document")
    with pytest.raises(ValueError, match="kind"):
        enc.encode(["q"], kind="passage")
    with pytest.raises(ValueError, match="unknown representation"):
        enc.encode(["q"], kind="query", want=("colbert",))
    with pytest.raises(TypeError, match="not one string"):
        enc.encode("just one string", kind="query")
    with pytest.raises(TypeError, match=r"images\[1\].*PIL images or PageImage"):
        enc.encode_images([Image.new("RGB", (8, 8)), np.zeros((8, 8, 3))])
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode_images([Image.new("RGB", (8, 8))], batch_size=0)
    assert enc.encode_images([]) == []


def test_doctests():
    import doctest

    import rag.encoders.colpali as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_l2_normalize_rows_keeps_zero_rows():
    out = l2_normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    assert out.dtype == np.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_matches_cpu(family, checkpoints, encoders):
    gpu = ColPaliEncoder(checkpoints[family], device="cuda", dtype="float32")
    assert {p.device.type for p in gpu.model.parameters()} == {"cuda"}
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 150, 3), dtype=np.uint8))
    np.testing.assert_allclose(gpu.encode_images([image])[0], encoders[family].encode_images([image])[0], atol=1e-3)
    for on_gpu, on_cpu in zip(
        gpu.encode(QUERIES, kind="query").multivector, encoders[family].encode(QUERIES, kind="query").multivector
    ):
        np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-3)
