"""Telegram misbehaving: flood control, 5xx, timeouts, dropped connections, a blocked bot,
refused HTML, a failing engine. The bot keeps running, retries what can be retried, logs
the rest once, apologises where a user waits, answers the next question normally, and
never writes its token into a log line."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.settings import Settings
from qa.engine import Engine
from tests.botapi_double import TOKEN, BotAPIDouble, ask, bot, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION

pytestmark = pytest.mark.slow

APOLOGY_START = "Sorry, something went wrong"


@pytest.fixture
def engine(demo_index: Path, real_factory: Callable[[str], Embedder]) -> Iterator[Engine]:
    e = Engine(Settings.from_env({}, index_dir=demo_index), make_embedder=real_factory)
    yield e
    e.close()


@pytest.fixture
def double() -> Iterator[BotAPIDouble]:
    with BotAPIDouble() as d:
        yield d


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line, DEBUG and up, httpx included, formatted as the entry point does."""
    from bot.logs import redact_token

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    redact_token(TOKEN, [handler])
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    levels = root.level, httpx.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    httpx.setLevel(logging.DEBUG)  # `qa` turns it down; here it must show what it would log
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        httpx.setLevel(levels[1])
    text = out.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text


def sends(double: BotAPIDouble) -> list[int]:
    return [c.status for c in double.calls("sendMessage")]


def test_flood_control_is_waited_out(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "retry_after", retry_after=1)
    with bot(double, engine):
        [reply] = ask(double, DEMO_QUESTION)
    assert DEMO_ANSWER_START in strict(reply)
    assert sends(double) == [429, 200]
    assert "flood control on sendMessage" in logs.getvalue()
    assert "ERROR" not in logs.getvalue()


def test_server_errors_and_dropped_connections_are_retried(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "server_error", status=502)
    double.fail("sendMessage", "drop")
    double.fail("sendChatAction", "server_error", status=500, times=5)
    with bot(double, engine):
        [reply] = ask(double, DEMO_QUESTION)
    assert DEMO_ANSWER_START in strict(reply)
    assert sends(double) == [502, 0, 200]
    assert len(double.sent()) == 1


def test_polling_survives_getupdates_errors(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        double.fail("getUpdates", "server_error", status=500, times=2)
        [reply] = ask(double, DEMO_QUESTION)
    assert DEMO_ANSWER_START in strict(reply)


def test_send_error_reaches_the_error_handler(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "bad_request", description="Bad Request: message thread not found")
    with bot(double, engine):
        [apology] = ask(double, DEMO_QUESTION)
        assert strict(apology).startswith(APOLOGY_START)
        [reply] = ask(double, DEMO_QUESTION)  # and the next question is answered normally
    assert DEMO_ANSWER_START in strict(reply)
    text = logs.getvalue()
    assert "ERROR bot.handlers: error while handling an update in chat 1001" in text
    assert "Traceback" in text and "BadRequest: Message thread not found" in text


def test_persistent_5xx_is_logged_once_and_apologised_for(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "server_error", status=500, times=4)  # the first try + 3 retries
    with bot(double, engine):
        [apology] = ask(double, DEMO_QUESTION)
        assert strict(apology).startswith(APOLOGY_START)
        [reply] = ask(double, DEMO_QUESTION)
    assert DEMO_ANSWER_START in strict(reply)
    assert logs.getvalue().count("Bot API call failed for chat 1001") == 1


def test_timeout_is_not_resent_and_the_bot_carries_on(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "timeout", delay=3.0)  # delivered, but after the client gave up
    with bot(double, engine, request_timeout_s=1.0):
        [slow] = ask(double, DEMO_QUESTION)
        double.wait(lambda: "timed out for chat 1001" in logs.getvalue())
        [reply] = ask(double, DEMO_QUESTION)
    assert DEMO_ANSWER_START in strict(slow) and DEMO_ANSWER_START in strict(reply)
    assert len(double.sent(1001)) == 2  # no duplicate answer, no apology


def test_blocked_by_the_user_is_logged_and_skipped(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "forbidden", when=lambda p: p.get("chat_id") == 5001)
    with bot(double, engine):
        double.message(DEMO_QUESTION, user=5001)
        double.wait(lambda: "chat 5001 cannot be reached" in logs.getvalue())
        [reply] = ask(double, DEMO_QUESTION, user=5002)
    assert DEMO_ANSWER_START in strict(reply)
    assert double.sent(5001) == []  # no apology into a chat that refuses messages
    assert logs.getvalue().count("chat 5001 cannot be reached") == 1


def test_refused_html_is_resent_as_plain_text(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail(
        "sendMessage",
        "bad_request",
        description="Bad Request: can't parse entities: unsupported start tag",
        when=lambda p: p.get("parse_mode") == "HTML",
    )
    with bot(double, engine):
        [reply] = ask(double, DEMO_QUESTION)
    assert reply.parse_mode is None
    assert DEMO_ANSWER_START in reply.visible
    assert "<" not in reply.visible  # the markup is gone, not shown as text
    assert "sending it as plain text" in logs.getvalue()


def test_engine_failure_gets_an_apology_and_a_traceback(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str, k: int = 5, **options: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(engine, "ask", broken)
    with bot(double, engine):
        [apology] = ask(double, DEMO_QUESTION)
    assert strict(apology).startswith(APOLOGY_START)
    assert "the disk is on fire" not in apology.visible  # details go to the log only
    assert "RuntimeError: the disk is on fire" in logs.getvalue()


def test_token_is_redacted_from_every_log_line(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    double.fail("sendMessage", "server_error", status=500, times=4)
    with bot(double, engine):
        ask(double, DEMO_QUESTION)
    # httpx logs each request URL, which holds the token: it must show up redacted
    assert "/bot[redacted]/sendMessage" in logs.getvalue()


def test_a_bad_filter_gets_the_message_the_command_line_gives(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    """A question the user can fix (a date that is none, dates the wrong way round, a source
    no article has) is answered with what to fix, not with the apology."""
    with bot(double, engine):
        [bad_date] = ask(double, "Korea since:2023-13")
        [backwards] = ask(double, "Korea since:2027 until:2026")
        [nowhere] = ask(double, "Korea source:nowhere")
    assert "there is no month 13" in strict(bad_date) and "last week" in strict(bad_date)
    assert "Since 2027-01-01 is after until 2026-12-31" in strict(backwards)
    assert "No article's source or URL matches 'nowhere'" in strict(nowhere)
    for reply in (bad_date, backwards, nowhere):
        assert APOLOGY_START not in reply.visible
    assert "ERROR" not in logs.getvalue()


def test_stopping_while_the_connection_drops_is_quiet(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    """The Bot API connection drops and stays down while the bot stops: the last getUpdates
    (which confirms the updates read) fails too. One line says so; no traceback."""
    with bot(double, engine):
        double.fail("getUpdates", "drop", times=10_000)
        double.wait(lambda: any(c.status == 0 for c in double.calls("getUpdates")))
    text = logs.getvalue()
    assert "could not confirm the last updates to Telegram while stopping" in text
    assert "Traceback" not in text and "ERROR" not in text, text


def test_a_failure_nothing_waits_for_is_one_line(
    double: BotAPIDouble, engine: Engine, logs: io.StringIO
) -> None:
    """What python-telegram-bot's polling loop leaves when the connection drops just as it
    stops: a task whose Bot API error nobody reads. Not asyncio's "Task exception was never
    retrieved" with a traceback, but one line."""
    from telegram import Update
    from telegram.error import NetworkError
    from telegram.ext import ApplicationHandlerStop, TypeHandler

    async def fail() -> None:
        raise NetworkError("httpx.RemoteProtocolError: Server disconnected")

    async def orphan(update: object, context: object) -> None:
        asyncio.get_running_loop().create_task(fail())  # no reference kept, never awaited
        raise ApplicationHandlerStop

    with bot(double, engine) as application:
        application.add_handler(TypeHandler(Update, orphan), group=-2)
        double.message("orphan")
        double.wait(
            lambda: "never retrieved" in logs.getvalue() or "nothing waited" in logs.getvalue(),
            timeout=30,
        )
    text = logs.getvalue()
    assert "a Bot API call failed while nothing waited for it: httpx.Remote" in text
    assert "never retrieved" not in text and "Traceback" not in text, text
