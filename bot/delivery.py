"""Getting messages to Telegram: flood control waited out, transient errors retried, HTML that
Telegram refuses resent as plain text, and a typing indicator while an answer is worked out.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.telegram_html import Fragment

log = logging.getLogger(__name__)

MAX_FLOOD_WAIT_S = 120.0  # a longer RetryAfter is given up on (and reaches the error handler)
TYPING_EVERY_S = 4.5  # Telegram shows "typing" for about 5 seconds per action
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# Calls that do no harm when repeated, so a timed-out one may be sent again. A sendMessage
# that timed out may have been delivered; repeating it could post the answer twice.
IDEMPOTENT = frozenset(
    {
        "getMe",
        "deleteWebhook",
        "setMyCommands",
        "getMyCommands",
        "sendChatAction",
        "answerCallbackQuery",
        "editMessageText",
        "editMessageReplyMarkup",
    }
)


def retry_after_s(e: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (an int or a timedelta, by library version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | dtm.timedelta = e.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class FloodControl(BaseRateLimiter[None]):
    """Every Bot API call but getUpdates passes here: RetryAfter is waited out and retried;
    connection errors and 5xx answers are retried with backoff (timeouts only for
    `IDEMPOTENT` calls); anything else, or the last failure, is raised to the caller.
    """

    def __init__(self, max_retries: int = 3, backoff_s: float = 0.5) -> None:
        self.max_retries = max_retries
        self.backoff_s = backoff_s

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                wait = retry_after_s(e)
                if attempt >= self.max_retries or wait > MAX_FLOOD_WAIT_S:
                    raise
                log.warning("flood control on %s: waiting %.0f s as Telegram asks", endpoint, wait)
                await asyncio.sleep(wait + 0.1)
            except BadRequest:
                raise  # our request is wrong; sending it again will not help
            except TimedOut:
                if attempt >= self.max_retries or endpoint not in IDEMPOTENT:
                    raise
                log.warning("%s timed out; trying again", endpoint)
            except NetworkError as e:
                if attempt >= self.max_retries:
                    raise
                wait = self.backoff_s * 2**attempt
                log.warning("%s failed (%s); trying again in %.1f s", endpoint, e, wait)
                await asyncio.sleep(wait)
            attempt += 1


def is_markup_error(e: BadRequest) -> bool:
    """True when Telegram refused a message for its formatting."""
    m = e.message.lower()
    return "can't parse entities" in m or "can't find end" in m or "unsupported start tag" in m


async def send(
    bot: Bot,
    chat_id: int,
    message: Fragment,
    *,
    reply_to: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send `message` as HTML; if Telegram refuses the formatting, send its plain text instead."""
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    try:
        return await bot.send_message(
            chat_id,
            message.html,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply,
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as e:
        if not is_markup_error(e):
            raise
        log.warning("Telegram refused a reply's HTML (%s); sending it as plain text", e.message)
    return await bot.send_message(
        chat_id,
        message.plain,
        reply_parameters=reply,
        reply_markup=markup,
        link_preview_options=NO_PREVIEW,
    )


async def _keep_typing(bot: Bot, chat_id: int) -> None:
    while True:
        try:
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as e:
            # Only a courtesy: an answer is still on its way, so do not stop it.
            log.debug("typing indicator for chat %s failed: %s", chat_id, e)
            return
        await asyncio.sleep(TYPING_EVERY_S)


@asynccontextmanager
async def typing(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Show "typing..." in `chat_id` until the block ends."""
    task = asyncio.create_task(_keep_typing(bot, chat_id))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
