"""The bot answers throughout ingests run by another process, and finds each new article as
soon as its ingest has committed."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.texts import APOLOGY
from qa.engine import Engine
from tests.botapi_double import BotAPIDouble, Sent, bot, check_html
from tests.test_crash import corpus, driver

pytestmark = pytest.mark.slow

USER = 4242


@pytest.fixture
def engine(hashing_demo_engine: Engine) -> Engine:
    return hashing_demo_engine


def test_bot_answers_while_another_process_ingests(engine: Engine, tmp_path: Path) -> None:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    folder = engine.settings.index_dir
    replies = 0
    try:
        with BotAPIDouble() as double, bot(double, engine, rate_limit=0):

            def ask(question: str) -> Sent:
                message_id = double.message(question, user=USER)["message_id"]

                def answered() -> list[Sent]:
                    return [s for s in double.sent(USER) if s.reply_to == message_id]

                [reply] = double.wait(answered, timeout=120)
                check_html(reply.text)
                return reply

            for n in range(3):
                batch = corpus(tmp_path / f"batch{n}.jsonl", 1000 + n * 100, 100)
                proc = driver("ingest", str(folder), str(batch))
                while proc.poll() is None:
                    assert ask("Why won't South Korea arm Ukraine?").text != APOLOGY
                    replies += 1
                assert proc.returncode == 0
                newest = 1000 + n * 100 + 99
                reply = ask(
                    f"Dispatch {newest} sentence 3 tells of river {newest % 17} and market 3."
                )
                assert f"Dispatch {newest}" in reply.text, "found once its ingest committed"
    finally:
        logging.getLogger().removeHandler(handler)
    assert replies > 0
    assert log.getvalue() == "", "no warning or error while the index changed underneath"
    print(f"{replies} answers during 3 ingests of 100 articles each")
