"""The Application: python-telegram-bot configured for this bot, its handlers wired, run."""

from __future__ import annotations

import asyncio
import datetime as dtm
import signal
import time
from collections.abc import Callable, Sequence

from telegram import Bot, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.delivery import FloodControl
from bot.handlers import QABot
from bot.settings import BotSettings
from qa.engine import Engine

ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def build_application(
    settings: BotSettings, engine: Engine, *, clock: Callable[[], float] = time.monotonic
) -> Application:
    """An Application that answers from `engine`, with concurrent updates and flood control."""
    qabot = QABot(engine, settings, clock)
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .concurrent_updates(True)  # one slow question never holds up another user
        .rate_limiter(FloodControl(settings.max_retries))
        .connect_timeout(10.0)
        .read_timeout(settings.request_timeout_s)
        .write_timeout(settings.request_timeout_s)
        .get_updates_read_timeout(settings.poll_timeout_s + 10.0)
        .job_queue(None)
        .post_init(qabot.post_init)
        .build()
    )
    wire(application, qabot)
    return application


def wire(application: Application, qabot: QABot) -> None:
    """Attach every handler; the allowlist gate runs first, in its own group."""
    new = filters.UpdateType.MESSAGE  # edited messages are not asked again
    text = new & filters.TEXT & ~filters.COMMAND
    application.add_handler(TypeHandler(Update, qabot.gate), group=-1)
    for name, callback in (
        ("start", qabot.start),
        ("help", qabot.help),
        ("ask", qabot.ask),
        ("sources", qabot.sources),
        ("recent", qabot.recent),
    ):
        application.add_handler(CommandHandler(name, callback, filters=new))
    application.add_handler(
        MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE, qabot.unknown_command)
    )
    application.add_handler(MessageHandler(text & filters.ChatType.PRIVATE, qabot.private_text))
    application.add_handler(MessageHandler(text & filters.ChatType.GROUPS, qabot.group_text))
    application.add_handler(CallbackQueryHandler(qabot.button))
    application.add_error_handler(qabot.error)


def whoami(settings: BotSettings) -> str:
    """The bot's username, from one getMe call; raises InvalidToken or NetworkError.

    Run before `run`, so that a refused token or an unreachable server is one clear error
    instead of the library's retry-loop traceback.
    """

    async def ask() -> str:
        request = HTTPXRequest(connect_timeout=10.0, read_timeout=settings.request_timeout_s)
        async with Bot(settings.token, base_url=settings.api_base_url, request=request) as bot:
            return bot.username

    return asyncio.run(ask())


def run(
    application: Application,
    settings: BotSettings,
    *,
    stop_signals: Sequence[int] | None = STOP_SIGNALS,
) -> None:
    """Long-poll for updates until one of `stop_signals` arrives (None: only `stop_running`)."""
    application.run_polling(
        timeout=dtm.timedelta(seconds=settings.poll_timeout_s),
        allowed_updates=list(ALLOWED_UPDATES),
        stop_signals=stop_signals,
    )
