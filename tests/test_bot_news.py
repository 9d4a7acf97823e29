"""News features in the bot: the filter applied is shown, a story is quoted once with the
other outlets, /recent toggles recency, and the Timeline button lists quotes by date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.engine import Engine
from tests.botapi_double import BotAPIDouble, ask, bot, strict
from tests.test_news import news_engine

pytestmark = pytest.mark.slow


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = news_engine(tmp_path / "index")
    yield e
    e.close()


def test_filters_outlets_recent_and_timeline(engine: Engine) -> None:
    with BotAPIDouble() as double, bot(double, engine):
        [reply] = ask(double, "wheat prices in Herat since:2023-02 until:2023-02")
        assert "Searched only since 2023-02-01, until 2023-02-28" in strict(reply)

        [reply] = ask(double, "Why was the Kamal Khan dam opening delayed?")
        text = strict(reply)
        assert "Also reported by 1 other: " in text
        timeline = reply.button("Timeline")
        assert len(timeline.encode()) <= 64
        before = len(double.sent(1001))
        double.press(reply, timeline)
        [page] = double.wait(lambda: double.sent(1001)[before:] or None, what="timeline")
        lines = [line for line in strict(page).splitlines() if line[:4].isdigit()]
        days = [line[:10] for line in lines]
        assert days == sorted(days) and days[0] == "2023-01-12", strict(page)

        [reply] = ask(double, "/recent")
        assert "Newer articles now come first" in strict(reply)
        [reply] = ask(double, "/recent")
        assert "whatever their date" in strict(reply)
