"""Webhook mode's settings: the URL Telegram posts updates to, the address this process
listens on behind the proxy that URL reaches, and the secret each post must carry."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from index.errors import ConfigError

# What a webhook post carries to prove it came from Telegram (the secret given to setWebhook).
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The only ports Telegram posts to (setWebhook refuses others).
TELEGRAM_PORTS = (443, 80, 88, 8443)
# Plain http is allowed to these alone: a test, or a local Bot API server.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Telegram's rule for setWebhook's secret_token.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

# How each setting is named to the user: the flag, then the environment variable.
URL, LISTEN, SECRET = (
    "--webhook-url (TELEGRAM_WEBHOOK_URL)",
    "--listen (TELEGRAM_WEBHOOK_LISTEN)",
    "--secret-token (TELEGRAM_WEBHOOK_SECRET)",
)


@dataclass(frozen=True)
class Webhook:
    """Where updates come in; the secret never appears in its repr."""

    url: str  # what Telegram posts to: the proxy or load balancer, https://bot.example.com/tg
    host: str  # the address this process listens on, behind that proxy
    port: int
    secret: str = field(repr=False)
    secret_generated: bool = False  # True: random for this start, none was configured

    @property
    def path(self) -> str:
        """The URL's path, which this process serves as it is (the proxy keeps it)."""
        return urlsplit(self.url).path or "/"

    @property
    def serves(self) -> str:
        """Where this process answers the posts: http://HOST:PORT/PATH."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


def webhook_from(url: str, listen: str, secret: str) -> Webhook | None:
    """The webhook of these settings (empty strings: not given), or None for long polling.

    Raises ConfigError for anything Telegram or the listening socket would refuse.
    """
    if not url:
        for value, name in ((listen, LISTEN), (secret, SECRET)):
            if value:
                raise ConfigError(
                    f"{name} is for webhook mode: give --webhook-url too, or leave it out to "
                    "long-poll"
                )
        return None
    url = webhook_url(url)
    if not listen:
        raise ConfigError(
            f"{URL} needs --listen HOST:PORT (TELEGRAM_WEBHOOK_LISTEN), the address this "
            "process listens on behind the proxy, such as 0.0.0.0:8443"
        )
    host, port = listen_address(listen)
    generated = not secret
    if generated:
        secret = secrets.token_urlsafe(32)  # 43 characters, all of them ones Telegram allows
    elif not _SECRET.fullmatch(secret):
        fault = f"is {len(secret)} long" if len(secret) > 256 else "has other characters"
        raise ConfigError(
            f"{SECRET} must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -, as Telegram "
            f"requires; this one {fault}"
        )
    return Webhook(url, host, port, secret, generated)


def webhook_url(raw: str) -> str:
    """An address Telegram will post to: https on one of its ports (http: local tests only)."""
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{URL} {raw!r} is not a URL: {e}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{URL} {raw!r} is not a URL such as https://bot.example.com/telegram")
    if parts.fragment:
        raise ConfigError(f"{URL} {raw!r}: a webhook URL has no #fragment")
    if host in LOCAL_HOSTS:
        return raw
    if parts.scheme != "https":
        raise ConfigError(
            f"{URL} {raw!r}: Telegram posts only to https; plain http is allowed to "
            "127.0.0.1 and localhost alone, for testing"
        )
    if port is not None and port not in TELEGRAM_PORTS:
        ports = ", ".join(map(str, TELEGRAM_PORTS))
        raise ConfigError(f"{URL} {raw!r}: Telegram posts only to ports {ports}")
    return raw


def listen_address(raw: str) -> tuple[str, int]:
    """'0.0.0.0:8443' -> ('0.0.0.0', 8443); '[::]:8443' -> ('::', 8443)."""
    try:
        parts = urlsplit(f"//{raw}")
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{LISTEN} {raw!r} is not HOST:PORT: {e}") from None
    if port is None:
        raise ConfigError(
            f"{LISTEN} {raw!r} has no port: give HOST:PORT, such as 0.0.0.0:8443 "
            "(every interface) or 127.0.0.1:8443 (a proxy on this machine)"
        )
    if not parts.hostname:
        raise ConfigError(
            f"{LISTEN} {raw!r} has no host: give HOST:PORT, such as 0.0.0.0:{port} "
            "(every interface)"
        )
    if port == 0:
        raise ConfigError(f"{LISTEN} {raw!r}: the port must be 1 to 65535")
    if parts.path or parts.query or parts.fragment or parts.username is not None:
        raise ConfigError(f"{LISTEN} {raw!r} is not HOST:PORT, such as 0.0.0.0:8443")
    return parts.hostname, port
