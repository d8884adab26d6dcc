"""One way to open an index for ingest (``rag.ingest.open_for_ingest``), and the one profile rule."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from indexers.folder import IndexFolder, IndexLocked
from indexers.manifest import Manifest
from indexers.writer import IndexWriter
from rag.ingest import IngestSettings, ingest, open_for_ingest
from rag.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    ProfileMismatch,
    UnknownProfile,
    get_profile,
    index_profile,
    recorded_or_requested,
)


def _corpus(tmp_path, n=3):
    p = tmp_path / "c.jsonl"
    p.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"document {i} is about apples and pears"}) + "\n"
                         for i in range(n)), encoding="utf-8")
    return p


def test_one_profile_table():
    assert set(PROFILES) == {"bm25", "default", "dense", "minilm-tokens", "m3", "colpali"}
    assert {name: p.indexes for name, p in PROFILES.items()} == {
        "bm25": (), "default": ("dense", "tensors"), "dense": ("dense",), "minilm-tokens": ("dense", "tensors"),
        "m3": ("dense", "sparse", "tensors"), "colpali": ("dense", "tensors"),
    }
    assert [n for n, p in PROFILES.items() if p.page_images] == ["colpali"]
    assert get_profile("dense").representations == ("dense",)
    with pytest.raises(UserError, match="unknown profile 'nope'; known profiles: bm25, colpali, default"):
        get_profile("nope")
    assert issubclass(UnknownProfile, KeyError)


def test_the_profile_rule():
    old = Manifest.from_dict({"format": "latte-index", "version": 1, "settings": {}})
    assert recorded_or_requested("i", old, None, DEFAULT_PROFILE).name == "bm25"  # recorded none: BM25 only
    assert recorded_or_requested("i", old, "bm25", DEFAULT_PROFILE).name == "bm25"
    with pytest.raises(ProfileMismatch, match="index i was built with profile 'bm25'; ingest into it with the same "
                                               r"profile \(or omit --profile\), or build a new index for 'm3'"):
        recorded_or_requested("i", old, "m3", DEFAULT_PROFILE)
    assert recorded_or_requested("i", None, None, DEFAULT_PROFILE).name == "default"  # a new index
    assert recorded_or_requested("i", None, "m3", DEFAULT_PROFILE).name == "m3"
    assert issubclass(ProfileMismatch, UserError)


def test_new_index_records_settings_profile_and_models(tmp_path):
    opened = open_for_ingest(tmp_path / "idx", profile="colpali", settings=IngestSettings(passage_size=50),
                             models={"dense": {"name": "m"}})
    with opened.writer as w:
        assert opened.created and opened.profile is PROFILES["colpali"]
        assert opened.settings.page_passages and opened.settings.passage_size == 50  # pages are the passages
        w.commit()
    m = IndexFolder(tmp_path / "idx").read_manifest()
    assert m.profile == "colpali" and m.models == {"dense": {"name": "m"}}
    assert m.ingest_settings == opened.settings.model_dump()
    assert index_profile(tmp_path / "idx")[0].name == "colpali"
    assert index_profile(tmp_path / "other")[0].name == DEFAULT_PROFILE  # nothing there yet


def test_existing_index_keeps_its_profile_and_settings(tmp_path):
    ingest([_corpus(tmp_path)], tmp_path / "idx", settings=IngestSettings(passage_size=30, passage_overlap=5))
    assert IndexFolder(tmp_path / "idx").read_manifest().profile == "bm25"  # ingest() loads no models
    opened = open_for_ingest(tmp_path / "idx")
    with opened.writer:
        assert not opened.created and opened.profile.name == "bm25"
        assert opened.settings.passage_size == 30  # the recorded settings
    opened = open_for_ingest(tmp_path / "idx", profile="bm25", settings=IngestSettings(passage_size=60))
    with opened.writer:
        assert opened.settings.passage_size == 60  # given settings win
    with pytest.raises(ProfileMismatch, match="built with profile 'bm25'"):
        open_for_ingest(tmp_path / "idx", profile="m3")
    with IndexWriter(tmp_path / "idx", lock_timeout=0):  # the refused open let go of the lock
        pass


def test_index_without_a_recorded_profile_is_bm25(tmp_path):
    ingest([_corpus(tmp_path)], tmp_path / "idx")
    path = tmp_path / "idx" / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    del raw["settings"]["profile"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert index_profile(tmp_path / "idx", "bm25")[0].name == "bm25"
    with pytest.raises(ProfileMismatch):
        index_profile(tmp_path / "idx", "default")
    summary = ingest([_corpus(tmp_path, 5)], tmp_path / "idx")
    assert summary.indexed == 2
    assert "profile" not in IndexFolder(tmp_path / "idx").read_manifest().settings  # nothing rewritten


def test_the_lock_is_waited_for_lock_timeout(tmp_path):
    with IndexWriter(tmp_path / "idx"), pytest.raises(IndexLocked):
        open_for_ingest(tmp_path / "idx", lock_timeout=0)


def test_api_writes_open_the_same_way(tmp_path):
    from api.ingest import BatchIngest

    ingest([_corpus(tmp_path)], tmp_path / "idx")
    with pytest.raises(RuntimeError, match="now has profile 'bm25' but this server loaded 'dense'; restart the server"):
        BatchIngest(tmp_path / "idx", profile="dense", encoders={}).__enter__()
    with BatchIngest(tmp_path / "idx", profile="bm25", encoders={}, lock_timeout=0) as b:  # the lock was let go
        assert b.writer.manifest.profile == "bm25" and b.ingestor.settings.max_doc_chars == 5_000_000
    with BatchIngest(tmp_path / "new", profile="bm25", encoders={}) as b:
        assert b.writer.version == 0 and b.writer.settings["profile"] == "bm25"
