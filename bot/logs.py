"""Keeping secrets out of logs: every log line passes through `Redacting` on its way out."""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "[redacted]"


class Redacting(logging.Formatter):
    """Formats with another formatter, then blanks out each secret (the bot token, its
    secret half on its own, the webhook's secret), tracebacks included."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def redact_token(
    token: str, handlers: Iterable[logging.Handler] | None = None, *, also: Iterable[str] = ()
) -> None:
    """Make each handler (by default every handler of the root logger) redact `token`, and
    the secrets in `also` (the webhook's)."""
    secrets = [token, token.partition(":")[2], *also]
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        inner = handler.formatter or logging.Formatter()
        if isinstance(inner, Redacting):
            inner = inner.inner
        handler.setFormatter(Redacting(inner, secrets))
