"""BotSettings: the token, the Bot API address, access and pacing, and webhook mode, read from
an env mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.webhook import Webhook, webhook_from
from index.errors import ConfigError

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"

# Environment variable -> what it sets; docs/telegram.md mirrors this table.
ENV_VARS = {
    "TELEGRAM_BOT_TOKEN": "the token @BotFather gave you (required)",
    "TELEGRAM_API_BASE_URL": f"Bot API server (default {DEFAULT_API_BASE_URL})",
    "TELEGRAM_ALLOWED_IDS": "comma-separated user and chat ids; empty lets everyone in",
    "TELEGRAM_RATE_LIMIT": "questions per user per minute (default 10; 0 turns it off)",
    "TELEGRAM_WEBHOOK_URL": "the https URL Telegram posts updates to (webhook mode; unset: long "
    "polling)",
    "TELEGRAM_WEBHOOK_LISTEN": "HOST:PORT this process listens on behind that URL's proxy",
    "TELEGRAM_WEBHOOK_SECRET": "the secret Telegram sends with each post (default: random per "
    "start)",
}

# 123456789:AA... : a numeric bot id, a colon, then the secret (35 characters today).
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")


@dataclass(frozen=True)
class BotSettings:
    """Everything the bot needs besides the index; the token never appears in its repr."""

    token: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL  # the token and /method are appended to it
    allowed_ids: frozenset[int] = frozenset()  # empty: everyone may ask
    rate_limit: int = 10  # questions per user per `rate_window_s`; 0: no limit
    rate_window_s: float = 60.0
    followup_s: float = 300.0  # a short message this soon after an answer is a follow-up
    cursor_ttl_s: float = 24 * 3600.0  # how long More/Context buttons keep working
    max_cursors: int = 10_000  # answers remembered for buttons, oldest dropped first
    passages: int = 10  # passages retrieved per question, paged through by "More"
    poll_timeout_s: int = 30  # long-polling wait of each getUpdates
    request_timeout_s: float = 20.0  # read timeout of every other Bot API call
    max_retries: int = 3  # per Bot API call, for flood control and transient errors
    webhook: Webhook | None = None  # None: long polling

    def __post_init__(self) -> None:
        if not _TOKEN.match(self.token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then the "
                "secret); copy it again from @BotFather"
            )
        if self.rate_limit < 0:
            raise ConfigError(f"TELEGRAM_RATE_LIMIT must be 0 or more, got {self.rate_limit}")

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> BotSettings:
        """Settings from TELEGRAM_* variables in `env`, then keyword `overrides` (for tests)."""
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError(
                "no bot token: set TELEGRAM_BOT_TOKEN (or put it in a .env file); "
                "@BotFather gives you one with /newbot"
            )
        values: dict[str, object] = {"token": token}
        base = env.get("TELEGRAM_API_BASE_URL", "").strip()
        if base:
            values["api_base_url"] = api_base_url(base)
        ids = env.get("TELEGRAM_ALLOWED_IDS", "").strip()
        if ids:
            values["allowed_ids"] = parse_ids(ids)
        rate = env.get("TELEGRAM_RATE_LIMIT", "").strip()
        if rate:
            try:
                values["rate_limit"] = int(rate)
            except ValueError:
                raise ConfigError(f"TELEGRAM_RATE_LIMIT={rate!r} is not a whole number") from None
        webhook = webhook_from(
            env.get("TELEGRAM_WEBHOOK_URL", "").strip(),
            env.get("TELEGRAM_WEBHOOK_LISTEN", "").strip(),
            env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
        )
        if webhook is not None:
            values["webhook"] = webhook
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def api_base_url(raw: str) -> str:
    """A Bot API server address as python-telegram-bot wants it: ending in /bot.

    Accepts `http://host:8081` and `http://host:8081/bot` alike.
    """
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"TELEGRAM_API_BASE_URL={raw!r} is not an http(s) address such as "
            f"{DEFAULT_API_BASE_URL}"
        )
    base = raw.rstrip("/")
    return base if base.endswith("/bot") else base + "/bot"


def parse_ids(raw: str) -> frozenset[int]:
    """'123, -100456' -> {123, -100456}; group and channel ids are negative."""
    ids = set()
    for item in re.split(r"[,\s]+", raw.strip()):
        if not item:
            continue
        try:
            ids.add(int(item))
        except ValueError:
            raise ConfigError(
                f"TELEGRAM_ALLOWED_IDS holds {item!r}, which is not a numeric user or chat id"
            ) from None
    return frozenset(ids)
