"""Follow-up questions: "and Japan?" or "why?" read with the question before it.

A message is a follow-up when it replies to one of the bot's answers, or when it is short
and leans on what came before (starts with "and", "but", "what about"..., is one or two
words, or holds a pronoun such as "he" or "that" and no name of its own) and the same user
asked in the same chat within `window_s` seconds. The engine is then asked the previous
question and the follow-up together, which is what retrieval needs to find the passages the
user means (the bot falls back on the message alone when that finds nothing).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_WORDS = 6  # longer messages are new questions unless they reply to an answer
MAX_CARRIED = 600  # characters of the previous question carried into the next
_OPENERS = re.compile(
    r"^(and|but|or|also|so|then|what about|how about|and what about|what else)\b", re.I
)
_LEANING = frozenset(
    {"he", "she", "it", "they", "him", "her", "them", "his", "hers", "its", "their"}
    | {"that", "this", "those", "these", "there", "then"}
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Asked:
    """What to ask the engine, and the earlier question it follows up, if any."""

    text: str
    at: float  # when it was asked, by the conversation's clock
    followup_of: str | None = None


def is_short_followup(text: str) -> bool:
    """True for a short message that leans on the question before it."""
    words = _WORD.findall(text)
    if not words or len(words) > MAX_WORDS:
        return False
    if len(words) <= 2 or _OPENERS.match(text.strip()):
        return True
    # A name after the first word brings its own subject: "When did Brindlewick open its museum?"
    named = any(w[:1].isupper() for w in words[1:])
    return bool(_LEANING & {w.lower() for w in words}) and not named


class Conversations:
    """The last question per (chat, user) and per answer message; used from the event loop."""

    def __init__(
        self,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 20_000,
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self.max_entries = max_entries
        self._last: OrderedDict[tuple[int, int], tuple[float, str]] = OrderedDict()
        self._by_message: OrderedDict[tuple[int, int], str] = OrderedDict()

    def resolve(self, chat_id: int, user_id: int, text: str, reply_to: int | None) -> Asked:
        """`text` as the engine should see it, given what this chat asked before."""
        now = self.clock()
        last = self._last.get((chat_id, user_id))
        previous = None
        if reply_to is not None:
            # A reply to an answer we no longer know (or whose id we have not heard back yet)
            # most likely follows the user's latest question here.
            previous = self._by_message.get((chat_id, reply_to)) or (last and last[1])
        elif last is not None and now - last[0] <= self.window_s and is_short_followup(text):
            previous = last[1]
        if not previous:
            return Asked(text, now)
        return Asked(f"{previous[-MAX_CARRIED:]} {text}", now, followup_of=previous)

    def record(self, chat_id: int, user_id: int, asked: Asked) -> None:
        """Remember `asked` as this user's latest question in this chat."""
        self._last[(chat_id, user_id)] = (asked.at, asked.text)
        self._last.move_to_end((chat_id, user_id))
        self._trim(self._last)

    def answered(self, chat_id: int, message_id: int, asked: Asked) -> None:
        """Record that message `message_id` answers `asked`, for replies to it."""
        self._by_message[(chat_id, message_id)] = asked.text
        self._trim(self._by_message)

    def _trim(self, table: OrderedDict[tuple[int, int], Any]) -> None:
        while len(table) > self.max_entries:
            table.popitem(last=False)
