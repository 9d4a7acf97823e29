"""Chunking: verbatim offsets, budgets in the model's own word-pieces, overlap."""

from __future__ import annotations

import itertools

from index.build import prepare
from index.chunker import chunk_text
from index.embedder import Embedder
from index.records import Article
from index.sentences import split_sentences
from tests.conftest import DEMO_DIR
from tests.fakes import HashingEmbedder


def words(texts: list[str]) -> list[list[tuple[int, int]]]:
    return HashingEmbedder().token_spans(texts)


def test_chunks_are_whole_sentences_within_budget_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    sentences = split_sentences(text, "en")
    assert len(sentences) == 40
    chunks = chunk_text(text, sentences, words, budget=30, overlap=8)
    assert len(chunks) > 5
    for c in chunks:
        assert c.tokens <= 30
        assert text[c.start : c.end].startswith("Sentence number")
        assert text[c.start : c.end].endswith("words.")
        assert (c.start, c.end) == (c.sentences[0][0], c.sentences[-1][1])
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks overlap by a trailing sentence"
        assert b.start > a.start, "every chunk moves forward"
    assert chunks[-1].end == len(text)


def test_overlong_sentence_is_cut_at_word_boundaries() -> None:
    text = "Short one. " + " ".join(f"w{i}" for i in range(100)) + "."
    chunks = chunk_text(text, split_sentences(text, "en"), words, budget=20, overlap=0)
    assert all(c.tokens <= 20 for c in chunks)
    covered = " ".join(text[c.start : c.end] for c in chunks)
    assert covered.split() == text.split()


def test_real_tokenizer_budget_holds_for_the_demo(real_embedder: Embedder) -> None:
    from index.sources import read_paths

    (article,) = list(read_paths([DEMO_DIR], max_bytes=10**7))
    assert isinstance(article, Article)
    chunks, inputs = prepare(article, real_embedder, chunk_tokens=64, overlap=16)
    assert len(chunks) >= 4
    for chunk, text in zip(chunks, inputs, strict=True):
        assert text == f"{article.title}\n{article.text[chunk.start : chunk.end]}"
        (pieces,) = real_embedder.token_spans([text])
        assert len(pieces) <= 64, "title + chunk fit the budget in the model's word-pieces"
        for s, e in chunk.sentences:
            assert chunk.start <= s < e <= chunk.end


def test_sentence_spans_are_exact_and_lines_break() -> None:
    text = "First line ends here.\nSecond para has no stop\nThird. Fourth?  Fifth!"
    spans = split_sentences(text, "en")
    assert [text[s:e] for s, e in spans] == [
        "First line ends here.",
        "Second para has no stop",
        "Third.",
        "Fourth?",
        "Fifth!",
    ]


def test_a_long_paragraph_starts_its_own_chunk() -> None:
    """A paragraph longer than a chunk is not begun in what is left of the chunk before: that
    chunk would hold two topics (XQuAD's Pharmacy: UK technicians, then medieval chemists)."""
    short = "Technicians work in pharmacies. They are regulated."  # 7 words
    long = " ".join(f"Chemist {i} made drugs here." for i in range(12))  # 60 words
    text = f"{short}\n{long}"
    chunks = chunk_text(text, split_sentences(text, "en"), words, budget=30, overlap=8)
    assert text[chunks[0].start : chunks[0].end] == short
    assert all(text[c.start : c.end].startswith("Chemist") for c in chunks[1:])
    assert all(c.tokens <= 30 for c in chunks) and chunks[-1].end == len(text)


def test_overlap_never_makes_a_chunk_of_repeated_sentences_alone() -> None:
    """Where the overlap and the next sentence do not fit one chunk, the next chunk starts
    at that sentence: a chunk of carried-over sentences alone would repeat, and add nothing."""
    first = "One two three four five six. Seven eight nine ten."
    huge = " ".join(f"w{i}" for i in range(27)) + "."  # 27 words: fits only without overlap
    text = f"{first} {huge} Last words here."
    chunks = chunk_text(text, split_sentences(text, "en"), words, budget=30, overlap=8)
    for a, b in itertools.pairwise(chunks):
        assert b.end > a.end, "every chunk holds something the one before did not"
    assert any(text[c.start : c.end].startswith("w0") for c in chunks)


def test_a_backtick_quotation_does_not_swallow_the_sentences_after_it() -> None:
    """XQuAD's Pharmacy: "prepare the `simples’ from which..." made one 1,085-character
    sentence of five, up to the apostrophe of a later 'Mesue'."""
    text = (
        "It explains how to prepare the `simples’ from which drugs were made. Sabur was the "
        "first. Al-Biruni wrote a book. Of impact were the works by 'Mesue' the younger."
    )
    spans = split_sentences(text, "en")
    assert [text[s:e] for s, e in spans][:2] == [
        "It explains how to prepare the `simples’ from which drugs were made.",
        "Sabur was the first.",
    ]
    assert len(spans) == 4
