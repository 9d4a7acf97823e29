"""The bot's handlers: thin adapters from Telegram updates to `Engine.ask` and back.

A question's trip: update -> gate (allowlist) -> handler (group rules, rate limit,
follow-up) -> Engine.ask in a worker thread -> render -> send. The handlers share one
`QABot`, which holds the engine and the bot's short-term memory (cursors, conversations).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot import render
from bot.access import Allowlist, RateLimit
from bot.addressing import command_argument, group_question, is_for_bot, replies_to_bot
from bot.buttons import AnswerButtons
from bot.cursors import CursorStore
from bot.delivery import send, typing
from bot.followups import Asked, Conversations
from bot.settings import BotSettings
from bot.telegram_html import Fragment, italic, text
from bot.texts import (
    APOLOGY,
    ASK_USAGE,
    COMMANDS,
    EXAMPLE_QUESTION,
    HELP,
    MENTION_USAGE,
    REFUSAL,
    START,
)
from index.errors import QAError
from index.wording import plural
from qa.answer import Answer, EmptyQuestion
from qa.engine import Engine
from qa.filters import FilterError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class QABot:
    """The handlers, sharing one Engine and the bot's memory (cursors, conversations, limits)."""

    def __init__(
        self, engine: Engine, settings: BotSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.allowlist = Allowlist(settings.allowed_ids)
        self.rate = RateLimit(settings.rate_limit, settings.rate_window_s, clock)
        self.cursors = CursorStore(settings.cursor_ttl_s, settings.max_cursors, clock)
        self.buttons = AnswerButtons(engine, self.cursors)
        self.conversations = Conversations(settings.followup_s, clock)
        self.recent_chats: set[int] = set()  # chats that asked for newer articles first

    async def post_init(self, application: Application) -> None:
        """Register the commands, so Telegram clients offer them."""
        await application.bot.set_my_commands(COMMANDS)

    # --- access ---------------------------------------------------------------------------

    async def gate(self, update: Update, context: Context) -> None:
        """Let allowed users through; refuse a stranger once and drop their updates."""
        user, chat = update.effective_user, update.effective_chat
        if self.allowlist.allows(user.id if user else None, chat.id if chat else None):
            return
        who = user.id if user else chat.id if chat else 0
        query = update.callback_query
        if query is not None:
            first = self.allowlist.first_refusal(who)
            await query.answer(REFUSAL if first else None)
        elif chat is not None and self._for_bot(update, context):
            first = self.allowlist.first_refusal(who)
            if first:
                await send(context.bot, chat.id, text(REFUSAL))
        else:
            first = False  # not meant for the bot: ignored without using up the refusal
        if first:
            log.info("refused user %s in chat %s (not on the allowlist)", who, chat and chat.id)
        raise ApplicationHandlerStop

    def _for_bot(self, update: Update, context: Context) -> bool:
        return is_for_bot(update, context.bot.id, context.bot.username)

    # --- commands -------------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """/start: what the bot does and one example question."""
        message = text(START) + italic(text(EXAMPLE_QUESTION))
        await self._reply(update, context, message)

    async def help(self, update: Update, context: Context) -> None:
        """/help: how to ask and every command."""
        await self._reply(update, context, text(HELP))

    async def sources(self, update: Update, context: Context) -> None:
        """/sources: how many articles are indexed and how recent they are."""
        s = await asyncio.to_thread(self.engine.stats)
        message = render.sources_message(
            s.articles, s.chunks, s.newest_published, s.updated, s.model
        )
        await self._reply(update, context, message)

    async def ask(self, update: Update, context: Context) -> None:
        """/ask QUESTION: answer the question, in any chat."""
        if update.effective_message is None:
            return
        question = command_argument(update.effective_message)
        if not question:
            await self._reply(update, context, text(ASK_USAGE))
            return
        await self._answer(update, context, question)

    async def unknown_command(self, update: Update, context: Context) -> None:
        """Any other /command in a private chat: point to /help."""
        await self._reply(update, context, text("I don't know that command; see /help."))

    # --- questions ------------------------------------------------------------------------

    async def private_text(self, update: Update, context: Context) -> None:
        """Any text in a private chat is a question."""
        if update.effective_message is not None:
            await self._answer(update, context, update.effective_message.text or "")

    async def group_text(self, update: Update, context: Context) -> None:
        """In a group, answer a message that mentions the bot or replies to it; else stay quiet."""
        message = update.effective_message
        if message is None:
            return
        question = group_question(message, context.bot.id, context.bot.username)
        if question is None:
            return
        if not question.strip():
            await self._reply(update, context, text(MENTION_USAGE))
            return
        await self._answer(update, context, question)

    async def _answer(self, update: Update, context: Context, question: str) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or chat is None:
            return
        user_id = user.id if user else chat.id
        wait = self.rate.wait_for(user_id)
        if wait:
            if self.rate.should_warn(user_id):
                await self._reply(
                    update,
                    context,
                    text(
                        "You are asking faster than I can read; please wait "
                        f"{plural(math.ceil(wait), 'second')} and ask again."
                    ),
                )
            return
        asked = self.conversations.resolve(
            chat.id, user_id, question, replies_to_bot(message, context.bot.id)
        )
        async with typing(context.bot, chat.id):
            try:
                answer = await self._ask(asked.text, chat.id)
                if answer.abstained and asked.followup_of is not None:
                    # Perhaps a new question after all: answer it alone if that works.
                    alone = await self._ask(question, chat.id)
                    if not alone.abstained:
                        answer, asked = alone, Asked(question, asked.at)
            except (EmptyQuestion, FilterError) as e:
                # The user can fix these (a bad date, since after until, an unknown source):
                # the same message as the command line gives, not the apology.
                why = str(e)
                await self._reply(update, context, text(why[:1].upper() + why[1:]))
                return
        self.conversations.record(chat.id, user_id, asked)
        parts = render.answer_messages(answer, followup_of=asked.followup_of)
        markup = self.buttons.markup(chat.id, answer)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await send(
                context.bot,
                chat.id,
                part,
                reply_to=message.message_id,
                markup=markup if last else None,
            )
            self.conversations.answered(chat.id, sent.message_id, asked)

    async def recent(self, update: Update, context: Context) -> None:
        """/recent: favour newer articles in this chat, or stop doing so."""
        chat = update.effective_chat
        if chat is None:
            return
        on = chat.id not in self.recent_chats
        (self.recent_chats.add if on else self.recent_chats.discard)(chat.id)
        await self._reply(
            update,
            context,
            text(
                "Newer articles now come first in this chat; send /recent again to stop."
                if on
                else "Articles are ranked by how well they answer again, whatever their date."
            ),
        )

    async def _ask(self, question: str, chat_id: int | None = None) -> Answer:
        """Engine.ask in a worker thread, so the event loop keeps serving other chats."""
        recent = chat_id in self.recent_chats
        return await asyncio.to_thread(
            lambda: self.engine.ask(question, self.settings.passages, recent=recent)
        )

    # --- buttons --------------------------------------------------------------------------

    async def button(self, update: Update, context: Context) -> None:
        """A More or Context button: answer from its cursor, or say that it has expired."""
        await self.buttons.press(update, context)

    # --- errors ---------------------------------------------------------------------------

    async def error(self, update: object, context: Context) -> None:
        """The one error handler: log the error once, and apologise to a waiting user."""
        err = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(err, Forbidden):
            log.warning("chat %s cannot be reached: %s", chat and chat.id, err)
            return
        if isinstance(err, TimedOut):
            # The message may well have arrived; an apology on top would only confuse.
            log.warning("Bot API call timed out for chat %s: %s", chat and chat.id, err)
            return
        if isinstance(err, NetworkError) and not isinstance(err, BadRequest):
            log.warning("Bot API call failed for chat %s: %s", chat and chat.id, err)
        elif isinstance(err, QAError):
            log.error("could not answer in chat %s: %s", chat and chat.id, err)
        else:
            log.error("error while handling an update in chat %s", chat and chat.id, exc_info=err)
        if chat is None or not isinstance(update, Update):
            return
        try:
            reply_to = update.effective_message.message_id if update.effective_message else None
            await send(context.bot, chat.id, text(APOLOGY), reply_to=reply_to)
        except TelegramError as e:
            log.warning("could not apologise in chat %s: %s", chat.id, e)

    # --- helpers --------------------------------------------------------------------------

    async def _reply(self, update: Update, context: Context, message: Fragment) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        reply_to = update.effective_message.message_id if update.effective_message else None
        if chat.type == ChatType.PRIVATE:
            reply_to = None  # in a private chat the answer follows the question anyway
        await send(context.bot, chat.id, message, reply_to=reply_to)
