"""The loader table: a file format is one load function plus one ``LoaderEntry``; detection by suffix, forcing
with ``fmt``, the supported-formats help and the API's upload types all follow the table."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.loaders import LOADERS, LoaderEntry, LoadOptions, UnsupportedFormat, detect_format, iter_documents
from rag.loaders.options import formats, register_loader, supported_help, upload_suffixes
from rag.records import Document, LoadProblem


# ---- the toy format: one file would hold just this function --------------------------------------------------
def load_csvtoy(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """One ``Document`` per non-empty line ``id,text``; a line without a comma is a problem."""
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, text = line.partition(",")
        if not sep:
            yield LoadProblem(str(path), "expected id,text; line skipped", line_no)
            continue
        yield Document(id=f"{doc_id}:{key}", text=text, source=str(path))


TOY = LoaderEntry("csvtoy", load_csvtoy, suffixes=(".csvtoy",), label="toy CSV")


@pytest.fixture()
def toy_registered():
    before = dict(LOADERS)
    register_loader(TOY)
    yield
    LOADERS.clear()
    LOADERS.update(before)


def _ids(records):
    return [r.id for r in records if isinstance(r, Document)]


def test_a_registered_format_is_read_from_a_folder_and_a_file(tmp_path, toy_registered):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.csvtoy").write_text("1,first line\n2,second line\n\nno comma\n", encoding="utf-8")
    (folder / "b.txt").write_text("a text file", encoding="utf-8")
    (folder / "c.CSVTOY").write_text("9,upper-case suffix\n", encoding="utf-8")

    records = list(iter_documents([folder]))
    assert _ids(records) == ["a.csvtoy:1", "a.csvtoy:2", "b.txt", "c.CSVTOY:9"]
    problems = [r for r in records if isinstance(r, LoadProblem)]
    assert [(p.line, p.message) for p in problems] == [(4, "expected id,text; line skipped")]

    single = list(iter_documents(folder / "a.csvtoy"))
    assert _ids(single) == ["a.csvtoy:1", "a.csvtoy:2"]
    assert [d.text for d in single if isinstance(d, Document)] == ["first line", "second line"]
    assert detect_format(folder / "a.csvtoy") == "csvtoy"


def test_a_registered_format_can_be_forced_and_is_named_in_the_help(tmp_path, toy_registered):
    odd = tmp_path / "rows.dat"
    odd.write_text("7,forced\n", encoding="utf-8")
    assert "csvtoy" in formats()
    assert _ids(iter_documents(odd, LoadOptions(fmt="csvtoy"))) == ["rows.dat:7"]
    assert "toy CSV (.csvtoy)" in supported_help()
    with pytest.raises(UnsupportedFormat, match=r"toy CSV \(\.csvtoy\)"):
        detect_format(odd)  # .dat is no format's suffix: the message lists the toy among the supported ones
    assert ".csvtoy" not in upload_suffixes()  # uploads are opt-in per entry (upload_suffixes)


def test_the_table_is_back_to_the_built_in_formats_without_the_toy(tmp_path):
    assert "csvtoy" not in LOADERS and "csvtoy" not in supported_help()
    with pytest.raises(ValueError, match="choose one of auto, beir, mldr, jsonl, parquet, text, pdf$"):
        LoadOptions(fmt="csvtoy")
    path = tmp_path / "a.csvtoy"
    path.write_text("1,x\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormat):
        detect_format(path)


def test_register_loader_refuses_reserved_and_taken_names():
    with pytest.raises(ValueError, match="reserved"):
        register_loader(LoaderEntry("auto", load_csvtoy))
    with pytest.raises(ValueError, match="reserved"):
        register_loader(LoaderEntry("folder", load_csvtoy))
    with pytest.raises(ValueError, match="already registered"):
        register_loader(LoaderEntry("pdf", load_csvtoy))
    assert LOADERS["pdf"].load == "rag.loaders.pdf:load_pdf_file"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_built_in_entry_names_a_load_function_with_the_common_signature(name):
    entry = LOADERS[name]
    assert entry.name == name
    params = list(inspect.signature(entry.loader()).parameters)
    assert params == ["path", "doc_id", "options"]
    assert set(entry.upload_suffixes) <= set(entry.suffixes)
    assert all(s == s.lower() and s.startswith(".") for s in entry.suffixes)


def test_built_in_suffixes_belong_to_one_format_each():
    claimed = [s for entry in LOADERS.values() for s in entry.suffixes]
    assert len(claimed) == len(set(claimed))


def test_the_cli_format_option_and_the_api_uploads_follow_the_table():
    from api.uploads import ALLOWED_SUFFIXES
    from rag.cli import ingest
    from rag.loaders import FORMATS

    assert inspect.signature(ingest).parameters["fmt"].default.help == "|".join(FORMATS)
    assert "|".join(FORMATS) == "auto|beir|mldr|jsonl|parquet|text|pdf"
    assert set(ALLOWED_SUFFIXES) == {".pdf", ".txt", ".text", ".md", ".markdown", ".jsonl", ".ndjson", ".jsonl.gz",
                                     ".ndjson.gz"}
