"""``latte ingest --ray ADDRESS``: the ingest pipeline on a Ray cluster, building the index one process builds.

What runs where:

- **Ray Data reads the inputs**: one read task per input file (folders are walked on the driver, files read in
  parallel), records streamed back in input order (``preserve_order``).
- **Ray tasks clean, check, fingerprint and split**: chunks of ``PARALLEL_CHUNK`` documents go through
  :func:`rag.prepare.prepare_documents` (the function ``--workers`` runs in local processes); a failed task is
  retried (``max_retries``).
- **The driver decides in input order**: repeated ids, unchanged documents, replacements and the MinHash LSH
  decisions, exactly as :class:`rag.ingest.Ingestor` does for ``--workers`` (signatures come from the tasks), so
  dedupe stays exact.
- **An actor pool encodes**: kept passages go ``encode_passages`` at a time, round robin, to encoder actors (one
  GPU each when the cluster has GPUs); an actor that dies is restarted and its call retried.
- **One committer**: the driver holds the :class:`indexers.writer.IndexWriter` and makes the same atomic manifest
  commits, so a killed driver leaves the last committed version intact and the next run resumes.

Encoding chunks are the ones a single process encodes (same passages, same order, same encoder batch size), so
the index is the single-process one: same ids, same BM25 statistics, same vectors and tensors.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import numpy as np

from indexers.docstore import StoredDoc
from indexers.writer import IndexWriter
from rag.ingest import Ingestor, IngestSettings, IngestSummary, _nbytes, open_for_ingest
from rag.loaders import LoadOptions
from rag.profiles import UNRECORDED_PROFILE
from rag.records import Document, LoadProblem

#: encoder calls waiting in the pool per actor before the driver waits for the oldest one
PENDING_PER_ACTOR = 2
#: how many times Ray retries a failed task, or restarts a dead actor and retries its call
RETRIES = 3

EncoderFactory = Callable[[], dict[str, Any]]


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "latte ingest --ray needs Ray: pip install 'latte[ray]' (or pip install 'ray[data]')"
        ) from None
    return ray


# -- reading with Ray Data ----------------------------------------------------------------------------------------
def read_units(paths: Sequence[str | Path], options: LoadOptions) -> list[dict[str, str]]:
    """What the read tasks read, in input order: one unit per file (a folder gives one per file inside it, with
    the ids the local loader gives them). Paths are checked here, on the driver, as ``iter_documents`` does."""
    from rag.loaders.detect import file_format, walk_files
    from rag.loaders.dispatch import _plan

    units: list[dict[str, str]] = []
    for root in (Path(p) for p in paths):
        path, fmt = _plan(root, options)
        if fmt != "folder":
            units.append({"path": str(path), "fmt": fmt, "doc_id": path.name})
            continue
        forced = None if options.fmt == "auto" else options.fmt
        for f in walk_files(path, datasets=forced is None):
            ffmt = file_format(f, forced) or ""
            units.append({"path": str(f), "fmt": ffmt, "doc_id": f.relative_to(path).as_posix()})
    return units


def _read_unit(row: dict[str, Any], options: LoadOptions) -> Iterator[dict[str, bytes]]:
    """A Ray Data ``flat_map``: the records of one file, pickled (documents and load problems keep their type)."""
    from rag.loaders.dispatch import _load_file
    from rag.loaders.options import supported_help

    path = Path(row["path"])
    if not row["fmt"]:
        recs: Any = [LoadProblem(str(path), f"skipped: unsupported file type in a folder. Supported: {supported_help()}",
                                 level="warning")]
    else:
        recs = _load_file(path, row["fmt"], row["doc_id"], options)
    for rec in recs:
        yield {"rec": pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL)}


def read_records(ray: Any, paths: Sequence[str | Path], options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """Every record of ``paths`` read by Ray Data tasks, in input order."""
    from functools import partial

    units = read_units(paths, options)
    if not units:
        return iter(())
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    ds = ray.data.from_items(units, override_num_blocks=len(units)).flat_map(partial(_read_unit, options=options))
    return (pickle.loads(row["rec"]) for row in ds.iter_rows())


# -- cleaning and splitting in Ray tasks ----------------------------------------------------------------------------
def _call(fn: Callable[[], Any]) -> Any:
    return fn()


class RayExecutor(Executor):
    """A ``concurrent.futures.Executor`` whose calls run as Ray tasks (retried when they fail), so the ordered,
    bounded map of ``Ingestor.feed`` runs on the cluster unchanged."""

    def __init__(self, ray: Any, workers: int) -> None:
        self._remote = ray.remote(_call).options(max_retries=RETRIES, retry_exceptions=False)
        self._max_workers = max(1, workers)  # read by Ingestor to size how many chunks are in flight

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        call = fn if not args and not kwargs else (lambda: fn(*args, **kwargs))
        return self._remote.remote(call).future()


# -- encoding in an actor pool --------------------------------------------------------------------------------------
class EncoderActor:
    """Holds a profile's encoders (built once by ``factory`` where the actor runs) and encodes passage chunks."""

    def __init__(self, factory: EncoderFactory, batch_size: int) -> None:
        from rag.passage_encoding import make_encode

        self._encode = make_encode(factory(), batch_size=batch_size)

    def encode(self, items: list[StoredDoc]) -> dict[str, Any]:
        assert self._encode is not None  # the driver builds actors only for profiles with encoders
        return self._encode(items)


def _light(views: list[StoredDoc]) -> list[StoredDoc]:
    """What an encoder reads of each document (title, source, the passages to encode), without its full text."""
    return [dataclasses.replace(v, doc=Document(v.doc.id, "", v.doc.title, {}, v.doc.source, None),
                                signature=np.empty(0, np.uint32), raw_counts=None) for v in views]


def _not_local(items: list[StoredDoc]) -> dict[str, Any]:
    raise RuntimeError("RayIngestor encodes in its actor pool, never in the driver")


class RayIngestor(Ingestor):
    """An :class:`Ingestor` whose encoding chunks run in Ray actors; their outputs are compacted and kept in
    order on the driver, as the local ingestor keeps its own."""

    def __init__(self, writer: IndexWriter, settings: IngestSettings, *, actors: list[Any], ray: Any,
                 **kwargs: Any) -> None:
        super().__init__(writer, settings, encode=_not_local if actors else None, **kwargs)
        self.ray = ray
        self.actors = actors
        self._pending: list[Any] = []  # ObjectRefs of submitted chunks, in passage order
        self._turn = 0

    def _encode_ready(self, final: bool) -> None:
        if not self.actors:
            return
        chunk = self.settings.encode_passages
        while self._unencoded >= chunk or (final and self._unencoded > 0):
            views, taken = self._take(chunk)
            actor = self.actors[self._turn % len(self.actors)]
            self._turn += 1
            self._pending.append(actor.encode.remote(_light(views)))  # arguments are serialised here
            for v in views:
                for p in v.passages:
                    p.text = ""
            self._unencoded -= taken
            while len(self._pending) > PENDING_PER_ACTOR * len(self.actors):
                self._collect_one()
        if final:
            while self._pending:
                self._collect_one()

    def _collect_one(self) -> None:
        part = self.writer.compact(self.ray.get(self._pending.pop(0)))
        self.encoded.append(part)
        self.encoded_bytes += _nbytes(part)


def start_actors(ray: Any, factory: EncoderFactory | None, *, count: int | None, gpus_per_actor: float | None,
                 batch_size: int) -> list[Any]:
    """``count`` encoder actors (default: one per GPU of the cluster, else one), each with ``gpus_per_actor`` GPUs
    (default: 1 when the cluster has GPUs, else 0)."""
    if factory is None:
        return []
    gpus = float(ray.cluster_resources().get("GPU", 0))
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if gpus >= 1 else 0.0
    if count is None:
        count = max(1, int(gpus // gpus_per_actor)) if gpus_per_actor else 1
    if count < 1:
        raise ValueError(f"the encoder pool needs at least one actor (got {count})")
    # a GPU actor holds a CPU to feed its GPU; a CPU-only actor holds none, sharing its node's cores with the
    # cleaning tasks as a single process does (holding one would starve small clusters of read and clean tasks)
    cls = ray.remote(EncoderActor).options(num_cpus=1 if gpus_per_actor else 0, num_gpus=gpus_per_actor,
                                           max_restarts=RETRIES, max_task_retries=RETRIES)
    return [cls.remote(factory, batch_size) for _ in range(count)]


def connect(ray: Any, address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to the cluster at ``address`` (``auto``: the one ``ray start`` runs here or ``$RAY_ADDRESS``;
    ``host:port`` or ``ray://host:10001``), or start a local one for ``local``/None. True when this call started or
    joined Ray (so the caller shuts it down); False when Ray was already initialised in this process."""
    if ray.is_initialized():
        return False
    if address in (None, "", "local"):
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return True


def ingest_ray(
    paths: Sequence[str | Path],
    index: str | Path,
    *,
    address: str | None = "local",
    settings: IngestSettings | None = None,
    load_options: LoadOptions | None = None,
    encoder_factory: EncoderFactory | None = None,
    components: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
    progress: Callable[[IngestSummary], None] | None = None,
    profile: str | None = None,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    encode_batch_size: int = 32,
    num_cpus: int | None = None,
) -> IngestSummary:
    """``rag.ingest.ingest`` on a Ray cluster (see the module's docstring). ``encoder_factory`` builds the
    profile's encoders inside each actor (None: no passage encoders, e.g. the bm25 profile); ``encode_batch_size``
    is the encoder's own batch (passages per forward pass), ``settings.encode_passages`` the passages per actor
    call."""
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
    ray = import_ray()
    opts = load_options or LoadOptions()
    read_units(paths, opts)  # checked before Ray starts: a bad path or format fails at once
    started = connect(ray, address, num_cpus)
    try:
        workers = int(ray.cluster_resources().get("CPU", 1))
        pool = start_actors(ray, encoder_factory, count=actors, gpus_per_actor=gpus_per_actor,
                            batch_size=encode_batch_size)
        opened = open_for_ingest(index, profile=profile, settings=settings, components=components, models=models,
                                 default_profile=UNRECORDED_PROFILE)
        with opened.writer as writer:
            ing = RayIngestor(writer, opened.settings, actors=pool, ray=ray, progress=progress,
                              executor=RayExecutor(ray, workers))
            ing.feed(read_records(ray, paths, opts))
            summary = ing.finish()
        for a in pool:
            ray.kill(a)
        return summary
    finally:
        if started:
            ray.shutdown()
