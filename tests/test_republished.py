"""A republished copy that adds one sentence must not change the answer.

The copy is one sentence longer than the original, which fits one chunk, so the copy's
chunks are two: most of the article, then a short tail ("... More rain is expected on
Friday."). The tail ranked first for "How much rain fell?", and passages that nearly repeat
a kept one were passed over by the symmetric shingle containment of story grouping: the
tail, being the smaller, lies wholly inside both the original and the copy's first chunk,
so both were dropped and the sentence with the figure was never a candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from index.build import ingest, prepare
from index.embedder import Embedder
from index.neardup import containment, covered, shingles
from index.records import Article, StoredChunk
from index.settings import Settings
from qa.answer import Answer, Hit
from qa.engine import Engine
from qa.retriever import distinct

FIGURE = "Heavy rain dropped 180 mm on the city overnight."
SENTENCES = [
    "Engineers were checking the old stone bridge for damage before reopening it.",
    FIGURE,
    "Shop owners in the old town began clearing out ruined stock.",
    "The football match planned for Saturday was called off because the pitch was flooded.",
    "A landslide blocked the main road to the airport for several hours on Thursday morning.",
    "Police warned drivers to stay away from flooded underpasses.",
    "Streets in the old town were flooded and several bridges were closed.",
    "Residents spent the night on the upper floors of their homes.",
    "Officials opened three sports halls as shelters for people who had to leave their homes.",
    "The army sent trucks and soldiers to the worst-hit villages in the valley.",
    "Electricity was cut to about fifteen thousand households in the northern suburbs.",
    "Telephone lines were down in parts of the old town for most of the day.",
    "The city's public transport company suspended tram services on four lines.",
    "The river rose by almost two metres in six hours.",
    "Emergency services received more than two thousand calls since midnight.",
    "Buses ran with long delays.",
    "The fire brigade pumped water out of hundreds of cellars in the eastern districts.",
    "The national weather service issued a new warning for the weekend.",
    "More rain is expected on Friday.",
]
ADDED = "The mayor thanked volunteers who filled sandbags through the night."
ORIGINAL = Article(
    id="storm",
    title="Storm floods the city",
    text=" ".join(SENTENCES),
    published="2026-11-20",
    url="https://city.example/storm",
)
COPY = Article(
    id="storm-copy",
    title="Storm floods the city",
    text=" ".join([*SENTENCES[:6], ADDED, *SENTENCES[6:]]),
    published="2026-11-21",
    url="https://wire.example/storm",
)


def answer(folder: Path, make: Callable[[str], Embedder], articles: list[Article]) -> Answer:
    settings = Settings.from_env({}, index_dir=folder)
    ingest(settings, articles, make)
    engine = Engine(settings, make)
    try:
        return engine.ask("How much rain fell?")
    finally:
        engine.close()


def test_a_copy_with_one_more_sentence_keeps_the_figure(
    tmp_path: Path, real_factory: Callable[[str], Embedder], real_embedder: Embedder
) -> None:
    # The shape that hid the figure: the original is one chunk, the copy two.
    assert len(prepare(ORIGINAL, real_embedder, 256, 40)[0]) == 1
    assert len(prepare(COPY, real_embedder, 256, 40)[0]) == 2
    alone = answer(tmp_path / "alone", real_factory, [ORIGINAL])
    both = answer(tmp_path / "both", real_factory, [ORIGINAL, COPY])
    assert alone.quotes[0].text == FIGURE
    assert both.quotes[0].text == FIGURE, [q.text for q in both.quotes]
    assert not both.abstained
    first = both.quotes[0]
    others = {first.article_id, *(c.article_id for c in first.also_reported_by)}
    assert others == {"storm", "storm-copy"}, "one story, the other named under the quote"


def chunk(cid: int, text: str) -> StoredChunk:
    return StoredChunk(cid, f"a{cid}", "t", None, None, None, text, 0, len(text), ())


def test_a_passage_that_holds_more_than_a_kept_one_is_kept() -> None:
    whole = chunk(1, ORIGINAL.text)
    tail = chunk(2, " ".join(SENTENCES[-4:]))
    copy = chunk(3, COPY.text)
    # Symmetric containment calls the tail a duplicate of the whole; it adds nothing only
    # one way round.
    assert containment(shingles(tail.text), shingles(whole.text)) == 1.0
    assert covered(shingles(tail.text), shingles(whole.text)) == 1.0
    assert covered(shingles(whole.text), shingles(tail.text)) < 0.2
    kept = distinct([Hit(tail, 0.3, 0.5), Hit(whole, 0.2, 0.5), Hit(copy, 0.1, 0.5)], 5)
    assert [h.chunk.id for h in kept] == [2, 1], "the copy adds one sentence: one slot"
    kept = distinct([Hit(whole, 0.3, 0.5), Hit(tail, 0.2, 0.5)], 5)
    assert [h.chunk.id for h in kept] == [1], "the tail adds nothing to the whole"
    assert covered(frozenset(), shingles(whole.text)) == 1.0
