"""Who may ask, and how often: the allowlist and the per-user rate limit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Allowlist:
    """User and chat ids allowed to use the bot; empty allows everyone.

    A stranger is refused once (`first_refusal`), then ignored, so the bot cannot be used to
    spam someone with refusals.
    """

    def __init__(self, ids: frozenset[int], max_remembered: int = 100_000) -> None:
        self.ids = ids
        self._refused: set[int] = set()
        self._max = max_remembered

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        return not self.ids or user_id in self.ids or chat_id in self.ids

    def first_refusal(self, who: int) -> bool:
        """True the first time `who` is refused, False after."""
        if who in self._refused:
            return False
        if len(self._refused) >= self._max:
            self._refused.clear()
        self._refused.add(who)
        return True


class RateLimit:
    """At most `limit` questions per user in any `window_s` seconds (a sliding window).

    `limit` 0 turns it off. A user over the limit is told once per stretch of refusals.
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def wait_for(self, user_id: int) -> float:
        """0.0 and the question counts, or the seconds until `user_id` may ask again."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        times = self._asked.setdefault(user_id, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return max(self.window_s - (now - times[0]), 0.001)
        times.append(now)
        self._warned.discard(user_id)
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        return 0.0

    def should_warn(self, user_id: int) -> bool:
        """True for the first refusal of a stretch, so a flood gets one answer, not many."""
        if user_id in self._warned:
            return False
        self._warned.add(user_id)
        return True

    def _forget_idle(self, now: float) -> None:
        idle = [u for u, t in self._asked.items() if not t or now - t[-1] >= self.window_s]
        for u in idle:
            del self._asked[u]
