"""PDF text repairs: on toy strings, and on the real SEC filings in ../shared/data (skipped when absent)."""

from pathlib import Path

import pytest

from rag.loaders.pdf import load_pdf
from rag.loaders.pdf_text import dehyphenate, fix_ligatures, repair_pages, strip_running_lines
from rag.records import Document

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
COSTCO = DATA / "pdfs" / "COSTCO_2023Q1_EARNINGS.pdf"
FB_DEV = DATA / "financebench-dev"


def _load(path: Path) -> Document:
    docs = [r for r in load_pdf(path, path.name, None) if isinstance(r, Document)]
    assert len(docs) == 1
    return docs[0]


def test_ligatures_are_spelled_out_by_the_word_they_make():
    text = "o\ufffe the \ufffenancial e\ufffeects, con\ufffeict and \ufffeled; \ufb02ow and \ufb03ce; plain text"
    assert fix_ligatures(text) == "off the financial effects, conflict and filed; flow and ffice; plain text"
    assert fix_ligatures("no ligature here") == "no ligature here"


def test_hyphenation_is_joined_only_for_words():
    assert dehyphenate("income tax pro-\nvision") == "income tax provision"
    assert dehyphenate("a long-\nterm loan") == "a long-\nterm loan"  # "term" is a word: a real compound
    assert dehyphenate("see Note 4-\n5") == "see Note 4-\n5"


def test_running_lines_need_many_pages_and_the_page_edge():
    pages = [f"ACME Corp\nBody text about topic {w}\nTable of Contents in the middle\nmore on {w}\nend {w}\nPage {i}"
             for i, w in enumerate("abcdef", 1)]
    out = strip_running_lines(pages)
    assert out[0] == "Body text about topic a\nTable of Contents in the middle\nmore on a\nend a"
    assert strip_running_lines(pages[:2]) == pages[:2]  # too few pages to call anything running


@pytest.mark.skipif(not COSTCO.is_file(), reason=f"{COSTCO} is not on this machine")
def test_costco_filing_reads_fiscal_and_benefit():
    doc = _load(COSTCO)
    assert "\ufffe" not in doc.text
    for word in ("fiscal", "benefit", "Reclassification", "financial", "effects", "tariffs", "inflation"):
        assert word in doc.text, word
    assert "Net sales $ 53,437 $ 49,417" in doc.text  # a table row stays one line
    for span in doc.pages:  # spans still point at each page's text
        assert doc.text[span.start : span.end] == doc.text[span.start : span.end].strip("\n")


@pytest.mark.skipif(not (FB_DEV / "pdfs").is_dir(), reason=f"{FB_DEV} is not on this machine")
def test_financebench_evidence_pages_lose_running_headers_and_unmapped_glyphs():
    doc = _load(FB_DEV / "pdfs" / "3M_2018_10K.pdf")
    page = doc.text[doc.pages[59].start : doc.pages[59].end]  # the cash flow statement (qrels page p59)
    assert not page.startswith("Table of Contents")
    assert not page.rstrip().endswith("\n60")  # the page number footer
    assert "Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)" in page
    doc = _load(FB_DEV / "pdfs" / "JPMORGAN_2022Q2_10Q.pdf")
    assert "\ufffe" not in doc.text
    assert "market-making" in doc.text and "marketfimaking" not in doc.text  # PDFium's U+FFFE hyphen


def test_repair_keeps_one_text_per_page():
    pages = ["bene\ufffet", "", "x-\nray"]
    assert len(repair_pages(pages)) == 3
