"""colbert-ai (stanford-futuredata/ColBERT) under transformers 5, without patching it at import time.

colbert-ai 0.2.22 builds its ``HF_ColBERT`` model class inside ``class_factory`` and ends
``HF_ColBERT.__init__`` with ``self.init_weights()``. transformers 5 expects ``post_init()`` there:
``post_init`` records ``all_tied_weights_keys`` (and other per-model attributes) and then calls
``init_weights``, which reads them, so loading fails with "'HF_ColBERT' object has no attribute
'all_tied_weights_keys'". transformers 4 models are unaffected.

``colbert_ai_fixes()`` is a context manager that, only while it is open, makes the factory that
``colbert.modeling.base_colbert`` uses return a subclass whose ``init_weights`` runs ``post_init``
once (``post_init`` then calls the original ``init_weights`` itself); on exit the original factory
is back. ``colbert_ai_checkpoint(path)`` loads a ``colbert.modeling.checkpoint.Checkpoint`` inside it.

Importing colbert-ai has side effects of its own, which is why nothing here imports it before a
function is called: ``colbert.infra.launcher`` sets the multiprocessing start method to ``spawn``
(forced, process-wide), and the first ``Checkpoint`` on a CPU compiles a C++ extension
(``segmented_maxsim``; needs g++ and ninja, about 30 s, cached under ``~/.cache/torch_extensions``).
The patch is process-local: colbert-ai's ``Indexer`` loads the checkpoint again in spawned worker
processes, where it is absent; with ``RunConfig(nranks=1, avoid_fork_if_possible=True)`` the
indexer runs in-process and the patch applies (see ``plaid_index``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

_LOCK = threading.RLock()  # re-entrant: a nested colbert_ai_fixes() in the same thread must not deadlock
_INSTALL = "pip install -c constraints.txt 'colbert-ai>=0.2.22' ninja  (or: pip install 'latte[colbert]')"


def _colbert():
    try:
        import colbert  # noqa: F401
        import colbert.modeling.base_colbert as base_colbert
    except ImportError as exc:
        raise ImportError(f"colbert-ai is not installed: {_INSTALL}") from exc
    return base_colbert


def _needs_post_init() -> bool:
    """True for transformers versions whose ``init_weights`` relies on ``post_init`` having run (5.x)."""
    from transformers import PreTrainedModel

    return "all_tied_weights_keys" in PreTrainedModel.post_init.__code__.co_names


def _fixed_factory(original):
    def class_factory(name_or_path):
        base = original(name_or_path)

        class HF_ColBERT(base):  # noqa: N801 - keep colbert-ai's class name (it is saved in config.json)
            def init_weights(self):
                if getattr(self, "_latte_post_init_done", False):
                    return super().init_weights()
                self._latte_post_init_done = True
                return self.post_init()  # records the tied-weight keys, then calls init_weights again

        HF_ColBERT.__qualname__ = base.__qualname__
        return HF_ColBERT

    return class_factory


@contextlib.contextmanager
def colbert_ai_fixes() -> Iterator[None]:
    """While open, colbert-ai builds ``HF_ColBERT`` models that load under transformers 5 (no-op on 4.x).

    Only ``colbert.modeling.base_colbert.class_factory`` is replaced, and it is restored on exit,
    also after an error. Entries are serialised by a (re-entrant) lock, so two threads cannot interleave the swap.
    """
    base_colbert = _colbert()
    if not _needs_post_init():
        yield
        return
    with _LOCK:
        original = base_colbert.class_factory
        base_colbert.class_factory = _fixed_factory(original)
        try:
            yield
        finally:
            base_colbert.class_factory = original


def colbert_ai_checkpoint(path: str | Path, **config: Any):
    """A colbert-ai ``Checkpoint`` for a local ``HF_ColBERT`` folder, loaded under ``colbert_ai_fixes()``.

    ``config`` goes to ``ColBERTConfig`` (``checkpoint=path`` is always set, which colbert-ai needs
    when a folder has no ``artifact.metadata``). Returns ``colbert.modeling.checkpoint.Checkpoint``:
    ``queryFromText(texts) -> [n, query_maxlen, dim]`` and ``docFromText(texts, keep_dims=False)``.
    """
    _colbert()
    from colbert.infra import ColBERTConfig
    from colbert.modeling.checkpoint import Checkpoint

    path = str(Path(path))
    with colbert_ai_fixes():
        return Checkpoint(path, colbert_config=ColBERTConfig(checkpoint=path, **config), verbose=0)


def _run_config(index_dir: Path, gpus: int):
    from colbert.infra import RunConfig

    return RunConfig(nranks=1, gpus=gpus, avoid_fork_if_possible=True, index_root=str(index_dir.parent),
                     root=str(index_dir.parent), experiment="latte")


def plaid_index(
    path: str | Path,
    collection: Sequence[str],
    *,
    index_dir: str | Path,
    nbits: int = 2,
    kmeans_niters: int = 4,
    gpus: int = 0,
    **config: Any,
) -> Path:
    """Build a colbert-ai PLAID index of ``collection`` in ``index_dir``, in-process (one rank, no fork).

    ``config`` goes to ``ColBERTConfig`` (e.g. ``doc_maxlen``); ``gpus=0`` runs on the CPU (colbert-ai
    then compiles its C++ kernels on first use). Passage ids are the positions in ``collection``. The checkpoint's ``dim`` must be a multiple of ``8 * nbits`` (PLAID packs
    residual bits by bytes). An index already in ``index_dir`` is replaced. Runs under
    ``colbert_ai_fixes()`` so transformers 5 can load the checkpoint. Returns ``index_dir``.
    """
    _colbert()
    from colbert import Indexer
    from colbert.infra import ColBERTConfig, Run

    path, index_dir = str(Path(path)), Path(index_dir)
    colbert_config = ColBERTConfig(checkpoint=path, nbits=nbits, kmeans_niters=kmeans_niters, **config)
    with colbert_ai_fixes(), Run().context(_run_config(index_dir, gpus)):
        indexer = Indexer(checkpoint=path, config=colbert_config, verbose=0)
        location = indexer.index(name=index_dir.name, collection=list(collection), overwrite="force_silent_overwrite")
    return Path(location)


def plaid_search(
    path: str | Path,
    queries: Sequence[str],
    *,
    index_dir: str | Path,
    k: int = 10,
    gpus: int = 0,
    **config: Any,
) -> list[list[tuple[int, float]]]:
    """Search a ``plaid_index`` index: per query, up to ``k`` (passage position, score) pairs, best first."""
    _colbert()
    from colbert import Searcher
    from colbert.infra import ColBERTConfig, Run

    path, index_dir = str(Path(path)), Path(index_dir)
    with colbert_ai_fixes(), Run().context(_run_config(index_dir, gpus)):
        searcher = Searcher(index=index_dir.name, checkpoint=path, index_root=str(index_dir.parent),
                            config=ColBERTConfig(checkpoint=path, **config), verbose=0)
        results = []
        for query in queries:
            pids, _ranks, scores = searcher.search(query, k=k)
            results.append([(int(p), float(s)) for p, s in zip(pids, scores)])
    return results
