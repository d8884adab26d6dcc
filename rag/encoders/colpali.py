"""ColPali / ColQwen2 page-image encoders, through transformers' own retrieval classes.

A page is embedded from its image (no OCR, no layout parsing): ``encode_images`` returns one
``[n_tokens, d]`` float32 array per page, a query is embedded with ``encode(texts, kind="query")``,
and the two meet through late interaction (MaxSim: for each query token, the best page token's
dot product, summed over the query tokens).

Uses ``ColPaliForRetrieval`` + ``ColPaliProcessor`` (PaliGemma backbone) and
``ColQwen2ForRetrieval`` + ``ColQwen2Processor`` (Qwen2-VL backbone) from transformers, i.e. the
``-hf`` checkpoints such as ``vidore/colpali-v1.3-hf`` and ``vidore/colqwen2-v1.0-hf``; the
``colpali-engine`` package is not needed (and its adapter checkpoints are refused with a hint).

Token handling follows the processors: every token the processor marks in ``attention_mask`` is
kept, so a ColPali page has ``image_seq_length`` image tokens (1024 for the 448 px models) plus
the tokens of its visual prompt (``<bos>Describe the image.\\n``), a ColQwen2 page has
``(h / patch) * (w / patch) / merge**2`` image tokens after its processor resizes the page to
``h x w`` within its pixel bounds (so it depends on the page size) plus its prompt tokens, and
a query keeps its prefix, its 10 query-augmentation tokens and the trailing newline. Padding is
dropped. ``image_tokens_only=True`` keeps only the image-patch tokens of a page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rag.encoders.base import Encoded, EncoderInfo, Kind, Representation
from rag.encoders.device import dtype_name, resolve_device, resolve_dtype
from rag.encoders.fingerprint import model_fingerprint
from rag.encoders.resolve import resolve_model
from rag.pdf_render import PageImage

if TYPE_CHECKING:  # pragma: no cover - typing only
    from PIL import Image

_KINDS = ("query", "document")
_REPRESENTATIONS = ("dense", "sparse", "multivector")


@dataclass(frozen=True)
class _Family:
    kind: str
    model_class: str
    processor_class: str


#: ``config.json`` ``model_type`` -> the transformers classes that load it.
FAMILIES: dict[str, _Family] = {
    "colpali": _Family("colpali", "ColPaliForRetrieval", "ColPaliProcessor"),
    "colqwen2": _Family("colqwen2", "ColQwen2ForRetrieval", "ColQwen2Processor"),
}

#: Backbone model types that mean "a colpali-engine checkpoint", with the transformers checkpoint to use instead.
_ENGINE_HINTS = {
    "paligemma": "vidore/colpali-v1.3-hf",
    "qwen2_vl": "vidore/colqwen2-v1.0-hf",
}


def l2_normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero); ``x``: float ``[n, d]`` -> float32 ``[n, d]``.

    >>> l2_normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def is_colvision_checkpoint(path: Path) -> bool:
    """True when ``path`` is a transformers ColPali / ColQwen2 checkpoint folder (``config.json`` model_type).

    For model-kind detection (``rag.encoders.registry``); reads one small JSON file.
    """
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return False
    return model_type in FAMILIES


def _family_for(folder: Path, name: str) -> _Family:
    """Which transformers classes load ``folder``; a clear error for anything else."""
    if (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file():
        raise ValueError(
            f"model {name!r} ({folder}) is a colpali-engine adapter checkpoint, which transformers cannot load. "
            f"Use a transformers checkpoint instead, e.g. 'vidore/colpali-v1.3-hf' or 'vidore/colqwen2-v1.0-hf'."
        )
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ValueError(f"model {name!r}: {folder} has no config.json; is it a transformers checkpoint folder?")
    model_type = json.loads(config_path.read_text(encoding="utf-8")).get("model_type", "")
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    if model_type in _ENGINE_HINTS:
        raise ValueError(
            f"model {name!r} has model_type {model_type!r}: a bare vision-language backbone or a colpali-engine "
            f"checkpoint, not a transformers retrieval checkpoint. Use {_ENGINE_HINTS[model_type]!r} "
            f"(transformers' ColPali/ColQwen2 classes) instead."
        )
    raise ValueError(
        f"model {name!r} has model_type {model_type!r}; the page-image encoder loads {sorted(FAMILIES)} "
        f"checkpoints (e.g. 'vidore/colpali-v1.3-hf', 'vidore/colqwen2-v1.0-hf')."
    )


def _size_dict(image_processor: Any) -> dict[str, int]:
    """The resize rule of an image processor (ColPali: fixed height/width; ColQwen2: pixel bounds), set keys only."""
    size = getattr(image_processor, "size", None) or {}
    items = size.items() if hasattr(size, "items") else vars(size).items()
    return {k: int(v) for k, v in items if v is not None}


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


class ColPaliEncoder:
    """Page-image multivector encoder for ColPali and ColQwen2 checkpoints (transformers format).

    ``model``: a Hugging Face id or a local folder, resolved offline-first by
    ``rag.encoders.resolve.resolve_model`` (local path, ``LATTE_MODELS_DIR``, HF cache; a download
    only when ``HF_HUB_OFFLINE`` is not set). ``name`` (default ``str(model)``) is what ``info.name``
    records, e.g. the hub id when ``model`` is a folder that was already resolved. ``device``/``dtype`` are resolved once, here
    (``"auto"`` = first GPU else CPU; bfloat16 where the hardware runs it natively); encode calls
    never move the model or change its dtype. Output arrays are float32 whatever the model dtype.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        name: str | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        image_tokens_only: bool = False,
        models_dir: Path | None = None,
    ) -> None:
        import transformers

        folder = resolve_model(str(model), models_dir=models_dir)
        name = name or str(model)
        family = _family_for(folder, name)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.image_tokens_only = bool(image_tokens_only)
        self.folder = folder
        model_cls = getattr(transformers, family.model_class, None)
        processor_cls = getattr(transformers, family.processor_class, None)
        if model_cls is None or processor_cls is None:
            raise ImportError(
                f"transformers {transformers.__version__} has no {family.model_class}/{family.processor_class}: "
                "pip install -U 'transformers>=4.53' (ColQwen2 arrived in 4.53, ColPali in 4.47)"
            )
        self.processor = processor_cls.from_pretrained(str(folder), local_files_only=True)
        loaded = model_cls.from_pretrained(str(folder), dtype=self.dtype, local_files_only=True)
        self.model = loaded.to(self.device).eval()
        self._image_token_id = int(self.processor.image_token_id)
        dim = int(self.model.config.embedding_dim)
        self.info = EncoderInfo(
            name=name,
            kind=family.kind,
            fingerprint=model_fingerprint(folder),
            multivector_dim=dim,
            extra={
                "modality": "image",
                "architecture": family.model_class,
                "dtype": dtype_name(self.dtype),
                "image_tokens_only": self.image_tokens_only,
                "query_prefix": self.processor.query_prefix,
                "visual_prompt_prefix": self.processor.visual_prompt_prefix,
                "image_seq_length": getattr(self.processor, "image_seq_length", None),
                "image_size": _size_dict(self.processor.image_processor),
            },
        )

    @property
    def dim(self) -> int:
        """Embedding size ``d`` of every token vector (128 for the published checkpoints)."""
        return int(self.info.multivector_dim or 0)

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind,
        want: Sequence[Representation] = ("dense", "sparse", "multivector"),
        batch_size: int = 32,
    ) -> Encoded:
        """Encode queries; returns ``Encoded(multivector=[float32 [t_i, d], ...])`` (rows L2-normalised).

        Only ``kind="query"`` is accepted: documents are page images, see ``encode_images``.
        Only ``"multivector"`` is available; without it in ``want`` the result is empty.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'query' or 'document', got {kind!r}")
        unknown = [w for w in want if w not in _REPRESENTATIONS]
        if unknown:
            raise ValueError(f"unknown representation(s) {unknown}; choose from {list(_REPRESENTATIONS)}")
        if kind == "document":
            raise ValueError(
                f"{self.info.kind} embeds documents as page images: render pages with "
                "rag.pdf_render.render_pages and call encode_images(...); encode() takes queries only."
            )
        _positive_int(batch_size, "batch_size")
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string: wrap it in a list")
        if "multivector" not in want:
            return Encoded()
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        out: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            batch = self.processor.process_queries(text=texts[start : start + batch_size])
            out.extend(self._forward(batch, image_batch=False))
        return Encoded(multivector=out)

    def encode_images(self, images: Sequence[Image.Image | PageImage], batch_size: int = 4) -> list[np.ndarray]:
        """Embed page images: one float32 ``[n_tokens, d]`` array per image, rows L2-normalised.

        ``images``: PIL images (any mode; converted to RGB) or ``PageImage`` records from
        ``rag.pdf_render.render_pages``. ``n_tokens`` is fixed for ColPali and depends on the page
        size for ColQwen2 (see the module docstring).
        """
        from PIL import Image

        _positive_int(batch_size, "batch_size")
        pil: list[Image.Image] = []
        for i, item in enumerate(images):
            image = item.image if isinstance(item, PageImage) else item
            if not isinstance(image, Image.Image):
                raise TypeError(
                    f"images[{i}] is {type(item).__name__}; encode_images takes PIL images or PageImage records "
                    "(from rag.pdf_render.render_pages)"
                )
            pil.append(image if image.mode == "RGB" else image.convert("RGB"))
        out: list[np.ndarray] = []
        for start in range(0, len(pil), batch_size):
            batch = self.processor.process_images(images=pil[start : start + batch_size])
            out.extend(self._forward(batch, image_batch=True))
        return out

    def _forward(self, batch: Any, *, image_batch: bool) -> list[np.ndarray]:
        """One model call over a processor batch; the kept rows of each item, float32 and re-normalised.

        ``embeddings``: ``[b, t, d]`` in the model dtype, already L2-normalised and zeroed at
        padding by the model; kept rows: ``attention_mask == 1`` (and image tokens only, if asked).
        """
        batch = batch.to(self.device)
        with torch.inference_mode():
            embeddings = self.model(**batch).embeddings
        keep = batch["attention_mask"].bool()
        if image_batch and self.image_tokens_only:
            keep = keep & (batch["input_ids"] == self._image_token_id)
        embeddings = embeddings.float().cpu()
        keep = keep.cpu()
        return [l2_normalize_rows(embeddings[i][keep[i]].numpy()) for i in range(embeddings.shape[0])]
