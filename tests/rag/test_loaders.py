"""Tests for rag.loaders: every format, folders, and the robustness cases (bad bytes, bad JSON, big files)."""

from __future__ import annotations

import gzip
import io
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rag.loaders import FORMATS, LoadOptions, UnsupportedFormat, detect_format, iter_documents
from rag.records import Document, LoadProblem

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCIFACT = DATA / "scifact"
PDFS = DATA / "pdfs"


# ---------------------------------------------------------------- helpers


def load(paths, **options) -> list[Document | LoadProblem]:
    return list(iter_documents(paths if isinstance(paths, list) else [paths], LoadOptions(**options)))


def docs(records) -> list[Document]:
    return [r for r in records if isinstance(r, Document)]


def problems(records, level: str | None = None) -> list[LoadProblem]:
    return [r for r in records if isinstance(r, LoadProblem) and (level is None or r.level == level)]


def write_jsonl(path: Path, rows, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF, one Helvetica line per string, each page's lines 20 points apart."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "72 720 Td"]
        for j, line in enumerate(lines):
            ops += (["0 -20 Td"] if j else []) + [f"({_pdf_string(line)}) Tj"]
        stream = "\n".join([*ops, "ET"]).encode("latin-1")
        objects[4 + 2 * i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        ).encode()
        objects[5 + 2 * i] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info = None
    if title is not None:
        info = 4 + 2 * count
        objects[info] = f"<< /Title ({_pdf_string(title)}) >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    info_ref = f" /Info {info} 0 R" if info else ""
    out += f"trailer\n<< /Size {size} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt_pdf(data: bytes, password: str) -> bytes:
    pypdf = pytest.importorskip("pypdf", reason="writing an encrypted PDF needs pypdf (pip install pypdf)")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- options and detection


def test_options_reject_unknown_format_and_codec():
    assert FORMATS == ("auto", "beir", "mldr", "jsonl", "parquet", "text", "pdf")
    with pytest.raises(ValueError, match="choose one of auto, beir"):
        LoadOptions(fmt="csv")
    with pytest.raises(ValueError, match="unknown codec 'klingon'"):
        LoadOptions(encoding_fallbacks=("klingon",))
    with pytest.raises(ValueError, match="metadata_fields"):
        LoadOptions(metadata_fields="lang")


def test_detect_format_by_name_and_first_record(tmp_path):
    write_jsonl(tmp_path / "beir.jsonl", [{"_id": "1", "title": "", "text": "a"}])
    write_jsonl(tmp_path / "mldr.jsonl.gz", [{"docid": "doc-en-1", "text": "a"}], opener=gzip.open)
    write_jsonl(tmp_path / "plain.ndjson", [{"id": "1", "text": "a"}])
    (tmp_path / "empty.jsonl").write_bytes(b"")
    pq.write_table(pa.table({"id": ["1"], "text": ["a"]}), tmp_path / "t.parquet")
    for name in ("a.txt", "b.MD", "c.markdown"):
        (tmp_path / name).write_text("x")
    (tmp_path / "d.pdf").write_bytes(make_pdf([["x"]]))
    expected = {
        "beir.jsonl": "beir",
        "mldr.jsonl.gz": "mldr",
        "plain.ndjson": "jsonl",
        "empty.jsonl": "jsonl",
        "t.parquet": "parquet",
        "a.txt": "text",
        "b.MD": "text",
        "c.markdown": "text",
        "d.pdf": "pdf",
    }
    assert {name: detect_format(tmp_path / name) for name in expected} == expected
    assert detect_format(tmp_path) == "folder"


def test_detect_format_unknown_file_raises_with_supported_list(tmp_path):
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"PK")
    with pytest.raises(UnsupportedFormat) as info:
        detect_format(path)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "slides.pptx" in message and ".pptx" in message
    for suffix in (".jsonl", ".jsonl.gz", ".parquet", ".txt", ".md", ".pdf", "LoadOptions(fmt="):
        assert suffix in message
    with pytest.raises(UnsupportedFormat, match="Supported"):
        iter_documents([path])  # raised at the call, before any file is read


def test_nonexistent_path_raises_before_reading_anything(tmp_path):
    good = write_jsonl(tmp_path / "ok.jsonl", [{"id": "1", "text": "a"}])
    missing = tmp_path / "nope" / "corpus.jsonl"
    with pytest.raises(FileNotFoundError) as info:
        iter_documents([good, missing])
    assert str(missing) in str(info.value)
    assert info.value.filename == str(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        detect_format(missing)


def test_single_path_without_list_is_accepted(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "x"}])
    assert [d.id for d in docs(iter_documents(str(path)))] == ["a"]
    assert [d.id for d in docs(iter_documents(path))] == ["a"]


# ---------------------------------------------------------------- BEIR, MLDR, generic JSONL


def test_beir_corpus_fields_and_metadata(tmp_path):
    rows = [
        {"_id": "4983", "title": "White matter", "text": "Alterations of...", "metadata": {"year": 2002, "x": [1]}},
        {"_id": 17, "title": None, "text": "", "source_db": "pubmed", "year": 1999},
    ]
    path = write_jsonl(tmp_path / "corpus.jsonl", rows)
    records = load(path)
    assert records == [
        Document("4983", "Alterations of...", "White matter", {"year": 2002}, str(path)),
        Document("17", "", "", {"source_db": "pubmed", "year": 1999}, str(path)),
    ]


def test_beir_format_is_strict_about_its_id_field(tmp_path):
    path = write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "1", "text": "a"}, {"id": "2", "text": "b"}])
    records = load(path)
    assert [d.id for d in docs(records)] == ["1"]
    (problem,) = problems(records)
    assert problem.line == 2 and problem.level == "error"
    assert "no id field (looked for _id" in problem.message and "id_field" in problem.message


def test_mldr_dataset_folder_reads_only_the_corpus(tmp_path):
    """Official layout of Shitao/MLDR: mldr-v1.0-<lang>/{corpus,train,dev,test}.jsonl.gz, corpus rows {docid, text}."""
    folder = tmp_path / "mldr-v1.0-en"
    folder.mkdir()
    corpus = [{"docid": f"doc-en-{i}", "text": f"text {i}"} for i in range(3)]
    write_jsonl(folder / "corpus.jsonl.gz", corpus, gzip.open)
    query = {"query_id": "q-en-0", "query": "?", "positive_passages": [{"docid": "doc-en-0", "text": "t"}]}
    for split in ("train", "dev", "test"):
        write_jsonl(folder / f"{split}.jsonl.gz", [query], gzip.open)
    assert detect_format(folder) == "mldr"
    assert detect_format(folder / "corpus.jsonl.gz") == "mldr"
    records = load(folder)
    assert [(d.id, d.text, d.title, d.metadata) for d in records] == [
        (f"doc-en-{i}", f"text {i}", "", {}) for i in range(3)
    ]
    assert all(d.source == str(folder / "corpus.jsonl.gz") for d in records)
    assert [d.id for d in load(folder, fmt="mldr")] == ["doc-en-0", "doc-en-1", "doc-en-2"]


def test_beir_dataset_folder_skips_queries_and_qrels(tmp_path):
    folder = tmp_path / "scifact"
    (folder / "qrels").mkdir(parents=True)
    write_jsonl(folder / "corpus.jsonl", [{"_id": "d1", "title": "T", "text": "body"}])
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a question"}])
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (folder / "README.md").write_text("# SciFact\n")
    assert detect_format(folder) == "beir"
    assert [d.id for d in load(folder)] == ["d1"]
    # the same dataset folder inside a larger folder also contributes only its corpus
    (tmp_path / "notes.txt").write_text("hello")
    assert [d.id for d in docs(load(tmp_path))] == ["notes.txt", "d1"]


def test_beir_or_mldr_forced_on_folder_without_corpus_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        iter_documents([tmp_path], LoadOptions(fmt="beir"))


def test_generic_jsonl_id_and_text_auto_detection(tmp_path):
    rows = [
        {"id": 1, "contents": "pyserini style"},
        {"docid": "d2", "body": "body text", "title": "B"},
        {"_id": "d3", "text": "t", "id": "ignored-as-id"},
        {"id": 4.5, "text": "float id"},
    ]
    records = load(write_jsonl(tmp_path / "c.jsonl", rows))
    assert [(d.id, d.text, d.title) for d in records] == [
        ("1", "pyserini style", ""),
        ("d2", "body text", "B"),
        ("d3", "t", ""),
        ("4.5", "float id", ""),
    ]
    assert records[2].metadata == {"id": "ignored-as-id"}


def test_generic_jsonl_missing_or_bad_id_and_text_are_problems(tmp_path):
    rows = [
        {"text": "no id"},
        {"id": "1"},
        {"id": None, "text": "x"},
        {"id": "", "text": "x"},
        {"id": [1], "text": "x"},
        {"id": "2", "text": None},
        {"id": "3", "text": ["a"]},
        {"id": True, "text": "x"},
        {"id": "ok", "text": "kept"},
    ]
    records = load(write_jsonl(tmp_path / "c.jsonl", rows))
    assert [d.id for d in docs(records)] == ["ok"]
    found = problems(records, "error")
    assert [p.line for p in found] == [1, 2, 3, 4, 5, 6, 7, 8]
    messages = [p.message for p in found]
    assert "no id field" in messages[0] and "'text'" in messages[0]
    assert "no text field (looked for text, contents, body" in messages[1] and "text_field" in messages[1]
    assert "is null" in messages[2] and "is empty" in messages[3] and "is a list" in messages[4]
    assert "text field 'text' is null" in messages[5] and "is a list" in messages[6] and "bool" in messages[7]


def test_jsonl_explicit_fields(tmp_path):
    rows = [{"pid": "p1", "abstract": "A", "headline": "H", "lang": "en", "year": 2020, "authors": ["a", "b"]}]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    options = dict(id_field="pid", text_field="abstract", title_field="headline")
    (auto_meta,) = load(path, **options)
    assert (auto_meta.id, auto_meta.text, auto_meta.title) == ("p1", "A", "H")
    assert auto_meta.metadata == {"lang": "en", "year": 2020}  # lists are not scalars
    (chosen,) = load(path, metadata_fields=["authors", "missing"], **options)
    assert chosen.metadata == {"authors": ["a", "b"]}


def test_duplicate_ids_are_passed_through(tmp_path):
    rows = [{"id": "same", "text": "first"}, {"id": "same", "text": "second"}]
    records = load(write_jsonl(tmp_path / "c.jsonl", rows))
    assert [(d.id, d.text) for d in records] == [("same", "first"), ("same", "second")]


def test_gzip_jsonl_and_json_gz(tmp_path):
    rows = [{"id": str(i), "text": f"t{i}"} for i in range(5)]
    for name in ("c.jsonl.gz", "c.json.gz"):
        records = load(write_jsonl(tmp_path / name, rows, gzip.open))
        assert [d.id for d in records] == [str(i) for i in range(5)]


def test_truncated_gzip_gives_a_problem_not_a_crash(tmp_path):
    rows = [{"id": str(i), "text": "word " * 50} for i in range(2000)]
    whole = write_jsonl(tmp_path / "whole.jsonl.gz", rows, gzip.open).read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    after = write_jsonl(tmp_path / "after.jsonl", [{"id": "next-file", "text": "still read"}])
    records = load([cut, after])
    loaded = docs(records)
    (problem,) = problems(records)
    assert 0 < len(loaded) - 1 < 2000
    assert [d.id for d in loaded[:-1]] == [str(i) for i in range(len(loaded) - 1)]
    assert loaded[-1].id == "next-file"
    assert "truncated or corrupt" in problem.message and problem.source == str(cut)
    assert problem.line == len(loaded)  # the line that could not be read completely


def test_corrupt_gzip_body_gives_a_problem(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\x1f\x8b" + b"definitely not deflate data" * 10)
    (problem,) = load(path)
    assert "gzip" in problem.message and problem.level == "error"


# ---------------------------------------------------------------- JSONL robustness


def test_empty_jsonl_yields_nothing(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n  \n\r\n")
    assert load([tmp_path / "empty.jsonl", tmp_path / "blank.jsonl"]) == []


def test_invalid_json_lines_are_reported_and_the_rest_ingested(tmp_path):
    lines = ['{"id": "1", "text": "a"}', '{"id": "2", "text": ', "not json at all", '{"id": "4", "text": "d"}']
    records = load(write_jsonl(tmp_path / "c.jsonl", lines))
    assert [d.id for d in docs(records)] == ["1", "4"]
    assert [(p.line, p.level) for p in problems(records)] == [(2, "error"), (3, "error")]
    assert all(p.message.startswith("invalid JSON") for p in problems(records))


def test_json_line_that_is_not_an_object(tmp_path):
    lines = ["[1, 2]", '"just a string"', "42", "null", '{"id": "ok", "text": "x"}']
    records = load(write_jsonl(tmp_path / "c.jsonl", lines))
    assert [d.id for d in docs(records)] == ["ok"]
    found = problems(records)
    assert [p.line for p in found] == [1, 2, 3, 4]
    assert [p.message.split(";")[0] for p in found] == [
        "expected a JSON object, got an array",
        "expected a JSON object, got a string",
        "expected a JSON object, got a number",
        "expected a JSON object, got null",
    ]


def test_jsonl_invalid_utf8_is_replaced_with_a_warning(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "1", "text": "fine"}\n{"id": "2", "text": "caf\xe9 \xff"}\n{"id": "3", "text": "ok"}\n')
    records = load(path)
    assert [type(r).__name__ for r in records] == ["Document", "LoadProblem", "Document", "Document"]
    warning = records[1]
    assert (warning.level, warning.line) == ("warning", 2)
    assert "invalid UTF-8 byte 0xe9" in warning.message and "replacement" in warning.message
    assert records[2].text == "caf\ufffd \ufffd"


def test_jsonl_bom_and_crlf(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "text": "a\\r\\nb"}\r\n{"id": "2", "text": "c"}\r\n')
    records = load(path)
    assert [(d.id, d.text) for d in records] == [("1", "a\r\nb"), ("2", "c")]  # text inside JSON is kept as written


def test_jsonl_is_streamed_line_by_line(tmp_path):
    rows = [{"id": str(i), "text": f"{i} " + "lorem ipsum " * 40} for i in range(20_000)]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    size = path.stat().st_size
    assert size > 9_000_000
    tracemalloc.start()
    try:
        count = sum(1 for r in iter_documents([path]) if isinstance(r, Document))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < size / 10, f"peak {peak} bytes while reading a {size}-byte file: not streamed"


def test_50_mb_single_document_in_jsonl_arrives_intact(tmp_path):
    text = "".join(f"mot{i % 1000} é " for i in range(5_500_000))[:50_000_000]
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "small", "text": "x"}) + "\n")
        handle.write(json.dumps({"id": "huge", "text": text}, ensure_ascii=False) + "\n")
    started = time.perf_counter()
    records = load(path)
    elapsed = time.perf_counter() - started
    assert [d.id for d in records] == ["small", "huge"]
    assert records[1].text == text
    assert elapsed < 8, f"50 MB line took {elapsed:.1f} s"


# ---------------------------------------------------------------- Parquet


def test_parquet_columns_batches_and_row_numbers(tmp_path):
    n = 2500
    texts = [f"text {i}" for i in range(n)]
    texts[1499] = None
    table = pa.table(
        {
            "doc": pa.array(range(n), pa.int64()),
            "body": texts,
            "name": [f"title {i}" for i in range(n)],
            "year": [2000 + i % 20 for i in range(n)],
            "tags": [["a"]] * n,
        }
    )
    path = tmp_path / "c.parquet"
    pq.write_table(table, path, row_group_size=1000)
    records = load(path, id_field="doc", text_field="body", title_field="name")
    loaded = docs(records)
    assert len(loaded) == n - 1
    first = loaded[0]
    assert (first.id, first.text, first.title, first.metadata) == ("0", "text 0", "title 0", {"year": 2000})
    assert [d.id for d in loaded] == [str(i) for i in range(n) if i != 1499]
    (problem,) = problems(records)
    assert problem.line == 1500 and "text field 'body' is null" in problem.message and "row skipped" in problem.message
    assert all(d.source == str(path) for d in loaded)


def test_parquet_is_read_by_record_batches(tmp_path):
    n = 20_000
    path = tmp_path / "big.parquet"
    table = pa.table({"id": [str(i) for i in range(n)], "text": [f"{i} " + "lorem ipsum " * 80 for i in range(n)]})
    pq.write_table(table, path, row_group_size=1000)
    whole, table = table.nbytes, None
    baseline, peak, count = pa.total_allocated_bytes(), 0, 0
    for record in iter_documents([path]):
        count += isinstance(record, Document)
        peak = max(peak, pa.total_allocated_bytes() - baseline)
    assert count == n
    assert peak < whole / 3, f"Arrow held {peak} bytes for a {whole}-byte table: not read by batches"


def test_parquet_auto_columns_and_explicit_metadata(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"_id": ["a", "b"], "text": ["x", "y"], "title": ["T", None], "lang": ["en", "fr"]}), path)
    records = load(path)
    assert [(d.id, d.text, d.title, d.metadata) for d in records] == [
        ("a", "x", "T", {"lang": "en"}),
        ("b", "y", "", {"lang": "fr"}),
    ]
    records = load(path, metadata_fields=["missing"])
    assert problems(records, "warning")[0].message == "metadata columns not in the file: missing"
    assert [d.metadata for d in docs(records)] == [{}, {}]


def test_parquet_missing_columns_and_corrupt_file(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"key": ["a"], "payload": ["x"]}), path)
    (problem,) = load(path)
    assert "no id column" in problem.message and "no text column" in problem.message
    assert "Columns: key, payload" in problem.message and "file skipped" in problem.message
    pq.write_table(pa.table({"id": ["a"], "text": [3]}), path)
    (problem,) = load(path)
    assert "expected string" in problem.message
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not really parquet")
    (problem,) = load(bad)
    assert "not a readable Parquet file" in problem.message


# ---------------------------------------------------------------- text and Markdown


def test_text_and_markdown_titles_ids_and_metadata(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("\n\n  First line here  \nsecond line\n")
    (tmp_path / "sub" / "b.md").write_text("Intro paragraph\n\n# The Heading #\n\nBody\n")
    (tmp_path / "sub" / "c.markdown").write_text("---\ntitle: 'From front matter'\n---\n# Other\n")
    (tmp_path / "sub" / "d.md").write_text("## Only a level two\ntext\n")
    records = load(tmp_path)
    assert [(d.id, d.title) for d in records] == [
        ("a.txt", "First line here"),
        ("sub/b.md", "The Heading"),
        ("sub/c.markdown", "From front matter"),
        ("sub/d.md", "Only a level two"),
    ]
    assert records[0].metadata == {"path": str(tmp_path / "a.txt")}
    assert records[0].source == str(tmp_path / "a.txt")
    assert records[1].text == "Intro paragraph\n\n# The Heading #\n\nBody\n"
    (direct,) = load(tmp_path / "sub" / "b.md")
    assert direct.id == "b.md"


def test_long_first_line_title_is_shortened(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(["word"] * 100) + "\nrest")
    (doc,) = load(path)
    assert len(doc.title) <= 120 and doc.title.endswith("…") and doc.title.startswith("word word")


def test_empty_text_file_yields_an_empty_document(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert load(path) == [Document("empty.txt", "", "", {"path": str(path)}, str(path))]


def test_text_bom_crlf_and_utf16(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfTitle\r\nline two\r\n\rlast")
    (tmp_path / "wide.txt").write_bytes("Grüße\r\n".encode("utf-16"))
    records = load(tmp_path)
    assert [(d.id, d.text, d.title) for d in records] == [
        ("bom.txt", "Title\nline two\n\nlast", "Title"),
        ("wide.txt", "Grüße\n", "Grüße"),
    ]


def test_cp1252_and_latin1_text_fall_back_with_a_warning(tmp_path):
    (tmp_path / "a_cp1252.txt").write_bytes("line one\n“Quoted” café – €5\n".encode("cp1252"))
    (tmp_path / "b_latin1.txt").write_bytes(b"ok\n\x81 control then caf\xe9\n")  # 0x81 is undefined in cp1252
    records = load(tmp_path)
    assert [type(r).__name__ for r in records] == ["LoadProblem", "Document", "LoadProblem", "Document"]
    cp_warning, cp_doc, latin_warning, latin_doc = records
    assert cp_doc.text == "line one\n“Quoted” café – €5\n"
    assert (cp_warning.level, cp_warning.line) == ("warning", 2) and "decoded as cp1252" in cp_warning.message
    assert latin_doc.text == "ok\n\x81 control then café\n"
    assert (latin_warning.level, latin_warning.line) == ("warning", 2) and "decoded as latin-1" in latin_warning.message
    records = load(tmp_path / "b_latin1.txt", encoding_fallbacks=("cp1252",))
    assert "utf-8 with replacement characters" in records[0].message
    assert records[1].text == "ok\n\ufffd control then caf\ufffd\n"


def test_50_mb_text_file_arrives_intact(tmp_path):
    text = "".join(f"ligne {i} café\n" for i in range(3_400_000))[:50_000_000]
    path = tmp_path / "big.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    started = time.perf_counter()
    (doc,) = load(path)
    elapsed = time.perf_counter() - started
    assert doc.text == text and doc.title == "ligne 0 café"
    assert elapsed < 5, f"50 MB text file took {elapsed:.1f} s"


# ---------------------------------------------------------------- PDF


def test_pdf_pages_spans_title_and_metadata(tmp_path):
    path = tmp_path / "report.pdf"
    pages = [["Page one line one", "Page one line two"], [], ["Third page (last)"]]
    path.write_bytes(make_pdf(pages, title="Q3 Report"))
    (doc,) = load(path)
    assert (doc.id, doc.title, doc.source) == ("report.pdf", "report: Q3 Report", str(path))
    assert doc.metadata == {"path": str(path), "page_count": 3}
    assert [p.page for p in doc.pages] == [1, 2, 3]
    page_texts = [doc.text[p.start : p.end] for p in doc.pages]
    assert page_texts == ["Page one line one\nPage one line two", "", "Third page (last)"]
    assert doc.text == "\n\n".join(page_texts)


def test_pdf_title_falls_back_to_file_name_and_blank_pdf_warns(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []]))
    warning, doc = load(path)
    assert doc.title == "scan" and doc.text == "\n\n" and doc.metadata["page_count"] == 2
    assert warning.level == "warning" and "no text layer" in warning.message


def test_pdf_title_prefers_the_file_name_over_an_uninformative_metadata_title(tmp_path):
    for meta, expected in [("Document", "Q1_results"), ("0001552781-23-000042", "Q1_results"),
                           ("Microsoft Word - draft.docx", "Q1_results"), ("Costco Q1 2023 results", "Q1_results: Costco Q1 2023 results")]:
        path = tmp_path / "Q1_results.pdf"
        path.write_bytes(make_pdf([["some words here"]], title=meta))
        (doc,) = load(path)
        assert doc.title == expected.replace("_", " "), meta


def test_a_byte_identical_pdf_copy_is_an_exact_duplicate(tmp_path):
    """Its title (the file name) differs, but exact duplicates are hashed on the cleaned text alone."""
    from rag.ingest import ingest

    data = make_pdf([["alpha beta gamma delta " * 20, "epsilon zeta eta theta " * 20]], title="Document")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_report.pdf").write_bytes(data)
    (tmp_path / "in" / "copy_of_a_report.pdf").write_bytes(data)
    s = ingest([tmp_path / "in"], tmp_path / "idx")
    assert s.indexed == 1 and s.exact_duplicates == 1 and s.near_duplicates == 0


def test_corrupt_pdf_is_a_problem_and_the_batch_continues(tmp_path):
    (tmp_path / "a_broken.pdf").write_bytes(b"this is not a PDF at all")
    (tmp_path / "b_truncated.pdf").write_bytes(make_pdf([["fine"]])[:40])
    (tmp_path / "c_good.pdf").write_bytes(make_pdf([["still loaded"]]))
    records = load(tmp_path)
    assert [type(r).__name__ for r in records] == ["LoadProblem", "LoadProblem", "Document"]
    for problem in records[:2]:
        assert problem.level == "error" and "not a readable PDF" in problem.message
    assert records[2].text == "still loaded"


def test_encrypted_pdf_needs_the_right_password(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypt_pdf(make_pdf([["top secret words"]], title="Locked"), "s3cret"))
    after = tmp_path / "z.txt"
    after.write_text("after")
    missing_password = load([path, after])
    assert "password-protected" in missing_password[0].message and "pdf_password" in missing_password[0].message
    assert docs(missing_password)[0].id == "z.txt"
    (wrong,) = load(path, pdf_password="guess")
    assert "password is wrong" in wrong.message
    (doc,) = load(path, pdf_password="s3cret")
    assert doc.text == "top secret words" and doc.title == "locked"  # a one-word metadata title: the file name


@pytest.mark.slow
def test_real_sec_filings(tmp_path):
    if not PDFS.is_dir():
        pytest.skip(f"real PDFs not found at {PDFS} (shared data folder beside the repository)")
    records = load(PDFS)
    loaded = docs(records)
    assert [d.id for d in loaded] == sorted(p.name for p in PDFS.glob("*.pdf"))
    assert not problems(records, "error")
    pdfium = pytest.importorskip("pypdfium2")
    for doc in loaded:
        pdf = pdfium.PdfDocument(str(PDFS / doc.id))
        try:
            assert doc.metadata["page_count"] == len(pdf) == len(doc.pages)
        finally:
            pdf.close()
        assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
        for before, after in zip(doc.pages, doc.pages[1:]):
            assert after.start == before.end + 2 and doc.text[before.end : after.start] == "\n\n"
        assert "\r" not in doc.text
        assert sum(p.end - p.start for p in doc.pages) > 1000
        assert doc.title
    apple = next(d for d in loaded if d.id.startswith("APPLE"))
    assert "FORM 10-Q" in apple.text[apple.pages[0].start : apple.pages[0].end]


# ---------------------------------------------------------------- folders and forced formats


def test_mixed_folder_sorted_recursive_with_unknown_and_hidden_files(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / "a.md").write_text("# A\n")
    write_jsonl(tmp_path / "b" / "c.jsonl", [{"id": "j1", "text": "json"}])
    pq.write_table(pa.table({"id": ["p1"], "text": ["parquet"]}), tmp_path / "b" / "deep" / "d.parquet")
    (tmp_path / "b" / "deep" / "e.pdf").write_bytes(make_pdf([["pdf text"]]))
    (tmp_path / "b" / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "z.txt").write_text("zed")
    records = load(tmp_path)
    summary = [(r.id if isinstance(r, Document) else f"{r.level}:{Path(r.source).name}") for r in records]
    assert summary == ["a.md", "j1", "p1", "b/deep/e.pdf", "warning:image.png", "z.txt"]
    skipped = records[4]
    assert "skipped" in skipped.message and ".pdf" in skipped.message


def test_forced_format_applies_to_every_file(tmp_path):
    (tmp_path / "notes.rst").write_text("Title\n=====\n\nbody")
    (tmp_path / "more.log").write_text("log line")
    records = load(tmp_path, fmt="text")
    assert [(d.id, d.title) for d in records] == [("more.log", "log line"), ("notes.rst", "Title")]
    (direct,) = load(tmp_path / "notes.rst", fmt="text")
    assert direct.id == "notes.rst"
    lines = write_jsonl(tmp_path / "rows.data", [{"id": "1", "text": "x"}])
    assert [d.id for d in load(lines, fmt="jsonl")] == ["1"]


def test_unreadable_file_in_folder_is_a_problem(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").symlink_to(tmp_path / "missing-target.txt")
    records = load(tmp_path)
    assert [type(r).__name__ for r in records] == ["Document", "LoadProblem"]
    assert "cannot read the file" in records[1].message


# ---------------------------------------------------------------- real data


@pytest.mark.slow
def test_scifact_corpus_real():
    corpus = SCIFACT / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"SciFact not found at {corpus} (shared data folder beside the repository)")
    assert detect_format(corpus) == "beir" and detect_format(SCIFACT) == "beir"
    records = load(corpus)
    assert not problems(records)
    assert len(records) == 5183 == sum(1 for line in corpus.open() if line.strip())
    ids = [d.id for d in records]
    assert len(set(ids)) == len(ids) and ids[0] == "4983"
    assert records[0].title.startswith("Microstructural development of human newborn")
    assert [d.id for d in load(SCIFACT)] == ids  # the dataset folder loads its corpus only


def test_a_binary_file_named_txt_is_dropped_with_its_own_rule(tmp_path):
    """Random bytes renamed .txt used to be decoded as latin-1 (with a warning) and indexed."""
    from rag.ingest import ingest

    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "random.txt").write_bytes(rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    no_nul = rng.integers(1, 256, 20_000, dtype=np.uint8).tobytes()  # no NUL: caught by its control characters
    (tmp_path / "in" / "nonul.txt").write_bytes(no_nul)
    (tmp_path / "in" / "utf16.txt").write_bytes("a real text in UTF-16 with many words".encode("utf-16"))
    (tmp_path / "in" / "text.txt").write_text(" ".join(f"Sentence {i} has ordinary words,\ta tab and a form feed\f." for i in range(30)))
    records = load(tmp_path / "in")
    binary = [r for r in records if getattr(r, "rule", None) == "binary"]
    assert sorted(r.doc_id for r in binary) == ["nonul.txt", "random.txt"]
    assert all(r.message.startswith("binary content") for r in binary)
    s = ingest([tmp_path / "in"], tmp_path / "idx")
    assert s.indexed == 2 and s.dropped == {"binary": 2} and s.load_warnings == 0
    drops = [json.loads(x) for x in open(s.report, encoding="utf-8") if '"drop"' in x]
    assert {d["doc_id"]: d["rule"] for d in drops} == {"nonul.txt": "binary", "random.txt": "binary"}
