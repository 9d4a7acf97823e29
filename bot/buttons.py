"""The buttons under an answer: Context for each quote, More passages and Timeline, all behind
one server-side cursor (`bot.cursors`); and what a press of each of them sends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import render
from bot.cursors import Cursor, CursorStore, context_data, more_data, parse_data, timeline_data
from bot.delivery import send, typing
from bot.texts import ALREADY_SHOWN, EXPIRED
from qa.answer import Answer
from qa.engine import Engine

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class AnswerButtons:
    """An answer's buttons and the replies to their presses, from the engine and the cursors."""

    def __init__(self, engine: Engine, cursors: CursorStore) -> None:
        self.engine = engine
        self.cursors = cursors

    def markup(self, chat_id: int, answer: Answer) -> InlineKeyboardMarkup | None:
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

    async def press(self, update: Update, context: Context) -> None:
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
