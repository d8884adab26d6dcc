"""What the server holds between requests: the encoders (loaded once), the generator, and the current Planner.

Consistency: a search uses the Planner it got at its start, over one committed :class:`Snapshot`, to the end.
Each request compares ``manifest.json``'s stat (inode, mtime, size: one ``os.stat``) with the served one; when
another process committed, a background thread opens the new snapshot and swaps the reference atomically while
requests keep using the old one (its arrays are memory-mapped, so files a writer collects stay readable until
the last reader lets go). After its own write the server refreshes synchronously before acknowledging, so a
client reads its writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.encoders import share_encoders
from api.metrics import Metrics
from api.page_images import PageRenderer
from api.settings import Settings

log = logging.getLogger("latte.api")


@dataclass(frozen=True)
class Served:
    """One opened version: the planner over its snapshot and the manifest stat it was opened at."""

    planner: Any  # rag.planner.Planner
    stamp: tuple[int, int, int] | None

    @property
    def version(self) -> int:
        return self.planner.snapshot.version


def manifest_stamp(index: Path) -> tuple[int, int, int] | None:
    """(inode, mtime in ns, size) of ``index/manifest.json``; None when there is none. A commit renames a new
    manifest into place, so the inode changes even within one mtime tick."""
    try:
        st = os.stat(index / "manifest.json")
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def build_generator(settings: Settings) -> Any:
    """The answer generator the settings ask for (None: extractive answers)."""
    if settings.llm_backend == "llamacpp":
        from rag.answer import LlamaCppGenerator

        if settings.llm_model_path is None:  # Settings refuses llamacpp without a model path
            raise RuntimeError("llm_backend=llamacpp needs LATTE_LLM_MODEL_PATH (a GGUF file)")
        return LlamaCppGenerator(
            settings.llm_model_path,
            n_ctx=settings.llm_n_ctx,
            n_threads=settings.llm_threads,
            n_gpu_layers=settings.llm_gpu_layers,
            chat_format=settings.llm_chat_format,
        )
    if settings.llm_backend == "openai":
        from rag.answer import OpenAIHTTPGenerator

        return OpenAIHTTPGenerator(
            settings.llm_base_url,  # type: ignore[arg-type]
            settings.llm_model,
            timeout=settings.llm_timeout,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            context_size=settings.llm_context_size,
        )
    return None


class AppState:
    """Loaded in the app's lifespan (in a worker thread, so /healthz answers while models load)."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.index = Path(settings.index)
        self.roots = sorted({str(self.index), str(self.index.resolve()), str(self.index.absolute())}, key=len)
        self.encoders: dict[str, Any] | None = None
        self.profile: str | None = None
        self.generator: Any = None
        self.generator_error: str | None = None
        self.loading = True
        self.load_error: str | None = None
        self.write_lock = asyncio.Lock()  # one write at a time in this process (the index flock covers others)
        self._served: Served | None = None
        self._reload_lock = threading.Lock()
        self._failed_stamp: tuple[int, int, int] | None = None
        self.pages = PageRenderer(
            workers=settings.page_render_workers,
            timeout=settings.page_render_timeout,
            cache_bytes=settings.page_cache_bytes,
        )  # page images of PDF documents; its child processes start on the first page asked for

    # -- start-up ------------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Open the index (when there is one), load its encoders and the generator. Never raises: a failure is
        logged and kept in ``load_error`` for /readyz."""
        if self.settings.index_url:
            self._start_sync()
        try:
            from api.uploads import collect_leftovers

            collect_leftovers(self.index)  # upload folders a crashed or killed server left behind
        except OSError:
            log.exception("removing leftover upload folders failed")
        try:
            from indexers.folder import IndexFolder, Snapshot
            from rag.encoders.resolve import MODELS_DIR_ENV
            from rag.service import load_encoders

            if self.settings.models_dir is not None:
                os.environ.setdefault(MODELS_DIR_ENV, str(self.settings.models_dir))
            if self.settings.torch_threads is not None:
                import torch

                torch.set_num_threads(self.settings.torch_threads)
            snap = None
            if IndexFolder(self.index).exists():
                stamp = manifest_stamp(self.index)
                snap = Snapshot.open(self.index)
                self.profile = snap.manifest.profile
                if self.settings.profile and self.settings.profile != self.profile:
                    log.warning(
                        "LATTE_PROFILE=%s ignored: the index was built with profile %s", self.settings.profile, self.profile
                    )
                models = snap.manifest.models
            else:
                self.profile = self.settings.new_index_profile
                models = None
            self.encoders = share_encoders(
                load_encoders(self.profile, device=self.settings.device, models=models, image_model=self.settings.colpali_model)
            )
            if snap is not None:
                self._install(snap, stamp)
            if "multivector" in self.encoders:
                from rerank import lut_kernel

                lut_kernel.warm_up()  # compile the CPU MaxSim kernel now, not on the first search
        except Exception as exc:  # reported by /readyz; the process stays up for /healthz and logs
            log.exception("loading the index or its models failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
        try:
            self.generator = build_generator(self.settings)
        except Exception as exc:
            log.exception("loading the LLM backend failed")
            self.generator_error = f"{type(exc).__name__}: {exc}"
        self.loading = False

    # -- a read replica of an index on object storage -----------------------------------------------------------
    def _start_sync(self) -> None:
        """Mirror ``index_url`` into the local index folder now, then every ``sync_interval`` seconds in a daemon
        thread; a new version lands as a new local manifest, which ``current`` picks up as any commit."""
        from indexers.storage import RemoteIndex

        self.remote = RemoteIndex(self.settings.index_url)  # type: ignore[arg-type]
        self._stop_sync = threading.Event()
        try:
            self.remote.pull(self.index)
        except Exception:  # the loop retries; /readyz says not ready until a version is mirrored
            log.exception("mirroring %s failed", self.settings.index_url)

        def loop() -> None:
            while not self._stop_sync.wait(self.settings.sync_interval):
                try:
                    self.remote.pull(self.index)
                except Exception:
                    log.exception("mirroring %s failed; still serving version %s", self.settings.index_url, self.version)

        threading.Thread(target=loop, name="latte-sync", daemon=True).start()

    @property
    def ready(self) -> bool:
        return not self.loading and self.load_error is None and self._served is not None

    # -- the served version ----------------------------------------------------------------------------------------
    def current(self) -> Served | None:
        """The version to search now; starts a background reload when the manifest changed on disk."""
        served = self._served
        if self.loading or self.encoders is None:
            return served
        stamp = manifest_stamp(self.index)
        if stamp is not None and (served is None or stamp != served.stamp) and stamp != self._failed_stamp:
            if served is None:
                with self._reload_lock:
                    self._reload()
            elif self._reload_lock.acquire(blocking=False):
                threading.Thread(target=self._reload_and_release, name="latte-reload", daemon=True).start()
        return self._served

    def refresh(self) -> Served | None:
        """Open the committed version now (after this server's own write), waiting for a reload in progress."""
        with self._reload_lock:
            self._reload()
        return self._served

    def _reload_and_release(self) -> None:
        try:
            self._reload()
        finally:
            self._reload_lock.release()

    def _reload(self) -> None:
        """Open the committed version if it differs from the served one (caller holds ``_reload_lock``)."""
        from indexers.folder import Snapshot

        stamp = manifest_stamp(self.index)
        if stamp is None or (self._served is not None and stamp == self._served.stamp):
            return
        try:
            snap = Snapshot.open(self.index)
            profile = snap.manifest.profile
            if profile != self.profile:
                from rag.service import load_encoders

                log.warning("the index was rebuilt with profile %s (was %s): loading its encoders", profile, self.profile)
                self.encoders = share_encoders(
                    load_encoders(
                        profile,
                        device=self.settings.device,
                        models=snap.manifest.models,
                        image_model=self.settings.colpali_model,
                    )
                )
                self.profile = profile
            self._install(snap, stamp)
            self._failed_stamp = None
        except Exception:
            self._failed_stamp = stamp
            self.metrics.reload_failures.inc()
            log.exception("opening the new index version failed; still serving version %s", self.version)

    def _install(self, snap: Any, stamp: tuple[int, int, int] | None) -> None:
        from rag.planner import Planner

        planner = Planner(snap, self.encoders)
        self._served = Served(planner, stamp)
        self.metrics.reloads.inc()
        self.metrics.observe_index(snap.version, snap.manifest.documents)
        log.info("serving index version %s", snap.version)

    @property
    def version(self) -> int | None:
        return None if self._served is None else self._served.version

    def close(self) -> None:
        stop = getattr(self, "_stop_sync", None)
        if stop is not None:
            stop.set()
        self.pages.close()
        close = getattr(self.generator, "close", None)
        if close is not None:
            close()
