"""Analyzers per language (indexers/analyzers/): the table, detection, segmenters, the multilingual analyzer, and
indexes written before it (English ``Analyzer`` recorded, or nothing) loading and behaving exactly as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexers.analyzer import Analyzer
from indexers.analyzers import LANGUAGES, LangText, MultilingualAnalyzer, analyzer_from_dict, detect_language
from indexers.analyzers.detect import likely_languages
from indexers.analyzers.segmenters import SEGMENTERS, bigrams, segment
from indexers.bm25 import BM25Index

MLDR = ["ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "ru", "th", "zh"]
ENGLISH = [
    "The runners were running quickly through the park in the morning.",
    "Vitamin D deficiency is associated with weaker bones in older adults.",
    "Proteins bind to receptors on the surface of the cells they regulate.",
    "Quarterly revenue grew by ten percent as the company opened new stores.",
]


def test_the_table_names_an_installed_analyzer_for_every_mldr_language() -> None:
    import Stemmer

    for code in MLDR:
        name = LANGUAGES[code].analyzer
        kind, _, algorithm = name.partition(":")
        assert name == "english" or name in SEGMENTERS or (kind == "snowball" and algorithm in Stemmer.algorithms())
    for row in LANGUAGES.values():
        if row.analyzer.startswith("snowball:"):
            assert row.analyzer.partition(":")[2] in Stemmer.algorithms(), row


def test_documents_and_short_queries_are_detected(language_samples: dict) -> None:
    for lang, sample in language_samples.items():
        for doc in sample["docs"]:
            assert detect_language(doc) == lang, doc
        for query in sample["queries"]:  # restricted to the languages an index would hold; a short query may
            assert lang in likely_languages(query, MLDR), query  # be analyzed in its likely languages
    assert detect_language("1234 5678") == "en"  # no letters: the English analyzer (it keeps numbers)


def test_segmenters_cut_words_and_drop_punctuation() -> None:
    assert segment("jieba", "北京大学的学生。") == ["北京", "大学", "北京大学", "的", "学生"]
    assert segment("sudachi", "東京都に住んでいる") == ["東京都", "住む", "居る"]
    assert segment("kiwi", "서울에 사는 학생들") == ["서울", "사", "학생"]
    assert segment("thai", "กรุงเทพมหานครเป็นเมืองหลวง") == ["กรุงเทพมหานคร", "เป็น", "เมืองหลวง"]
    assert bigrams("ສະບາຍດີ ok") == ["ສະ", "ະບ", "ບາ", "າຍ", "ຍດ", "ດີ", "ok"]
    with pytest.raises(ValueError, match="unknown segmenter"):
        segment("nope", "x")


def test_english_documents_get_exactly_the_english_analyzers_terms() -> None:
    """New indexes analyze English as the English Analyzer always did: same raw tokens, same terms, same scores."""
    old, new = Analyzer(), MultilingualAnalyzer()
    for text in ENGLISH:
        assert new.raw_tokens(text) == old.raw_tokens(text)
        assert [new.term(t) for t in new.raw_tokens(text)] == [old.term(t) for t in old.raw_tokens(text)]
    a, b = BM25Index(analyzer=Analyzer()), BM25Index(analyzer=MultilingualAnalyzer())
    for idx in (a, b):
        idx.add(np.arange(len(ENGLISH)), ENGLISH)
    assert b.analyzer.languages == {"en": "english"}
    for q in ["running bones", "protein receptor binding", "revenue of stores"]:
        (d1, s1), (d2, s2) = [(r.docnos, r.scores) for r in (a.search(q, 10), b.search(q, 10))]
        assert d1.tolist() == d2.tolist()
        np.testing.assert_array_equal(s1, s2)


def test_the_recorded_analyzer_wins_and_round_trips() -> None:
    an = MultilingualAnalyzer({"ja": "bigrams"})  # an index that had no Japanese segmenter installed
    assert an.tokens("東京都", lang="ja") == ["東京", "京都"]
    again = analyzer_from_dict(json.loads(json.dumps(an.to_dict())))
    assert isinstance(again, MultilingualAnalyzer) and again.languages == {"ja": "bigrams"}
    assert again.tokens(LangText("東京都", "ja")) == ["東京", "京都"]
    with pytest.raises(ValueError, match="newer latte"):
        analyzer_from_dict({"kind": "multilingual", "version": 99, "languages": {}})
    with pytest.raises(ValueError, match="unknown analyzer"):
        MultilingualAnalyzer({"xx": "nonsense"})


def test_queries_never_add_languages_and_follow_the_index() -> None:
    an = MultilingualAnalyzer()
    for text in ENGLISH:
        for raw in an.raw_tokens(text):
            an.term(raw)
    assert an.tokens("Москва") == ["москва"]  # an English-only index: the query is analyzed as English
    assert an.languages == {"en": "english"}
    assert an.tokens("Москва", lang="ru") == ["москв"]


@pytest.mark.parametrize("drop_analyzer", [False, True])
def test_an_index_written_before_analyzers_per_language_loads_and_behaves_as_before(
    tmp_path: Path, drop_analyzer: bool
) -> None:
    """Today's indexes record the English Analyzer's settings (no "kind"): they load as that analyzer, search as
    before, and stay English when more documents are ingested into them; a state without any analyzer too."""
    from indexers.docstore import DocStore
    from indexers.folder import IndexFolder
    from rag.ingest import ingest
    from rag.service import open_searcher

    corpus = tmp_path / "a.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n"
                              for i, t in enumerate(ENGLISH)), encoding="utf-8")
    ingest([corpus], tmp_path / "idx", components={"docs": DocStore(), "bm25": BM25Index()})  # the old default
    folder = IndexFolder(tmp_path / "idx")
    manifest = folder.read_manifest().to_dict()
    state = manifest["components"]["bm25"]
    assert state["analyzer"] == Analyzer().to_dict() and "kind" not in state["analyzer"]
    if drop_analyzer:
        del state["analyzer"]
        (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    planner = open_searcher(tmp_path / "idx")
    bm25 = planner.snapshot["bm25"]
    assert type(bm25.analyzer) is Analyzer and bm25.analyzer == Analyzer()
    fresh = BM25Index(analyzer=Analyzer())
    fresh.add(np.arange(len(ENGLISH)), ENGLISH)
    for q in ["running bones", "protein receptor binding"]:
        (d1, s1), (d2, s2) = [(r.docnos, r.scores) for r in (bm25.search(q, 10), fresh.search(q, 10))]
        assert d1.tolist() == d2.tolist()
        np.testing.assert_allclose(s1, s2, rtol=1e-6)

    more = tmp_path / "b.jsonl"
    more.write_text(json.dumps({"_id": "zh", "title": "", "text": "北京是中国的首都。"}) + "\n", encoding="utf-8")
    ingest([more], tmp_path / "idx")
    after = folder.read_manifest().components["bm25"]["analyzer"]
    assert after == Analyzer().to_dict()  # still the English analyzer: the index's terms stay comparable


PARAGRAPHS = {
    "de": "Die Stadt liegt am Ufer des Flusses und wurde im zwölften Jahrhundert gegründet. Heute leben dort mehr "
          "als zweihunderttausend Menschen, die in der Industrie, im Handel und an der Universität arbeiten.",
    "fr": "La ville se trouve sur la rive du fleuve et a été fondée au douzième siècle. Aujourd'hui, plus de deux "
          "cent mille personnes y vivent et travaillent dans l'industrie, le commerce et à l'université.",
    "es": "La ciudad se encuentra a orillas del río y fue fundada en el siglo doce. Hoy viven allí más de "
          "doscientas mil personas que trabajan en la industria, el comercio y la universidad.",
    "it": "La città si trova sulla riva del fiume ed è stata fondata nel dodicesimo secolo. Oggi vi abitano più "
          "di duecentomila persone che lavorano nell'industria, nel commercio e all'università.",
    "pt": "A cidade fica na margem do rio e foi fundada no século doze. Hoje vivem lá mais de duzentas mil "
          "pessoas que trabalham na indústria, no comércio e na universidade.",
    "nl": "De stad ligt aan de oever van de rivier en werd in de twaalfde eeuw gesticht. Vandaag wonen er meer "
          "dan tweehonderdduizend mensen die in de industrie, de handel en aan de universiteit werken.",
    "da": "Byen ligger ved flodens bred og blev grundlagt i det tolvte århundrede. I dag bor der mere end to "
          "hundrede tusind mennesker, som arbejder for industrien, i handelen og på universitetet, og de har det godt.",
}


@pytest.mark.parametrize("lang", sorted(PARAGRAPHS))
def test_the_english_fast_path_leaves_other_latin_languages_to_py3langid(lang: str) -> None:
    from indexers.analyzers.detect import looks_english

    assert not looks_english(PARAGRAPHS[lang])
    assert detect_language(PARAGRAPHS[lang]) == lang
    assert looks_english(" ".join(ENGLISH))
