"""Near-duplicate grouping at ingest: edited copies of the real sample article are one story;
clearly different articles, and another report of the same event, are not."""

from __future__ import annotations

import itertools
from dataclasses import replace

from index.build import ingest
from index.embedder import Embedder
from index.neardup import containment, shingles
from index.records import Article
from index.settings import Settings
from index.sources import read_paths
from tests.conftest import DEMO_DIR
from tests.fakes import stored_stories

OTHERS = {
    "floods": (
        "Floods hit Kabul",
        "Heavy rain caused flash floods across Kabul on Tuesday. "
        "Hundreds of homes were damaged and several roads were closed, the municipality "
        "said. Aid agencies distributed blankets and food to families in the west of the "
        "city.",
    ),
    "wheat": (
        "Wheat prices fall",
        "Wheat prices in Afghan markets fell for a third week as "
        "imports from Kazakhstan rose. Traders in Herat said flour was now cheaper than "
        "at any time last year. Farmers worry that the low prices will hurt the next "
        "harvest.",
    ),
    "schools": (
        "Schools reopen in the north",
        "Schools in Balkh and Kunduz reopened after the "
        "winter break. Teachers said thousands of pupils returned on the first day. "
        "The education ministry promised new textbooks before the spring term.",
    ),
    "same-event": (
        "Stoltenberg visits Seoul",
        "NATO chief Jens Stoltenberg arrived in Seoul "
        "on Sunday for talks with South Korean leaders. He is expected to discuss "
        "security in Asia and the war in Ukraine before travelling on to Japan. "
        "South Korea has so far refused to send weapons to Kyiv.",
    ),
}


def sentences_reordered(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[1:] + lines[:1])


def edited_copies(article: Article) -> dict[str, Article]:
    body = article.text
    return {
        "new headline + edit": replace(
            article,
            id="copy1",
            title="NATO presses Seoul on arms",
            text=body.replace("Last year,", "In 2022,"),
        ),
        "trailing paragraph": replace(
            article,
            id="copy2",
            text=body + "\nThis report was updated with comments from the South Korean ministry.",
        ),
        "reordered": replace(article, id="copy3", text=sentences_reordered(body)),
        "lead dropped": replace(
            article, id="copy4", title="Stoltenberg in Seoul", text=body.split("\n", 1)[1]
        ),
    }


def test_shingle_containment() -> None:
    a = shingles("one two three four five six seven eight")
    assert containment(a, a) == 1.0
    assert containment(a, shingles("one two three four five six seven eight nine ten")) == 1.0
    assert containment(a, shingles("alpha beta gamma delta epsilon")) == 0.0
    assert containment(frozenset(), a) == 0.0


def test_near_duplicates_are_grouped(tmp_path, real_embedder: Embedder) -> None:
    (sample,) = [a for a in read_paths([DEMO_DIR], max_bytes=10**7) if isinstance(a, Article)]
    copies = edited_copies(sample)
    others = [Article(id=k, title=t, text=x) for k, (t, x) in OTHERS.items()]
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(settings, [sample, *others], lambda _m: real_embedder)
    report = ingest(settings, list(copies.values()), lambda _m: real_embedder)
    assert report.added == 4, "near duplicates are kept, not dropped"

    story = stored_stories(settings.index_dir)
    truth = {sample.id} | {c.id for c in copies.values()}
    pairs = list(itertools.combinations(sorted(story), 2))
    predicted = {p for p in pairs if story[p[0]] == story[p[1]]}
    actual = {p for p in pairs if p[0] in truth and p[1] in truth}
    tp = len(predicted & actual)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(actual)
    print(
        f"near-duplicate pairs: precision {precision:.2f}, recall {recall:.2f} "
        f"({len(actual)} true pairs among {len(pairs)})"
    )
    assert precision == 1.0, "different articles, even about the same event, stay apart"
    assert recall == 1.0
    assert story["same-event"] != story[sample.id]
