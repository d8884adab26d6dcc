"""Extractive fallback: sentences with the most question words (stopwords removed), each with its marker."""

from __future__ import annotations

import pytest

from rag.answer.extractive import (
    NO_GENERATOR_NOTE,
    Quote,
    content_terms,
    pick_sentences,
    render_extractive,
    split_sentences,
)


def test_content_terms_drop_stopwords_and_stem() -> None:
    assert content_terms("What are the effects of vitamins on the bones?") == {"effect", "vitamin", "bone"}
    assert content_terms("the of and") == set()


def test_sentences_split_on_end_punctuation_before_a_capital_or_digit() -> None:
    text = 'Smith said "It works." Then 3 trials followed!  Why? e.g. not here.'
    assert split_sentences(text) == ['Smith said "It works."', "Then 3 trials followed!", "Why? e.g. not here."]


def test_best_overlapping_sentences_are_picked_in_source_order() -> None:
    passages = [
        "Mitochondria make energy. Vitamin D strengthens bones in older adults.",
        "Bones break more often with vitamin D deficiency. The weather was cold.",
        "Nothing relevant here.",
    ]
    quotes = pick_sentences("Does vitamin D deficiency weaken bones?", passages, k=2)
    assert [(q.number, q.sentence, q.score) for q in quotes] == [
        (1, "Vitamin D strengthens bones in older adults.", 3),
        (2, "Bones break more often with vitamin D deficiency.", 4),
    ]


def test_ties_go_to_the_better_ranked_source() -> None:
    quotes = pick_sentences("protein binding", ["Protein A.", "Protein B.", "Protein C."], k=1)
    assert [(q.number, q.sentence) for q in quotes] == [(1, "Protein A.")]


def test_without_any_overlap_the_top_passage_leads() -> None:
    quotes = pick_sentences("quantum chromodynamics", ["", "First line here. Second line.", "Other."], k=3)
    assert [(q.number, q.sentence, q.score) for q in quotes] == [(2, "First line here.", 0)]


def test_rendering_states_that_no_generator_is_configured_and_cites_each_sentence() -> None:
    text = render_extractive([Quote(1, "A binds B.", 2), Quote(3, "C binds D.", 1)])
    assert text.splitlines() == [NO_GENERATOR_NOTE, '- "A binds B." [1]', '- "C binds D." [3]']
    assert "No answer generator is configured" in text


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be"):
        pick_sentences("q", ["a."], k=0)
