"""Every language end to end: a document written in it survives ingest (default rules) with its passages, and a
query in that language finds it; a collection mixing them analyzes each document and query in its own language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.planner import SearchOptions
from rag.service import ingest_paths, open_searcher, open_snapshot

LANGS = ["zh", "ja", "ko", "th", "ar", "ru", "hi"]
EXPECTED_ANALYZER = {"zh": "jieba_bigrams", "ja": "sudachi", "ko": "kiwi", "th": "thai", "ar": "snowball:arabic",
                     "ru": "snowball:russian", "hi": "snowball:hindi"}


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for doc_id, text in docs.items():
            f.write(json.dumps({"_id": doc_id, "title": "", "text": text}, ensure_ascii=False) + "\n")
    return path


def long_version(text: str, lang: str) -> str:
    """The document grown to several passages (the same sentences again, as a long article repeats its subject)."""
    return (" " if lang in ("ko", "ar", "ru", "hi", "th") else "").join([text] * 25)


@pytest.mark.parametrize("lang", LANGS)
def test_a_document_survives_ingest_with_its_passages_and_a_query_finds_it(
    tmp_path: Path, language_samples: dict, lang: str
) -> None:
    sample = language_samples[lang]
    docs = {f"{lang}-{i}": text for i, text in enumerate(sample["docs"])}
    docs[f"{lang}-0"] = long_version(docs[f"{lang}-0"], lang)
    docs["en-0"] = "London is the capital of the United Kingdom and its largest city."
    corpus = write_corpus(tmp_path / "data", docs)
    summary = ingest_paths([corpus], tmp_path / "idx", profile="bm25")  # default rules: quality and dedupe on
    assert summary.dropped == {} and summary.indexed == len(docs)

    snap = open_snapshot(tmp_path / "idx")
    store = snap["docs"]
    docno = store.ids_by_docno().index(f"{lang}-0")
    row = store.row(docno)
    passages = store.passages(docno, row["text"])
    assert len(passages) >= 2, "a long document is cut into several passages"
    assert all(p.text and p.text == row["text"][p.start : p.end] for p in passages)
    analyzer = snap.manifest.components["bm25"]["analyzer"]
    assert analyzer["languages"] == {lang: EXPECTED_ANALYZER[lang], "en": "english"}

    planner = open_searcher(tmp_path / "idx")
    for query, want in zip(sample["queries"], (f"{lang}-0", f"{lang}-1")):
        hits = planner.search(query, SearchOptions(k=3, mode="bm25")).hits
        assert hits and hits[0].doc_id == want, (query, [h.doc_id for h in hits])
        assert hits[0].passage is not None and hits[0].passage.text
    english = planner.search("capital of the United Kingdom", SearchOptions(k=3, mode="bm25")).hits
    assert english[0].doc_id == "en-0"


def test_a_mixed_collection_analyzes_each_document_and_query_in_its_own_language(
    tmp_path: Path, language_samples: dict
) -> None:
    docs = {f"{lang}-{i}": text for lang, s in language_samples.items() for i, text in enumerate(s["docs"])}
    corpus = write_corpus(tmp_path / "data", docs)
    summary = ingest_paths([corpus], tmp_path / "idx", profile="bm25", workers=2)  # worker processes analyze
    assert summary.dropped == {} and summary.indexed == len(docs)
    recorded = open_snapshot(tmp_path / "idx").manifest.languages
    assert set(recorded) == set(language_samples)
    planner = open_searcher(tmp_path / "idx")
    for lang, sample in language_samples.items():
        for query, want in zip(sample["queries"], (f"{lang}-0", f"{lang}-1")):
            hits = planner.search(query, SearchOptions(k=3, mode="bm25")).hits
            assert hits and hits[0].doc_id == want, (lang, query, [h.doc_id for h in hits])


def test_metadata_and_settings_name_the_language(tmp_path: Path) -> None:
    """A 'lang' metadata field (or --lang) overrides detection: Hindi-looking Nepali, or text too short to tell."""
    from rag.ingest import IngestSettings

    path = tmp_path / "data" / "docs.jsonl"
    path.parent.mkdir()
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": "a", "text": "Banken und Häuser", "lang": "de"}) + "\n")
        f.write(json.dumps({"id": "b", "text": "Банки", "language": "Russian"}) + "\n")
        f.write(json.dumps({"id": "c", "text": "hus"}) + "\n")
    from rag.loaders import LoadOptions

    ingest_paths([path], tmp_path / "idx", profile="bm25", settings=IngestSettings(lang="sv"),
                 load_options=LoadOptions(fmt="jsonl", id_field="id", text_field="text"))
    recorded = open_snapshot(tmp_path / "idx").manifest.components["bm25"]["analyzer"]["languages"]
    assert recorded == {"de": "snowball:german", "ru": "snowball:russian", "sv": "snowball:swedish"}
    planner = open_searcher(tmp_path / "idx")
    # German stemming: "Bank" finds "Banken"; the query is German because the caller says so
    hits = planner.search("Bank", SearchOptions(k=3, mode="bm25", lang="de")).hits
    assert [h.doc_id for h in hits][:1] == ["a"]
    with pytest.raises(ValueError, match="ISO 639-1"):
        planner.search("Bank", SearchOptions(k=3, mode="bm25", lang="german!"))
