"""Kept uploads (``index/files/<sha256>.pdf``): keeping is content-addressed and atomic, a moved index still
finds its files, and ``python -m api.kept_files`` lists and removes the files no live document uses."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from api_live import DATA, KEY, build_index, live_server, make_rows

AUTH = {"Authorization": f"Bearer {KEY}"}
PDFS = DATA / "pdfs"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_keep_file_is_content_addressed(tmp_path):
    from api.kept_files import keep_file, kept_path

    index = tmp_path / "idx"
    (index / "uploads").mkdir(parents=True)
    a = index / "uploads" / "a.pdf"
    a.write_bytes(b"%PDF- first")
    path, created = keep_file(a, index, digest(b"%PDF- first"))
    assert created and path == index / "files" / f"{digest(b'%PDF- first')}.pdf" and not a.exists()
    b = index / "uploads" / "b.pdf"
    b.write_bytes(b"%PDF- first")
    assert keep_file(b, index, digest(b"%PDF- first")) == (path, False) and b.exists()  # left for the caller
    with pytest.raises(ValueError, match="SHA-256"):
        kept_path(index, "../../etc/passwd")


def test_resolve_source(tmp_path):
    from api.kept_files import resolve_source

    old = tmp_path / "old" / "files" / ("c" * 64 + ".pdf")
    moved_index = tmp_path / "new"
    (moved_index / "files").mkdir(parents=True)
    (moved_index / "files" / old.name).write_bytes(b"%PDF-")
    assert resolve_source(str(old), moved_index) == moved_index / "files" / old.name  # the index folder was moved
    other = tmp_path / "report.pdf"
    assert resolve_source(str(other), moved_index) is None
    other.write_bytes(b"%PDF-")
    assert resolve_source(str(other), moved_index) == other
    assert resolve_source("upload:notes.md", moved_index) is None and resolve_source("", moved_index) is None


def test_prune_lists_then_removes_files_no_live_document_uses(tmp_path):
    from api.settings import Settings

    pdfs = sorted(PDFS.glob("*.pdf"))[:2] if PDFS.is_dir() else []
    if len(pdfs) < 2:
        pytest.skip(f"the shared SEC filings are not at {PDFS}")
    index = build_index(tmp_path / "w", make_rows(5))
    with live_server(Settings(index=index, api_keys=[KEY])) as live, live.client(headers=AUTH, timeout=300) as c:
        r = c.post("/v1/documents/upload", files=[("files", (p.name, p.read_bytes(), "application/pdf")) for p in pdfs])
        assert r.status_code == 200 and [o["status"] for o in r.json()["results"]] == ["indexed", "indexed"]
        assert c.delete(f"/v1/documents/{pdfs[0].name}").status_code == 200
    kept = {p.name: index / "files" / f"{digest(p.read_bytes())}.pdf" for p in pdfs}
    assert all(f.is_file() for f in kept.values())

    cmd = [sys.executable, "-m", "api.kept_files", "--index", str(index)]
    listed = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert listed.stdout.split() == [str(kept[pdfs[0].name])]  # the deleted document's file only
    assert "1 kept file(s) unused" in listed.stderr and kept[pdfs[0].name].is_file()  # listing removes nothing
    removed = subprocess.run(cmd + ["--delete"], capture_output=True, text=True, check=True)
    assert "1 kept file(s) removed" in removed.stderr
    assert not kept[pdfs[0].name].exists() and kept[pdfs[1].name].is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert again.stdout == "" and "0 kept file(s)" in again.stderr


def test_prune_waits_for_the_write_lock(tmp_path):
    from api.kept_files import prune
    from indexers.folder import IndexFolder, IndexLocked

    index = build_index(tmp_path / "w", make_rows(3))
    with IndexFolder(index).write_lock():
        with pytest.raises(IndexLocked):
            prune(index, delete=True, lock_timeout=0.2)
    assert prune(index) == []
