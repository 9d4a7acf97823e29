"""The Application: python-telegram-bot configured for this bot, its handlers wired, run by
long polling or on a webhook."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import re
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.error import BadRequest, TelegramError
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

log = logging.getLogger(__name__)

ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY)
DROP_PENDING_UPDATES = False  # what was asked while the bot was down is answered at start
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
        .post_init(lambda app: started(app, qabot))
        .build()
    )
    wire(application, qabot)
    return application


async def started(application: Application, qabot: QABot) -> None:
    """Once the event loop runs: Bot API failures it finds orphaned are logged in one line,
    then the bot's own start-up (its command list)."""
    asyncio.get_running_loop().set_exception_handler(_orphaned_failure)
    await qabot.post_init(application)


def _orphaned_failure(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's handler of errors that no code awaited.

    When the connection drops just as the bot stops, python-telegram-bot's polling loop sees
    its stop signal and the failed getUpdates together, returns on the first and leaves the
    second unread: asyncio then logs "Task exception was never retrieved" with a traceback.
    A Bot API error is expected on a dropped connection: one line. Anything else is a bug,
    shown in full by asyncio's own handler.
    """
    error = context.get("exception")
    if isinstance(error, TelegramError):
        log.warning("a Bot API call failed while nothing waited for it: %s", error)
        return
    loop.default_exception_handler(context)


class _QuietCleanup(logging.Filter):
    """One line instead of a traceback when the last getUpdates of a shutdown fails.

    Stopping, python-telegram-bot calls getUpdates once more to confirm the updates it has
    read, and logs a failure with `logger.exception`; on a dropped connection that is a
    page of traceback for a fact worth one line (the updates come again at the next start).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.funcName == "_get_updates_cleanup" and isinstance(error, TelegramError):
            record.msg = (
                "could not confirm the last updates to Telegram while stopping (%s); "
                "they may be delivered again at the next start"
            )
            record.args = (error,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


class _RefusedWebhook(logging.Filter):
    """Nothing for a setWebhook that Telegram refuses: the error reaches `run`'s caller,
    which says why in one line (`qa bot`); python-telegram-bot's own log of it is a page of
    traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (
            record.module == "networkloop"
            and "Set Webhook" in record.getMessage()
            and isinstance(error, BadRequest)
        )


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
    """Take updates until one of `stop_signals` arrives (None: only `stop_running`): by long
    polling, or on `settings.webhook` when it is set.

    Raises BadRequest when Telegram refuses the webhook, OSError when its port cannot be had.
    """
    updater_log, retry_log = (
        logging.getLogger("telegram.ext.Updater"),
        logging.getLogger("telegram.ext"),
    )
    quiet, refused = _QuietCleanup(), _RefusedWebhook()
    updater_log.addFilter(quiet)
    retry_log.addFilter(refused)
    try:
        if settings.webhook is None:
            application.run_polling(
                timeout=dtm.timedelta(seconds=settings.poll_timeout_s),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=DROP_PENDING_UPDATES,
                stop_signals=stop_signals,
            )
        else:
            hook = settings.webhook
            # setWebhook first, then a tornado server on host:port that refuses (403) a post
            # without the secret header. Several processes may do this with the same URL and
            # secret: Telegram keeps one webhook per bot, so each start sets the same one.
            application.run_webhook(
                listen=hook.host,
                port=hook.port,
                url_path=re.escape(hook.path),  # python-telegram-bot reads it as a regex
                webhook_url=hook.url,
                secret_token=hook.secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=DROP_PENDING_UPDATES,
                stop_signals=stop_signals,
            )
    finally:
        updater_log.removeFilter(quiet)
        retry_log.removeFilter(refused)
