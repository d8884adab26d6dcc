"""Tests for rag/clean.py: normalize_text against ftfy itself, the quality rules, and defaults on real data."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import ftfy
import pytest
from pydantic import ValidationError

from rag import clean
from rag.clean import QualityRules, check_quality, normalize_text, quality_stats

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCIFACT = DATA / "scifact" / "corpus.jsonl"
PDFS = DATA / "pdfs"

SAMPLES = [
    "Caf\u00c3\u00a9 au lait",
    "\u00e2\u0153\u201d No problems",
    "the Mona Lisa doesn\u00e2\u20ac\u2122t have eyebrows.",
    "voil\u00c3 le travail",
    "s\u00c3\u00b3 \x85 next",
    "\x1b[31mred\x1b[0m text",
    "line one\n\u00c3  at a line start",
    "\ufb01sh \uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33",
    "pair \ud83d\udca9 and lone \udca9 surrogates",
    "\ufeffbom\u200b zero width and \u2066isolates\u2069",
    "crlf\r\nand\rcr\u2028ls\u2029ps\x0cff\x0bvt",
    "tabs\t\tand   spaces  \n \n\n\n\nend   ",
    "\u0420\u045f\u0421\u0402\u0420\u0451\u0420\u0406\u0420\u00b5\u0421\u201a",
    "\u0393\u00c7\u00a3quotes\u0393\u00c7\u00a5",
    "na\u00efve caf\u00e9 r\u00e9sum\u00e9 \u2014 \u201ccurly\u201d \u2018single\u2019 \u2026 \u00bd x\u00b2",
    "\u0442\u0435\u043a\u0441\u0442 \u043d\u0430 \u0440\u0443\u0441\u0441\u043a\u043e\u043c",
    "\u4e2d\u6587\u6587\u672c\uff0c\u6d4b\u8bd5\u3002",
    "\u00c3\u00a9\n\u00c3\u00a9\n",
    "AT&amp;T &lt;b&gt; stays escaped",
    "\x00\x01ctrl\x7f chars\x1f",
    "",
    "   \n\t  ",
]


def reference_normalize(text: str) -> str:
    """The slow path spelled out: ftfy over the whole text, then our tidy steps (which include NFKC)."""
    fix_text, config, _ = clean._ftfy()
    return clean._tidy(fix_text(text, config))


def scifact_texts() -> list[str]:
    if not SCIFACT.exists():
        pytest.skip(f"SciFact corpus not found at {SCIFACT} (shared data is not mounted)")
    with SCIFACT.open(encoding="utf-8") as f:
        return [(r["title"] + "\n" + r["text"]) for r in map(json.loads, f)]


# -- normalize_text -------------------------------------------------------------------------------------------------


def test_normalize_basics() -> None:
    assert normalize_text("Caf\u00c3\u00a9") == "Caf\u00e9"  # mojibake repaired
    assert normalize_text("\ufb01ne \uff21\uff22") == "fine AB"  # NFKC: ligature, full width
    assert normalize_text("a\x00b\x07c\x7fd") == "abcd"  # controls removed
    assert normalize_text("a \t  b\t\tc") == "a b c"  # runs of spaces and tabs collapse
    assert normalize_text("a   \nb \n") == "a\nb"  # trailing spaces on lines trimmed
    assert normalize_text("a\r\nb\rc") == "a\nb\nc"
    assert normalize_text("a\n\n\n\n\nb\n \n \nc") == "a\n\nb\n\nc"  # at most one blank line
    assert normalize_text("  \n x \n  ") == "x"
    assert normalize_text("") == "" and normalize_text(" \t\n ") == ""
    assert normalize_text("AT&amp;T") == "AT&amp;T"  # HTML is the loaders' business
    assert normalize_text("\u201cquoted\u201d") == "\u201cquoted\u201d"  # curly quotes kept


@pytest.mark.parametrize("text", SAMPLES)
def test_normalize_equals_full_ftfy_and_is_idempotent(text: str) -> None:
    out = normalize_text(text)
    assert out == reference_normalize(text)
    assert normalize_text(out) == out


def test_normalize_equals_full_ftfy_on_random_mixtures() -> None:
    pieces = [s for s in SAMPLES if s.strip()] + ["plain ascii words here.", "\n", "\n\n\n", "  ", "\u00a0", "\u00c3 "]
    rng = random.Random(7)
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        assert normalize_text(text) == reference_normalize(text), repr(text)


def test_normalize_equals_full_ftfy_on_scifact_with_planted_mojibake() -> None:
    texts = scifact_texts()
    rng = random.Random(3)
    planted = []
    for text in texts[:300]:
        words = text.split(" ")
        i = rng.randrange(len(words))
        words[i] += rng.choice([" caf\u00c3\u00a9", " don\u00e2\u20ac\u2122t", " \u00c3\u00a0 la", " \x96 "])
        planted.append(" ".join(words))
    for text in texts + planted:
        assert normalize_text(text) == reference_normalize(text)


def test_lone_non_ascii_characters_outside_the_suspects_never_look_bad() -> None:
    # The fast path skips single non-ASCII characters unless they are in _LONE_SUSPECTS; check that claim
    # against the installed ftfy: every non-ASCII character its badness regex names, in every short ASCII context.
    _, _, badness = clean._ftfy()
    pattern = badness.pattern
    chars = {c for c in pattern if ord(c) > 0x7F}
    for m in re.finditer(r"([^\x00-\x7f])-([^\x00-\x7f])", pattern):
        chars.update(chr(cp) for cp in range(ord(m[1]), ord(m[2]) + 1))
    chars.update("\u00e9\u00fc\u00f1\u2014\u2013\u201c\u201d\u2019\u00b0\u00b5")
    lone = {chr(cp) for cp in clean._LONE_SUSPECTS.tolist()} | {chr(cp) for cp in range(0x80, 0xA0)}
    reps = "aZ1 .\n"
    contexts = ["", *reps, *(x + y for x in reps for y in reps)]
    assert len(chars - lone) > 300
    for c in sorted(chars - lone):
        for left in contexts:
            for right in contexts:
                assert not badness.search(left + c + right), (left, c, right)


def test_normalize_equals_full_ftfy_on_dense_mojibake_characters() -> None:
    _, _, badness = clean._ftfy()
    chars = sorted({c for c in badness.pattern if ord(c) > 0x7F})
    rng = random.Random(21)
    for _ in range(3000):
        n = rng.randint(1, 30)
        text = "".join(rng.choice(chars) if rng.random() < 0.3 else rng.choice("ab Z.\n1 ") for _ in range(n))
        assert normalize_text(text) == reference_normalize(text), repr(text)


def test_piecewise_nfkc_equals_unicodedata() -> None:
    alphabet = [
        *"aeoAZ1 .,\n",
        "\u0301", "\u0308", "\u0327", "\u0323", "\u031b", "\u0345",  # combining marks (reordering, composing)
        "\u00e9", "\u212b", "\u2126", "\ufb01", "\uff21", "\u2026", "\u00a0", "\u00bd", "\u00b2", "\u2460",
        "\u1100", "\u1161", "\u11a8", "\uac00", "\u0b47", "\u0b3e", "\u09c7", "\u09be",  # Hangul, Indic pairs
        "\u4e2d", "\U0002f800", "\U0001d400", "\u0627", "\u0653",
    ]
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert clean._nfkc(text) == unicodedata.normalize("NFKC", text), repr(text)
    long_text = ("plain words " * 300 + "\u2026 caf\u0065\u0301 \uff21 ") * 3
    assert clean._nfkc(long_text) == unicodedata.normalize("NFKC", long_text)


def test_nothing_from_u30000_changes_under_nfkc() -> None:
    for cp in range(clean._NFKC_LUT_SIZE, 0x110000):
        c = chr(cp)
        assert not unicodedata.combining(c) and unicodedata.normalize("NFKC", c) == c, hex(cp)
        decomposition = unicodedata.decomposition(c)
        assert not decomposition or decomposition.startswith("<"), hex(cp)


def test_only_space_and_newline_whitespace_survive() -> None:
    # Every code point that is whitespace itself or becomes whitespace under NFKC.
    suspects = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and any(c.isspace() for c in unicodedata.normalize("NFKC", chr(cp)))
    ]
    assert len(suspects) > 25
    for cp in suspects:
        out = normalize_text(f"a{chr(cp)}b {chr(cp)}{chr(cp)} c")
        assert all(c in " \n" for c in out if c.isspace()), (hex(cp), out)


def test_normalize_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="decode bytes first"):
        normalize_text(b"abc")  # type: ignore[arg-type]


def test_fast_path_skips_ftfy_for_clean_text(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fix_text, config, badness = clean._ftfy()

    def counting_fix(text: str, cfg: object) -> str:
        calls.append(text)
        return fix_text(text, cfg)

    monkeypatch.setattr(clean, "_ftfy", lambda: (counting_fix, config, badness))
    normalize_text("plain ascii\nand na\u00efve caf\u00e9 \u2014 fine\n")
    assert calls == []
    normalize_text("first line fine\nsecond has caf\u00c3\u00a9\nthird fine")
    assert calls == ["second has caf\u00c3\u00a9\n"]  # only the flagged line goes through ftfy


# -- quality rules --------------------------------------------------------------------------------------------------


def test_empty_is_always_dropped() -> None:
    assert check_quality("", QualityRules()) == ("empty", "no text after cleaning")
    assert check_quality(" \n\t", QualityRules(enabled=False))[0] == "empty"  # type: ignore[index]


def test_each_rule_fires_and_can_be_disabled() -> None:
    prose = "The cat sat on the mat and looked at the garden for a while. " * 3
    rules = QualityRules()
    assert check_quality(prose, rules) is None
    cases = {
        "min_words": (prose, QualityRules(min_words=500)),
        "max_chars": (prose, QualityRules(max_chars=10)),
        "mean_word_len": ("a b c d e f g h i j k", QualityRules()),
        "alpha_share": ("12 34 56 78 90 11 22 33 44 55 66 77 88 99 10 20 30 40 50 60 x", QualityRules()),
        "symbol_ratio": ("# ## ### #### word word", QualityRules()),
        "repeated_lines": ("\n".join(["same line here"] * 9 + ["other"] * 3), QualityRules()),
    }
    for rule, (text, strict) in cases.items():
        verdict = check_quality(text, strict)
        assert verdict is not None and verdict[0] == rule, (rule, verdict)
        assert any(ch.isdigit() for ch in verdict[1])  # the detail gives the measured value
        field = {
            "min_words": "min_words",
            "max_chars": "max_chars",
            "mean_word_len": "min_mean_word_len",
            "alpha_share": "min_alpha_word_share",
            "symbol_ratio": "max_symbol_ratio",
            "repeated_lines": "max_repeated_line_share",
        }[rule]
        relaxed = strict.model_copy(update={field: None})
        assert check_quality(text, relaxed) is None or check_quality(text, relaxed)[0] != rule  # type: ignore[index]
        assert check_quality(text, strict.model_copy(update={"enabled": False})) is None


def test_detail_reads_value_against_threshold() -> None:
    verdict = check_quality("1 2 3 4 5 6 7 8 9 word", QualityRules(min_alpha_word_share=0.8))
    assert verdict == ("alpha_share", "words with a letter 0.10 < 0.80")
    assert check_quality("x" * 50, QualityRules(max_mean_word_len=10)) == (
        "mean_word_len",
        "mean word length 50.00 > 10.00",
    )


def test_repeated_lines_need_enough_lines() -> None:
    few = "\n".join(["repeat me"] * 9)
    many = "\n".join(["repeat me"] * 10)
    rules = QualityRules(max_repeated_line_share=0.3)
    assert check_quality(few, rules) is None
    assert check_quality(many, rules) == ("repeated_lines", "repeated lines 0.90 > 0.30")
    fewer_lines_needed = rules.model_copy(update={"repeated_line_min_lines": 5})
    assert check_quality(few, fewer_lines_needed)[0] == "repeated_lines"  # type: ignore[index]


def test_rules_are_validated() -> None:
    with pytest.raises(ValidationError, match="min_mean_word_len"):
        QualityRules(min_mean_word_len=12, max_mean_word_len=3)
    with pytest.raises(ValidationError):
        QualityRules(min_alpha_word_share=1.5)
    with pytest.raises(ValidationError):
        QualityRules(min_word=3)  # type: ignore[call-arg]  # a typo is an error, not silently ignored


def split_units(text: str) -> tuple[list[str], list[str]]:
    """The definition the quality scan implements: ``str.split`` words, with every character of a script written
    without spaces taken out of its word as a unit of its own. Returns (words, spaceless characters)."""
    from indexers.analyzers.scripts import spaceless_table

    table = spaceless_table()
    words: list[str] = []
    units: list[str] = []
    for w in text.split():
        current = ""
        for c in w:
            if table[ord(c)]:
                if current:
                    words.append(current)
                current = ""
                units.append(c)
            else:
                current += c
        if current:
            words.append(current)
    return words, units


def test_stats_match_python_definitions() -> None:
    rng = random.Random(11)
    alphabet = ["a", "Z", "\u00e9", "\u4e2d", "1", "9", "#", ".", "-", "_", "\u00b2", "\U0001f600", "\u0662",
                "\u3002", "\u0e01", "\u0e31", "\u30a2"]
    spaces = [" ", "\n", "\t", "\u00a0", "\u3000", "  "]
    for _ in range(200):
        n = rng.randint(0, 80)
        text = "".join(rng.choice(alphabet) if rng.random() < 0.7 else rng.choice(spaces) for _ in range(n))
        words, units = split_units(text)
        stats = quality_stats(text)
        assert stats.words == len(words)
        assert stats.alpha_words == sum(any(c.isalpha() for c in w) for w in words)
        assert stats.word_chars == sum(map(len, words))
        assert (stats.spaceless, stats.spaceless_letters) == (len(units), sum(c.isalpha() for c in units))


def test_text_without_spaces_is_kept_by_the_default_rules() -> None:
    """Chinese, Japanese and Thai have no spaces between words: one "word" of hundreds of characters used to be
    dropped by the mean word length rule (issue 14); their characters are units now."""
    texts = {
        "zh": "北京是中华人民共和国的首都，也是全国的政治、文化中心。" * 10,
        "ja": "東京都に住んでいる学生たちは、毎日図書館で勉強しています。" * 10,
        "th": "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย " * 10,
        "mixed": "MonoDevelop是个适用于Linux、Mac OS X和Microsoft Windows的开放原始码整合开发环境。",
    }
    for lang, text in texts.items():
        assert check_quality(normalize_text(text), QualityRules()) is None, lang
        assert check_quality(normalize_text(text), QualityRules(min_mean_word_len=3.0, max_mean_word_len=10.0)) \
            is None, lang
    # English is measured as before: one 60-character blob is still a blob
    assert check_quality("x" * 60, QualityRules())[0] == "mean_word_len"
    stats = quality_stats("中文，好。ok")
    assert (stats.words, stats.spaceless, stats.units) == (1, 5, 6)


def test_stats_of_a_long_text_match_python_definitions() -> None:
    rng = random.Random(12)
    lines = [f"  word{rng.randint(0, 300)} 12 #tag caf\u00e9\u00a0x\t" if rng.random() < 0.9 else " \u3000 "
             for _ in range(3000)]
    text = "\n".join(lines) + "\ud800 \U0001f600z"
    words = text.split()
    stats = quality_stats(text)
    assert (stats.words, stats.word_chars) == (len(words), sum(map(len, words)))
    assert stats.alpha_words == sum(any(c.isalpha() for c in w) for w in words)
    stripped = [line.strip() for line in text.split("\n") if line.strip()]
    assert (stats.lines, stats.repeated_lines) == (len(stripped), len(stripped) - len(set(stripped)))
    assert quality_stats(text, count_lines=False).lines == 0


def test_ellipsis_runs_count_once() -> None:
    assert quality_stats("Contents ........ 3 and ... or \u2026\u2026").symbols == 3


# -- defaults on real data ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_defaults_keep_every_scifact_document() -> None:
    texts = scifact_texts()
    assert len(texts) == 5183
    dropped = [t[:60] for t in texts if check_quality(normalize_text(t), QualityRules()) is not None]
    assert dropped == []
    # Gopher's own thresholds would drop some of these real abstracts (tables of contents, short abstracts).
    gopher = QualityRules(
        min_words=50,
        min_alpha_word_share=0.8,
        max_symbol_ratio=0.1,
        max_repeated_line_share=0.3,
        min_mean_word_len=3,
        max_mean_word_len=10,
    )
    assert sum(check_quality(normalize_text(t), gopher) is not None for t in texts) > 10


@pytest.mark.slow
def test_defaults_keep_the_pdf_filings_and_every_page() -> None:
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDFs")
    files = sorted(PDFS.glob("*.pdf")) if PDFS.exists() else []
    if not files:
        pytest.skip(f"no PDFs found in {PDFS} (shared data is not mounted)")
    for path in files:
        pdf = pdfium.PdfDocument(str(path))
        pages = [normalize_text(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
        pdf.close()
        assert check_quality("\n\n".join(pages), QualityRules()) is None, path.name
        for number, page in enumerate(pages, 1):
            if page:
                assert check_quality(page, QualityRules()) is None, (path.name, number)


def test_ftfy_is_the_reference() -> None:
    # Guard the assumption behind the fast path: ftfy's badness regex never matches pure ASCII.
    assert not ftfy.badness.is_bad("plain ascii text with symbols #$%^&*()[]{}<>~`|\\ and 0123456789")
