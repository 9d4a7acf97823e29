"""Server-side cursors behind the "More" and "Context" buttons.

Telegram gives a button at most 64 bytes of callback data, so a button carries only a short
random key (and a number); the answer it pages through stays here, for `ttl_s` seconds, the
oldest dropped first once `max_entries` are held. Callback data is ASCII whatever the
language of the question.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from qa.answer import Answer

MAX_CALLBACK_BYTES = 64
_DATA = re.compile(r"^(more|ctx|tl):([A-Za-z0-9_-]{1,24}):(\d{1,4})$")


@dataclass(frozen=True)
class Cursor:
    """An answer that buttons refer to, and how far "More" has paged through its passages."""

    chat_id: int
    answer: Answer
    next_passage: int = 0


@dataclass(frozen=True)
class Button:
    """Parsed callback data: `more` with the first passage of the page, or `ctx` with a quote."""

    kind: str
    key: str
    n: int


def more_data(key: str, start: int) -> str:
    return _checked(f"more:{key}:{start}")


def context_data(key: str, n: int) -> str:
    return _checked(f"ctx:{key}:{n}")


def timeline_data(key: str) -> str:
    return _checked(f"tl:{key}:0")


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def parse_data(data: str | None) -> Button | None:
    """The button that `data` names, or None for anything this bot did not make."""
    m = _DATA.match(data or "")
    return Button(m.group(1), m.group(2), int(m.group(3))) if m else None


class CursorStore:
    """Cursors by key, expiring after `ttl_s`; used from the event loop only."""

    def __init__(
        self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, Cursor]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, cursor: Cursor) -> str:
        """Store `cursor` under a new key (12 URL-safe characters) and return the key."""
        key = secrets.token_urlsafe(9)
        self._items[key] = (self.clock(), cursor)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Cursor | None:
        """The live cursor for `key`; None when unknown or older than the TTL."""
        item = self._items.get(key)
        if item is None:
            return None
        created, cursor = item
        if self.clock() - created > self.ttl_s:
            del self._items[key]
            return None
        return cursor

    def update(self, key: str, cursor: Cursor) -> None:
        """Replace the cursor under an existing key, keeping its age."""
        if key in self._items:
            self._items[key] = (self._items[key][0], cursor)
