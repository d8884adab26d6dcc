"""The typed manifest reads what the writers write, old and new, and writes it back unchanged."""

from __future__ import annotations

import json

import numpy as np

from indexers.docstore import DocStore
from indexers.folder import IndexFolder, Snapshot
from indexers.manifest import UNRECORDED_PROFILE, Manifest
from indexers.writer import IndexWriter

# a manifest as a BM25-only latte wrote it before profiles, models and the duplicates table were recorded, with a key
# this latte does not know
OLD_MANIFEST = {
    "format": "latte-index",
    "format_version": 1,
    "version": 2,
    "created_at": 1700000000.5,
    "committed_at": 1700000100.25,
    "settings": {"ingest": {"passage_size": 120, "passage_overlap": 20}},
    "counts": {"documents": 3, "passages": 4},
    "next_docno": 3,
    "components": {"docs": {"segments": []}, "bm25": {"segments": []}},
    "written_by": "latte 0.1",
}


def test_old_manifest_reads_and_round_trips():
    m = Manifest.from_dict(json.loads(json.dumps(OLD_MANIFEST)))
    assert m.version == 2 and m.next_docno == 3 and m.documents == 3
    assert m.recorded_profile is None and m.profile == UNRECORDED_PROFILE == "bm25"
    assert m.ingest_settings == {"passage_size": 120, "passage_overlap": 20}
    assert m.models == {} and m.extra_files == {} and m.duplicates_file is None and m.dedupe_hashing is None
    assert set(m.components) == {"docs", "bm25"} and m.unknown == {"written_by": "latte 0.1"}
    assert m.languages == {}
    assert m.to_dict() == OLD_MANIFEST  # no "models" or "extra_files" added, the unknown key kept
    assert json.dumps(m.to_dict(), sort_keys=True) == json.dumps(OLD_MANIFEST, sort_keys=True)


def test_old_manifest_on_disk_opens_and_a_writer_keeps_what_it_does_not_know(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(OLD_MANIFEST), encoding="utf-8")
    m = IndexFolder(tmp_path).read_manifest()
    assert m == Manifest.from_dict(OLD_MANIFEST) and m.to_dict() == OLD_MANIFEST
    # what a later version of such a manifest becomes: the recorded fields change, the rest stays
    m.models = {"dense": {"name": "x"}}
    out = m.to_dict()
    assert out["models"] == {"dense": {"name": "x"}} and out["written_by"] == "latte 0.1" and "extra_files" not in out


def test_manifest_written_by_the_writer_reads_back(tmp_path):
    from rag.ingest import IngestSettings, ingest

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"document {i} talks about apples and pears"})
                              + "\n" for i in range(5)), encoding="utf-8")
    ingest([corpus], tmp_path / "idx", settings=IngestSettings(passage_size=50, passage_overlap=10),
           models={"dense": {"name": "m"}}, profile="dense")
    raw = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    m = IndexFolder(tmp_path / "idx").read_manifest()
    assert m.to_dict() == raw and not m.unknown
    assert m.version == raw["version"] >= 1 and m.profile == "dense" and m.recorded_profile == "dense"
    assert m.ingest_settings is not None and m.ingest_settings["passage_size"] == 50
    assert m.models == {"dense": {"name": "m"}} and m.documents == 5 == m.next_docno
    assert m.duplicates_file == raw["extra_files"]["dedupe"][0]
    assert m.dedupe_hashing == raw["settings"]["dedupe"] and m.dedupe_hashing["num_perm"] == 128
    assert set(m.components) >= {"docs", "bm25"}
    assert m.languages == raw["components"]["bm25"]["analyzer"].get("languages", {})
    assert Snapshot.open(tmp_path / "idx").manifest == m

    # a commit keeps the recorded settings and models and moves the version
    with IndexWriter(tmp_path / "idx") as w:
        assert not w.has_changes
        w.delete_ids(["d0"])
        assert w.has_changes
        version = w.commit()
        assert not w.has_changes
    after = IndexFolder(tmp_path / "idx").read_manifest()
    assert after.version == version > m.version and after.documents == 4
    assert after.settings == m.settings and after.models == m.models and after.created_at == m.created_at
    assert IndexFolder(tmp_path / "idx").read_previous() == m


def test_new_writer_records_settings(tmp_path):
    with IndexWriter(tmp_path / "idx", components={"docs": DocStore()}) as w:
        assert w.version == 0 and not w.has_changes
        w.record_settings(ingest={"passage_size": 10}, profile="bm25")
        assert w.settings == {"ingest": {"passage_size": 10}, "profile": "bm25"}
        w.commit()
    m = IndexFolder(tmp_path / "idx").read_manifest()
    assert m.profile == "bm25" and m.ingest_settings == {"passage_size": 10} and m.version == 1
    assert set(m.to_dict()) == {"format", "format_version", "version", "created_at", "committed_at", "settings",
                                "models", "counts", "next_docno", "components", "extra_files"}
    assert np.isfinite(m.committed_at or np.nan)
