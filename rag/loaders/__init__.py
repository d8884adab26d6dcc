"""Streaming document loaders: BEIR, MLDR, JSON lines, Parquet, text/Markdown and PDF, files or folders.

>>> from rag.loaders import LoadOptions, iter_documents
>>> for record in iter_documents(["corpus.jsonl", "docs/"], LoadOptions()):  # doctest: +SKIP
...     ...  # a Document, or a LoadProblem (level "error": not loaded; "warning": loaded, with a remark)

Nothing reads a whole corpus: JSON lines go line by line (gzip too), Parquet by record batches,
folders file by file. One text, Markdown or PDF file is one document. ``LOADERS`` (``rag/loaders/options.py``)
holds one ``LoaderEntry`` per format: its name, suffixes, loader and help; a new format is a module and an entry.
"""

from rag.loaders.detect import detect_format
from rag.loaders.dispatch import iter_documents
from rag.loaders.options import FORMATS, LOADERS, LoaderEntry, LoadOptions, UnsupportedFormat, register_loader

__all__ = [
    "FORMATS", "LOADERS", "LoadOptions", "LoaderEntry", "UnsupportedFormat", "detect_format", "iter_documents",
    "register_loader",
]
