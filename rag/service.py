"""Keyword-only service functions shared by the CLI, the REST API and the evaluation runner.

They wire models to indexes through the manifest: an index records the profile and the encoders it was built
with, and querying it loads the same ones (or refuses a mismatch with a clear message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UserError
from indexers.folder import IndexFolder, Snapshot
from rag.passage_encoding import encode_pages, make_encode  # noqa: F401 (re-exported)
from rag.planner import Planner
from rag.profiles import get_profile, index_profile

if TYPE_CHECKING:  # the ingest pipeline is imported where it runs: a search does not need it
    from rag.ingest import IngestSettings, IngestSummary
    from rag.loaders import LoadOptions

def profile_indexes(profile: str) -> tuple[str, ...]:
    """The passage-level indexes ``profile`` builds (an unknown name is a ``UserError`` naming the known ones)."""
    return get_profile(profile).indexes


def load_encoders(
    profile: str,
    *,
    device: str = "auto",
    models: dict[str, Any] | None = None,
    image_model: str | None = None,
    model_overrides: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Encoders for ``profile`` keyed by representation ({} for 'bm25'); checks them against recorded ``models``.

    Each representation's model is, in order: ``model_overrides[rep]`` (``latte ingest --dense-model`` /
    ``--tensor-model``: any HF id or local path, e.g. a ColBERT checkpoint for the tensors), the model the index
    recorded, the profile's default. A ``page_images`` profile (``colpali``) takes its page-image model from
    ``image_model``, else the one the index recorded, else ``$LATTE_COLPALI_MODEL``, else the profile's
    (``vidore/colpali-v1.3-hf``).
    """
    base = get_profile(profile)
    if not base.indexes:
        return {}
    import dataclasses

    from rag.encoders.registry import check_compatible, load_profile

    unknown = sorted(set(model_overrides or {}) - {"dense", "sparse", "multivector"})
    if unknown:
        raise UserError(f"model overrides for unknown representations {unknown}; use dense, sparse or multivector")
    chosen: dict[str, Any] = {}
    for want in base.models():
        if want == "multivector" and base.page_images:
            continue
        spec = (model_overrides or {}).get(want) or ((models or {}).get(want) or {}).get("name")
        if spec:
            chosen[want] = spec
    encs = load_profile(dataclasses.replace(base, **chosen) if chosen else base, device=device)
    wanted = set(base.representations)
    encs = {rep: e for rep, e in encs.items() if rep in wanted}
    if base.page_images and base.multivector:
        import os

        from rag.encoders.colpali import ColPaliEncoder

        spec = (
            image_model
            or ((models or {}).get("multivector") or {}).get("name")
            or os.environ.get("LATTE_COLPALI_MODEL")
            or base.multivector
        )
        encs["multivector"] = ColPaliEncoder(spec, device=device)
    for rep, recorded in (models or {}).items():
        if rep in encs:
            check_compatible(recorded, encs[rep].info)
    return encs


def new_components(profile: str, encoders: dict[str, Any], quantization: str = "binary") -> dict[str, Any]:
    from indexers.analyzers import MultilingualAnalyzer
    from indexers.folder import create_component

    comps: dict[str, Any] = {"docs": create_component("docs"), "bm25": create_component("bm25", analyzer=MultilingualAnalyzer())}
    # passage-level BM25 ranks passages and PDF pages lexically (rag.units); it shares the documents' analyzer
    comps["bm25_passages"] = create_component("bm25_passages", analyzer=comps["bm25"].analyzer)
    # each passage-level kind's parameters, from the encoders that fill it
    params: dict[str, Callable[[], dict[str, Any]]] = {
        "dense": lambda: {"dim": encoders["dense"].info.dense_dim},
        "sparse": lambda: {"vocab_size": encoders["sparse"].info.sparse_vocab},
        "tensors": lambda: {"dim": encoders["multivector"].info.multivector_dim, "store_float16": quantization == "float16"},
    }
    for kind in profile_indexes(profile):
        comps[kind] = create_component(kind, **params[kind]())
    return comps


def models_record(encoders: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import asdict

    return {rep: asdict(e.info) for rep, e in encoders.items()}


def ingest_paths(
    paths: Sequence[str | Path],
    index: str | Path,
    *,
    settings: IngestSettings | None = None,
    load_options: LoadOptions | None = None,
    profile: str | None = None,
    device: str = "auto",
    quantization: str = "binary",
    progress: bool = False,
    encoders: dict[str, Any] | None = None,
    image_model: str | None = None,
    workers: int = 1,
    model_overrides: dict[str, str] | None = None,
    ray_address: str | None = None,
    ray_actors: int | None = None,
    encode_batch_size: int = 32,
) -> IngestSummary:
    """Ingest ``paths`` into ``index`` with the profile's encoders. ``ray_address`` (``local``, ``auto``,
    ``host:port``) runs the pipeline on a Ray cluster instead (``rag.distributed``): ``ray_actors`` encoder actors
    load the same encoders where they run; ``encode_batch_size`` is the encoder's forward-pass batch."""
    from indexers.storage import is_url
    from rag.ingest import ingest

    if is_url(index):  # object storage: ingest into a local staging mirror that publishes each commit
        from indexers.storage import RemoteIndex

        with RemoteIndex(str(index)).staging() as local:
            return ingest_paths(
                paths, local, settings=settings, load_options=load_options, profile=profile, device=device,
                quantization=quantization, progress=progress, encoders=encoders, image_model=image_model,
                workers=workers, model_overrides=model_overrides, ray_address=ray_address, ray_actors=ray_actors,
                encode_batch_size=encode_batch_size,
            )
    # the profile rule (rag.profiles): checked before the models load, and again under the write lock
    prof, manifest = index_profile(index, profile)
    recorded_models = manifest.models if manifest is not None else None
    if encoders is None:
        encoders = load_encoders(prof.name, device=device, models=recorded_models, image_model=image_model,
                                 model_overrides=model_overrides)
    components = new_components(prof.name, encoders, quantization) if manifest is None else None
    cb = _progress_callback() if progress else None
    if ray_address is not None:
        from rag.distributed import ingest_ray

        factory = partial(load_encoders, prof.name, device=device, models=recorded_models, image_model=image_model,
                          model_overrides=model_overrides) if encoders else None
        try:
            return ingest_ray(
                paths, index, address=ray_address, settings=settings, load_options=load_options,
                encoder_factory=factory, components=components, models=models_record(encoders),
                progress=cb[0] if cb else None, profile=prof.name, actors=ray_actors,
                encode_batch_size=encode_batch_size,
            )
        finally:
            if cb:
                cb[1]()
    try:
        summary = ingest(
            paths,
            index,
            settings=settings,
            load_options=load_options,
            encode=make_encode(encoders, batch_size=encode_batch_size),
            components=components,
            models=models_record(encoders),
            progress=cb[0] if cb else None,
            profile=prof.name,
            workers=workers,
        )
    finally:
        if cb:
            cb[1]()
    return summary


def _progress_callback() -> tuple[Callable[[IngestSummary], None], Callable[[], None]]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    prog = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("read {task.fields[read]:,} · indexed {task.fields[indexed]:,} · dropped {task.fields[dropped]:,} · {task.fields[rate]:,.1f} docs/s"),
        TimeElapsedColumn(),
        transient=False,
    )
    prog.start()
    task = prog.add_task("ingesting", read=0, indexed=0, dropped=0, rate=0.0)
    import time

    t0 = time.perf_counter()
    last = [0.0]

    def update(s: IngestSummary) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.2:
            return
        last[0] = now
        prog.update(
            task, read=s.read, indexed=s.indexed + 0, dropped=sum(s.dropped.values()), rate=s.read / max(now - t0, 1e-9)
        )

    return update, prog.stop


def open_snapshot(index: str | Path) -> Snapshot:
    return Snapshot.open(index)


class LazyEncoders(Mapping):
    """The encoders of a profile, loaded the first time a search needs one (``get`` or ``[]``), not before:
    asking which representations exist (``in``, iteration) loads nothing, so a BM25-only search, or one
    without the MaxSim rerank, never loads a model. All of the profile's encoders load together (they usually
    share one model)."""

    def __init__(self, reps: Sequence[str], load: Callable[[], dict[str, Any]]) -> None:
        self._reps = list(dict.fromkeys(reps))
        self._load = load
        self._encoders: dict[str, Any] | None = None

    @property
    def loaded(self) -> bool:
        return self._encoders is not None

    def __getitem__(self, rep: str) -> Any:
        if rep not in self._reps:
            raise KeyError(rep)
        if self._encoders is None:
            self._encoders = self._load()
        return self._encoders[rep]

    def __contains__(self, rep: object) -> bool:
        return rep in self._reps

    def __iter__(self) -> Iterator[str]:
        return iter(self._reps)

    def __len__(self) -> int:
        return len(self._reps)


def open_searcher(index: str | Path, *, device: str = "auto", snapshot: Snapshot | None = None, lazy: bool = True) -> Planner:
    """A planner over the committed version of ``index``; with ``lazy`` its models load only when a search needs
    them (see :class:`LazyEncoders`)."""
    snap = snapshot or open_snapshot(index)
    profile = snap.manifest.profile

    def load() -> dict[str, Any]:
        return load_encoders(profile, device=device, models=snap.manifest.models)

    if not lazy:
        return Planner(snap, load())
    reps = list(get_profile(profile).representations)
    return Planner(snap, LazyEncoders(reps, load))


def delete_ids(index: str | Path, ids: Sequence[str]) -> tuple[list[str], list[str], int]:
    from indexers.writer import IndexWriter

    folder = IndexFolder(index)
    folder.read_manifest()  # a clear error when there is no index
    with IndexWriter(index) as w:
        deleted, missing = w.delete_ids(list(ids))
        version = w.commit() if deleted else w.version
    return deleted, missing, version


def _dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.exists() else 0


def index_info(index: str | Path) -> dict[str, Any]:
    snap = open_snapshot(index)
    m = snap.manifest
    sizes = {kind: _human(_dir_size(snap.path / kind)) for kind in m.components}
    extra: dict[str, Any] = {}
    tensors = snap.get("tensors")
    if tensors is not None and hasattr(tensors, "size_report"):
        extra["tensors"] = tensors.size_report()
    return {"path": str(snap.path), "manifest": m.to_dict(), "counts": m.counts, "sizes": sizes, **extra}


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def make_generator(
    *,
    llm_model: str | None = None,
    llm_url: str | None = None,
    llm_name: str = "local",
    n_ctx: int = 4096,
    threads: int | None = None,
    gpu_layers: int = 0,
    timeout: float = 120.0,
) -> Any | None:
    """A generator from options: a GGUF file in-process (llama.cpp), an OpenAI-compatible server, or None
    (extractive answers)."""
    if llm_model and llm_url:
        raise UserError("give either a GGUF model file (--llm-model) or a server URL (--llm-url), not both")
    if llm_model:
        if not Path(llm_model).is_file():
            raise FileNotFoundError(
                f"GGUF model {llm_model} not found; download one (for example a Q4_K_M instruct model) and pass its path"
            )
        from rag.answer import LlamaCppGenerator

        return LlamaCppGenerator(llm_model, n_ctx=n_ctx, n_threads=threads, n_gpu_layers=gpu_layers)
    if llm_url:
        from rag.answer import OpenAIHTTPGenerator

        return OpenAIHTTPGenerator(llm_url, llm_name, timeout=timeout)
    return None
