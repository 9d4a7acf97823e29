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
from dataclasses import replace

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot import render
from bot.access import Allowlist, RateLimit
from bot.addressing import command_argument, group_question, is_for_bot, replies_to_bot
from bot.cursors import Cursor, CursorStore, context_data, more_data, parse_data, timeline_data
from bot.delivery import send, typing
from bot.followups import Asked, Conversations
from bot.settings import BotSettings
from bot.telegram_html import Fragment, italic, text
from index.errors import QAError
from index.wording import plural
from qa.answer import Answer, EmptyQuestion
from qa.engine import Engine
from qa.filters import FilterError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

EXAMPLE_QUESTION = "Why won't South Korea arm Ukraine?"
COMMANDS = (
    BotCommand("start", "what this bot does"),
    BotCommand("help", "how to ask, and the commands"),
    BotCommand("ask", "ask a question (in groups: /ask QUESTION)"),
    BotCommand("sources", "what is indexed: articles, newest date"),
    BotCommand("recent", "favour newer articles in this chat (again to stop)"),
)
START = (
    "I answer questions about a news archive with quotes from its articles, each with its "
    "title, date and link. Just ask, for example:\n\n"
)
HELP = (
    "Send me a question and I reply with the passages that answer it, quoted and cited. "
    "Reply to one of my answers, or send a short follow-up such as \u201cand Japan?\u201d, to "
    "ask more about the same thing.\n\n"
    "In groups, mention me, reply to my answer, or use /ask QUESTION.\n\n"
    "/ask QUESTION \u2014 ask a question\n"
    "/sources \u2014 what I have read\n"
    "/recent \u2014 favour newer articles in this chat (send it again to stop)\n"
    "/help \u2014 this message\n\n"
    "Under an answer, \u201cContext\u201d shows the whole passage around a quote and "
    "\u201cMore\u201d shows further passages and \u201cTimeline\u201d the quotes on the "
    "topic, oldest first.\n\n"
    "Limit a question by date or source inside it: since:2023-01, until:2023-03, "
    "source:ava, or plain words such as \u201cin 2022\u201d, \u201clast week\u201d."
)
REFUSAL = "Sorry, this bot is private."
APOLOGY = "Sorry, something went wrong while answering. Please try again in a moment."
EXPIRED = "This answer is too old for its buttons; please ask again."
ALREADY_SHOWN = "Those passages are shown above."
ASK_USAGE = "Ask like this: /ask " + EXAMPLE_QUESTION
MENTION_USAGE = "What would you like to know? For example: " + EXAMPLE_QUESTION


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
        markup = self._buttons(chat.id, answer)
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

    def _buttons(self, chat_id: int, answer: Answer) -> InlineKeyboardMarkup | None:
        """Context buttons for each quote and a More button, behind one server-side cursor."""
        if answer.abstained or not answer.quotes:
            return None
        key = self.cursors.put(Cursor(chat_id, answer))
        contexts = [
            InlineKeyboardButton(f"Context {n}", callback_data=context_data(key, n))
            for n in range(1, len(answer.quotes) + 1)
        ]
        more = [InlineKeyboardButton("More passages", callback_data=more_data(key, 0))]
        more.append(InlineKeyboardButton("Timeline", callback_data=timeline_data(key)))
        return InlineKeyboardMarkup([contexts, more])

    # --- buttons --------------------------------------------------------------------------

    async def button(self, update: Update, context: Context) -> None:
        """A More or Context button: answer from its cursor, or say that it has expired."""
        query = update.callback_query
        if query is None:
            return
        pressed = parse_data(query.data)
        cursor = self.cursors.get(pressed.key) if pressed else None
        if (
            pressed is None
            or cursor is None
            or query.message is None
            or cursor.chat_id != query.message.chat.id
        ):
            await query.answer(EXPIRED)
            await self._drop_buttons(context, query.message, keep=lambda _data: False)
            return
        chat_id = cursor.chat_id
        answer = cursor.answer
        if pressed.kind == "tl":
            await query.answer()
            async with typing(context.bot, chat_id):
                timeline = await asyncio.to_thread(self.engine.timeline, answer.question)
            for part in render.timeline_message(timeline):
                await send(context.bot, chat_id, part, reply_to=query.message.message_id)
            return
        if pressed.kind == "ctx":
            if not 1 <= pressed.n <= len(answer.quotes):
                await query.answer(EXPIRED)
                return
            await query.answer()
            message = render.context_message(answer, pressed.n)
            await send(context.bot, chat_id, message, reply_to=query.message.message_id)
            return
        if pressed.n != cursor.next_passage or pressed.n >= len(answer.passages):
            await query.answer(ALREADY_SHOWN)
            return
        page, next_start = render.passages_page(answer, pressed.n)
        # Claimed before any await, so a second press of the same button finds it spent.
        self.cursors.update(pressed.key, replace(cursor, next_passage=next_start))
        await query.answer()
        markup = None
        if next_start < len(answer.passages):
            more = InlineKeyboardButton(
                "More passages", callback_data=more_data(pressed.key, next_start)
            )
            markup = InlineKeyboardMarkup([[more]])
        await send(context.bot, chat_id, page, reply_to=query.message.message_id, markup=markup)
        await self._drop_buttons(
            context, query.message, keep=lambda data: not data.startswith("more:")
        )

    async def _drop_buttons(
        self, context: Context, message: object, keep: Callable[[str], bool]
    ) -> None:
        """Take spent buttons off an earlier message (a courtesy: failures are only logged)."""
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        rows = [
            [b for b in row if isinstance(b.callback_data, str) and keep(b.callback_data)]
            for row in message.reply_markup.inline_keyboard
        ]
        rows = [row for row in rows if row]
        try:
            await context.bot.edit_message_reply_markup(
                message.chat.id,
                message.message_id,
                reply_markup=InlineKeyboardMarkup(rows) if rows else None,
            )
        except BadRequest as e:
            log.debug("could not update the buttons of message %s: %s", message.message_id, e)

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
