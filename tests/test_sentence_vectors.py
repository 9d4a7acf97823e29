"""Sentence vectors read in context: pooled in the chunk's own pass, stored at ingest, used
by quote selection so that a question embeds only itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index import int8
from index.build import ingest, sentence_spans
from index.embedder import Embedder
from index.reader import IndexReader
from index.records import Article
from index.sentence_vectors import pool_spans, read_in_context, sentence_pieces
from index.settings import Settings
from qa.engine import Engine
from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION
from tests.fakes import HashingEmbedder


@pytest.fixture(params=["openvino", "torch"])
def in_context(request: pytest.FixtureRequest) -> Embedder:
    """Both embedders that read sentences in context: the export (what ingest runs) and
    sentence-transformers (the fallback)."""
    name = "real_embedder" if request.param == "openvino" else "torch_embedder"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_int8_rows_round_trip_close_and_zero_rows_stay_zero() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(5, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[2] = 0
    back = int8.unpack(int8.pack(rows), 384)
    assert back.shape == rows.shape and not back[2].any()
    live = [0, 1, 3, 4]
    assert (np.sum(back[live] * rows[live], axis=1) > 0.999).all()
    with pytest.raises(ValueError):
        int8.unpack(b"\x00" * 7, 384)


def test_pool_spans_averages_the_tokens_inside_each_span() -> None:
    tokens = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    offsets = [(0, 3), (4, 8), (9, 12)]
    out = pool_spans(tokens, offsets, [(0, 8), (9, 12), (20, 30)])
    np.testing.assert_allclose(out[0], [2**-0.5, 2**-0.5], rtol=1e-6)
    np.testing.assert_allclose(out[1], [2**-0.5, 2**-0.5], rtol=1e-6)
    assert not out[2].any(), "a span with no token (past the window) gives a zero row"


def test_real_model_gives_text_vectors_unchanged_and_sentences_in_context(
    in_context: Embedder,
) -> None:
    texts = [
        "Floods\nHeavy rain hit Kabul on Monday. It destroyed 200 homes, officials said.",
        "Talks\nThe talks ended.",
    ]
    spans = [[(7, 38), (39, 79)], [(6, 22)]]
    vectors, sentences = in_context.embed_with_sentences(texts, spans)
    np.testing.assert_allclose(vectors, in_context.embed_batch(texts), atol=1e-5)
    for text, span, rows in zip(texts, spans, sentences, strict=True):
        assert rows is not None and rows.shape == (len(span), in_context.dimension)
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
        alone = in_context.embed_batch([text[a:b] for a, b in span])
        # The same sentence, read in its passage: close to, not equal to, the sentence alone.
        assert (np.sum(rows * alone, axis=1) > 0.6).all()


def test_sentences_past_the_window_are_embedded_alone(in_context: Embedder) -> None:
    body = " ".join(["The river rose again."] * 120)  # far past 256 word-pieces
    text = f"Floods\n{body}"
    last = (len(text) - len("The river rose again."), len(text))
    _, (rows,) = in_context.embed_with_sentences([text], [[(7, 28), last]])
    assert rows is not None and rows.any(axis=1).all()
    alone = in_context.embed_batch([text[slice(*last)]])[0]
    assert float(rows[1] @ alone) > 0.999


def test_ingest_stores_a_vector_for_every_sentence(demo_index: Path) -> None:
    reader = IndexReader(demo_index)
    ids, _ = reader.store.vectors(reader.manifest.dimension)
    chunks = reader.chunks(ids.tolist())
    stored = reader.store.sentence_vectors(chunks, reader.manifest.dimension)
    reader.close()
    assert chunks and set(stored) == set(chunks)
    for cid, chunk in chunks.items():
        assert stored[cid].shape == (len(chunk.sentences), reader.manifest.dimension)


def test_the_demo_answer_embeds_only_the_question(
    demo_index: Path, real_embedder: Embedder
) -> None:
    calls: list[int] = []

    class Counting(Embedder):
        name, dimension, max_tokens = (
            real_embedder.name,
            real_embedder.dimension,
            real_embedder.max_tokens,
        )

        def embed_batch(self, texts, *, progress=False):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return real_embedder.embed_batch(texts)

        def token_spans(self, texts):  # type: ignore[no-untyped-def]
            return real_embedder.token_spans(texts)

    engine = Engine(Settings.from_env({}, index_dir=demo_index), lambda _m: Counting())
    answer = engine.ask(DEMO_QUESTION)
    engine.close()
    assert not answer.abstained
    assert any(DEMO_ANSWER_START in q.text for q in answer.quotes)
    assert calls == [1], "one text embedded: the question; sentences came from the index"


def test_an_index_without_sentence_vectors_still_answers(settings: Settings) -> None:
    """Indexes written before sentence vectors were stored: sentences are embedded instead."""

    class Plain(HashingEmbedder):
        def embed_with_sentences(self, texts, spans, *, progress=False):  # type: ignore[no-untyped-def]
            return Embedder.embed_with_sentences(self, texts, spans, progress=progress)

    plain = Plain()
    article = Article(id="a", title="Grain", text="Ports reopened. The grain deal was signed.")
    ingest(settings, [article], lambda _m: plain)
    reader = IndexReader(settings.index_dir)
    assert reader.store.sentence_vectors([1, 2, 3], reader.manifest.dimension) == {}
    reader.close()
    engine = Engine(settings, lambda _m: plain)
    before = plain.embedded
    answer = engine.ask("Where was the grain deal signed?")
    engine.close()
    assert answer.quotes and plain.embedded > before + 1, "the sentences were embedded"


def test_sentence_spans_index_the_embedded_text() -> None:
    from index.records import Chunk

    article = Article(id="a", title="T", text="One two. Three four.")
    chunk = Chunk(seq=0, start=9, end=20, sentences=((9, 20),), tokens=2)
    (spans,) = sentence_spans(article, [chunk])
    embedded = f"{article.title}\n{article.text[chunk.start : chunk.end]}"
    assert [embedded[a:b] for a, b in spans] == ["Three four."]


def test_a_script_the_model_reads_letter_by_letter_is_read_sentence_by_sentence(
    in_context: Embedder,
) -> None:
    """Persian through the English MiniLM: pooled in context it blurs, so each sentence is
    embedded on its own, and so is the title; the text's vector is their mean, and the text
    is never read whole (docs/quality.md). An English text beside it is read whole."""
    text = "تاریخ\nسیل در کابل صدها خانه را ویران کرد. مقامات گفتند کمک می‌رسد."
    first_end = text.index(".") + 1
    spans = [(6, first_end), (first_end + 1, len(text))]
    english = "Floods\nHeavy rain hit Kabul on Monday. It destroyed 200 homes, officials said."
    vectors, (rows, english_rows) = in_context.embed_with_sentences(
        [text, english], [spans, [(7, 38), (39, 79)]]
    )
    alone = in_context.embed_batch([text[a:b] for a, b in [*spans, (0, 5)]])
    assert rows is not None and english_rows is not None
    assert (np.sum(rows * alone[:2], axis=1) > 0.999).all()
    pieces_mean = alone.mean(axis=0) / np.linalg.norm(alone.mean(axis=0))
    assert float(vectors[0] @ pieces_mean) > 0.999
    assert float(vectors[0] @ in_context.embed_batch([text])[0]) < 0.99, "not read whole"
    assert float(vectors[1] @ in_context.embed_batch([english])[0]) > 0.999


def test_foreign_texts_are_never_read_whole_and_share_their_title_once() -> None:
    """`read_in_context`'s bookkeeping, with a fake whose word-pieces are letters (so every
    text counts as foreign but the one in ASCII)."""

    class Letters(HashingEmbedder):
        def token_spans(self, texts):  # type: ignore[no-untyped-def]
            return [
                [(i, i + 1) for i, c in enumerate(t) if not c.isspace()]
                if not t.isascii()
                else [(m.start(), m.end()) for m in re.finditer(r"\S+", t)]
                for t in texts
            ]

    fake = Letters()
    texts = ["سیل\nباران آمد. خانه ها رفت.", "سیل\nکمک رسید.", "Floods\nRain fell."]
    spans = [
        [(t.index(x), t.index(x) + len(x)) for x in t.split("\n")[1].replace(". ", ".|").split("|")]
        for t in texts
    ]
    read: list[list[int]] = []

    def whole(rows: list[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        read.append(rows)
        for i in rows:
            yield i, fake.embed_batch([texts[i]])[0], fake.embed_batch(["Rain", "fell."])

    vectors, sentences = read_in_context(fake, texts, spans, whole)
    assert read == [[2]], "only the English text is read whole"
    assert fake.calls[-1] == 4, "three sentences and the shared title, in one call"
    pieces = fake.embed_batch(["باران آمد.", "خانه ها رفت.", "سیل"])
    mean = pieces.mean(axis=0)
    np.testing.assert_allclose(vectors[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert sentences[0] is not None and sentences[0].shape == (2, fake.dimension)
    np.testing.assert_allclose(sentences[0], pieces[:2], atol=1e-6)


def test_sentence_pieces_are_the_sentences_then_the_words_outside_them() -> None:
    text = "Title\n One. Two. \n tail words "
    spans = [(7, 11), (12, 16)]
    pieces = [text[a:b] for a, b in sentence_pieces(text, spans)]
    assert pieces == ["One.", "Two.", "Title", "tail words"]
    assert sentence_pieces("Only a title", []) == [(0, 12)]
    assert sentence_pieces("  A.  ", [(2, 4)]) == [(2, 4)], "blank stretches are no pieces"


def test_the_export_reads_sentences_as_sentence_transformers_does(
    real_embedder: Embedder, torch_embedder: Embedder
) -> None:
    """Ingest's embedder (OpenVINO) and the torch fallback pool the same word-pieces: their
    text and sentence vectors agree to bfloat16 rounding, in a batch of mixed lengths."""
    from index.embedder import resolve_dtype

    body = " ".join(f"Talks resumed in round {n}. Delegates met the envoy." for n in range(40))
    texts = [f"Talks\n{body}", "Floods\nHeavy rain hit Kabul on Monday. It destroyed homes."]
    spans = [[(6, 29), (30, 52), (len(texts[0]) - 25, len(texts[0]))], [(7, 38), (39, 58)]]
    ours, our_rows = real_embedder.embed_with_sentences(texts, spans)
    theirs, their_rows = torch_embedder.embed_with_sentences(texts, spans)
    assert getattr(real_embedder, "dtype", None) == resolve_dtype("auto")
    assert (np.sum(ours * theirs, axis=1) > 0.999).all()
    for a, b in zip(our_rows, their_rows, strict=True):
        assert a is not None and b is not None and a.shape == b.shape
        assert (np.sum(a * b, axis=1) > 0.999).all()
