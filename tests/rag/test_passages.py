"""Tests for rag/passages.py: exact spans, window sizes and overlap, sentence boundaries, pages, scale, unicode."""

from __future__ import annotations

import random
import time
import unicodedata

import pytest

from rag.passages import _windows, split_passages, word_spans
from rag.records import Document, PageSpan


def sentences(rng: random.Random, n: int, lo: int = 5, hi: int = 25) -> str:
    out = []
    for i in range(n):
        words = [f"w{rng.randrange(1000)}" for _ in range(rng.randint(lo, hi))]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice([".", "!", "?", '."', ".)"]))
        if i % 7 == 6:
            out.append("\n\n")
    return " ".join(out)


def _kind(c: str) -> int:
    """0 a word character, 1 a token of its own (Han, kana, CJK punctuation), 2 a letter counted three to the token
    (Thai, Lao, Khmer, Myanmar), 3 a combining mark of those (rides along)."""
    from indexers.analyzers.scripts import SCRIPTS

    cp = ord(c)

    def within(*names: str) -> bool:
        return any(lo <= cp <= hi for n in names for lo, hi in SCRIPTS[n])

    if within("han", "kana", "cjk_punct"):
        return 1
    if within("thai", "lao", "khmer", "myanmar"):
        return 3 if unicodedata.category(c) in ("Mn", "Mc") else 2
    return 0


def words_of(text: str) -> list[str]:
    """The tokens passages count, written out: ``str.split`` words, with Han/kana characters as tokens of their own
    and Thai-like letters three to a token."""
    out: list[str] = []
    for w in text.split():
        prev, letters = None, 0
        for c in w:
            k = _kind(c)
            if k >= 2 and (prev is None or prev < 2):
                letters = 0
            if prev is None or k == 1:
                start = True
            elif k == 0:
                start = prev != 0
            elif k == 2:
                start = prev < 2 or letters % 3 == 0
            else:
                start = False
            if k == 2:
                letters += 1
            if start:
                out.append(c)
            else:
                out[-1] += c
            prev = k
    return out


def check_invariants(doc: Document, passages: list, size: int) -> None:
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    for p in passages:
        assert p.doc_id == doc.id
        assert p.text == doc.text[p.start : p.end]
        assert p.text and not p.text[0].isspace() and not p.text[-1].isspace()
        assert 1 <= len(words_of(p.text)) <= size
    # together the passages cover every word, in order
    starts, _ = word_spans(doc.text)
    covered = set()
    for p in passages:
        covered.update(s for s in starts.tolist() if p.start <= s < p.end)
    assert covered == set(starts.tolist())
    assert [p.start for p in passages] == sorted(p.start for p in passages)


def test_spans_sizes_and_coverage() -> None:
    rng = random.Random(0)
    doc = Document("d1", sentences(rng, 300))
    passages = split_passages(doc, size=200, overlap=40)
    check_invariants(doc, passages, 200)
    assert len(passages) > 10


def test_overlap_is_about_the_requested_size() -> None:
    rng = random.Random(1)
    doc = Document("d", sentences(rng, 400))
    passages = split_passages(doc, size=200, overlap=40)
    shared = []
    for prev, nxt in zip(passages, passages[1:]):
        assert nxt.start > prev.start
        shared.append(len(words_of(doc.text[nxt.start : prev.end])) if nxt.start < prev.end else 0)
    assert all(20 <= s <= 60 for s in shared), shared
    assert 30 <= sum(shared) / len(shared) <= 50
    no_overlap = split_passages(doc, size=200, overlap=0)
    assert all(b.start >= a.end for a, b in zip(no_overlap, no_overlap[1:]))


def test_windows_end_and_start_on_sentence_boundaries() -> None:
    rng = random.Random(2)
    doc = Document("d", sentences(rng, 300, lo=5, hi=15))
    passages = split_passages(doc, size=120, overlap=30)
    enders = ('.', '!', '?', '."', '.)')
    for p in passages[:-1]:
        assert p.text.endswith(enders), p.text[-30:]
    for p in passages[1:]:
        before = doc.text[: p.start].rstrip()
        assert before.endswith(enders), before[-30:]


def test_long_sentence_is_cut_at_token_boundaries() -> None:
    words = [f"tok{i}" for i in range(1000)]
    doc = Document("long", "Intro sentence here. " + " ".join(words) + ". Outro.")
    passages = split_passages(doc, size=100, overlap=10)
    check_invariants(doc, passages, 100)
    assert max(len(words_of(p.text)) for p in passages) == 100
    for p in passages:  # cut between words, never inside one
        assert p.start == 0 or doc.text[p.start - 1] == " "
        assert p.end == len(doc.text) or doc.text[p.end] == " "


def test_blank_line_ends_a_sentence() -> None:
    doc = Document("d", "heading without a full stop\n\nbody " + "word " * 30 + "end")
    passages = split_passages(doc, size=10, overlap=0)
    assert passages[0].text == "heading without a full stop"


def test_short_empty_and_whitespace_documents() -> None:
    one = split_passages(Document("s", "  Just a short note.  "))
    assert len(one) == 1 and one[0].text == "Just a short note." and (one[0].start, one[0].end) == (2, 20)
    assert one[0].page is None
    assert split_passages(Document("e", "")) == []
    assert split_passages(Document("w", " \n\t ")) == []


def test_pages_are_never_crossed() -> None:
    rng = random.Random(3)
    page_texts = [sentences(rng, 40), "", "   ", sentences(rng, 3), sentences(rng, 60)]
    text, spans = "", []
    for number, page_text in enumerate(page_texts, 1):
        if number > 1:
            text += "\n\n"
        spans.append(PageSpan(number, len(text), len(text) + len(page_text)))
        text += page_text
    doc = Document("pdf", text, pages=spans)
    passages = split_passages(doc, size=100, overlap=20)
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    by_page = {s.page: s for s in spans}
    for p in passages:
        span = by_page[p.page]  # type: ignore[index]
        assert span.start <= p.start < p.end <= span.end
        assert p.text == text[p.start : p.end]
    assert {p.page for p in passages} == {1, 4, 5}
    assert sum(p.page == 4 for p in passages) == 1


def test_bad_page_spans_are_reported() -> None:
    with pytest.raises(ValueError, match="page 2"):
        split_passages(Document("x", "abc def", pages=[PageSpan(1, 0, 3), PageSpan(2, 4, 99)]))
    with pytest.raises(ValueError, match="overlaps"):
        split_passages(Document("x", "abc def", pages=[PageSpan(1, 0, 5), PageSpan(2, 4, 7)]))


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1), (10, 11), (2.5, 0), (10, True)])
def test_arguments_are_validated(size: object, overlap: object) -> None:
    with pytest.raises(ValueError, match="size|overlap"):
        split_passages(Document("x", "some text"), size=size, overlap=overlap)  # type: ignore[arg-type]


def test_size_one_and_tiny_windows() -> None:
    doc = Document("x", "a b. c d e.")
    passages = split_passages(doc, size=1, overlap=0)
    assert [p.text for p in passages] == ["a", "b.", "c", "d", "e."]
    assert _windows(__import__("numpy").array([0, 5]), 5, size=2, overlap=1) == [(0, 2), (1, 3), (2, 4), (3, 5)]


def test_unicode_spans_are_exact() -> None:
    text = (
        "Caf\u00e9 na\u00efve \U0001f600 emoji sentence. e\u0301 combining accent here! "
        "\u4e2d\u6587\u53e5\u5b50\u3002 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442?"
        "\u00a0nbsp\u3000ideographic\u2028space \U00010348 gothic."
    ) * 20
    doc = Document("u", text)
    passages = split_passages(doc, size=17, overlap=4)
    check_invariants(doc, passages, 17)
    s, e = word_spans(text)
    assert [text[a:b] for a, b in zip(s.tolist(), e.tolist())] == words_of(text)
    # 。 is a sentence end (a token of its own in Chinese text now), as . ! ? are
    assert sum(p.text.endswith(("\u3002", ".", "!", "?")) for p in passages) >= len(passages) // 2
    assert any(p.text.endswith("\u3002") for p in split_passages(doc, size=20, overlap=4))


def test_text_without_spaces_is_cut_by_model_tokens_and_sentence_ends() -> None:
    """Chinese passages hold about ``size`` characters (one model token each) and end at 。/！/？ where they can;
    Thai ones about three letters per token; before, a Chinese document was one passage however long."""
    zh = "".join(f"这是第{i}个句子，它讲述了一个关于北京历史的小故事。" for i in range(60))
    passages = split_passages(Document("zh", zh), size=100, overlap=20)
    check_invariants(Document("zh", zh), passages, 100)
    assert len(passages) > 10
    assert all(len(p.text) <= 120 for p in passages)  # numbers such as "12" are one token of two characters
    assert all(p.text.endswith("。") for p in passages)
    thai = " ".join(["กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย"] * 40)
    passages = split_passages(Document("th", thai), size=50, overlap=10)
    check_invariants(Document("th", thai), passages, 50)
    assert len(passages) > 1 and all(len(p.text.replace(" ", "")) <= 3 * 50 + 10 for p in passages)
    mixed = "北京是中国的首都。它有三千年的历史！上海很大? ok Hello world. กรุงเทพมหานคร"
    s, e = word_spans(mixed)
    assert [mixed[a:b] for a, b in zip(s.tolist(), e.tolist())][:10] == list("北京是中国的首都。它")
    assert words_of(mixed) == [mixed[a:b] for a, b in zip(s.tolist(), e.tolist())]


@pytest.mark.slow
def test_fifty_megabytes_in_linear_time() -> None:
    rng = random.Random(4)
    block = sentences(rng, 2000)
    small_text = (block * (5_000_000 // len(block) + 1))[:5_000_000]
    big_text = (block * (50_000_000 // len(block) + 1))[:50_000_000]

    def timed(text: str) -> tuple[float, list]:
        t0 = time.perf_counter()
        out = split_passages(Document("big", text))
        return time.perf_counter() - t0, out

    small_time = min(timed(small_text)[0] for _ in range(2))
    big_time, passages = timed(big_text)
    assert big_time < 60, f"50 MB took {big_time:.1f} s"
    assert big_time < 25 * small_time, f"not linear: 5 MB {small_time:.2f} s, 50 MB {big_time:.2f} s"
    n_words = len(big_text.split())
    assert n_words / 200 < len(passages) < n_words / 80
    for p in passages[:: max(1, len(passages) // 500)]:
        assert p.text == big_text[p.start : p.end]
