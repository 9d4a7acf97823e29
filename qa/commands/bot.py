"""`qa bot`"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.settings import Settings
from index.wording import plural

if TYPE_CHECKING:
    from bot.webhook import Webhook

EPILOG = """\
environment (also read from the --env-file; the environment wins):
  TELEGRAM_BOT_TOKEN       the token @BotFather gave you (required)
  TELEGRAM_API_BASE_URL    Bot API server, for a self-hosted one (default
                           https://api.telegram.org/bot)
  TELEGRAM_ALLOWED_IDS     comma-separated user and chat ids allowed to ask (default: anyone)
  TELEGRAM_RATE_LIMIT      questions per user per minute (default 10; 0: no limit)
  TELEGRAM_WEBHOOK_URL     as --webhook-url (set: webhook mode)
  TELEGRAM_WEBHOOK_LISTEN  as --listen
  TELEGRAM_WEBHOOK_SECRET  as --secret-token (better here than on the command line, which
                           other users of the machine can see)
  QA_INDEX, QA_MODEL...    as for every qa command

webhook mode, for several replicas behind one load balancer:
  qa bot --webhook-url https://bot.example.com/telegram --listen 0.0.0.0:8443
  Telegram posts each update to the URL (https, on port 443, 80, 88 or 8443); a proxy or load
  balancer there ends TLS and forwards to any replica's --listen address, path unchanged. Give
  every replica the same URL and TELEGRAM_WEBHOOK_SECRET: each start sets the webhook again.
  Long polling allows one process per bot token; webhooks allow many.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "bot",
        help="answer questions in Telegram",
        description="Run the Telegram bot over the index until Ctrl-C: long polling (one "
        "process per bot token), or on a webhook with --webhook-url (as many processes as you "
        "like). Any text in a private chat is a question; in groups the bot answers mentions, "
        "replies to its answers and /ask. It follows `qa ingest` and `qa rebuild` without a "
        "restart.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="a .env file of the variables below (default ./.env, if present)",
    )
    hook = p.add_argument_group("webhook mode (default: long polling)")
    hook.add_argument(
        "--webhook-url",
        metavar="URL",
        help="the https URL Telegram posts updates to (a proxy or load balancer in front of "
        "this process); http only to 127.0.0.1 or localhost, for testing",
    )
    hook.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="where this process listens for the proxy's posts, such as 0.0.0.0:8443 or "
        "127.0.0.1:8443; it serves the URL's path",
    )
    hook.add_argument(
        "--secret-token",
        metavar="SECRET",
        help="what Telegram sends in the X-Telegram-Bot-Api-Secret-Token header, 1-256 of "
        "A-Z a-z 0-9 _ - (default: random for each start; replicas need one they share)",
    )
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from dotenv import dotenv_values
    from telegram.error import BadRequest, InvalidToken, NetworkError

    from bot.app import build_application, whoami
    from bot.app import run as run_bot
    from bot.logs import REDACTED, redact_token
    from bot.settings import BotSettings
    from index.errors import ConfigError
    from qa.cli import settings_from
    from qa.engine import Engine

    env = dict(os.environ)
    env_file = env_file_of(args.env_file)
    if env_file is not None:
        values = dotenv_values(env_file)
        env = {**{k: v for k, v in values.items() if v is not None}, **env}
        settings = settings_from(args, env)  # QA_* from the file count too
    flags = {
        "TELEGRAM_WEBHOOK_URL": args.webhook_url,
        "TELEGRAM_WEBHOOK_LISTEN": args.listen,
        "TELEGRAM_WEBHOOK_SECRET": args.secret_token,
    }
    env |= {name: value for name, value in flags.items() if value is not None}
    bot_settings = BotSettings.from_env(env)
    webhook = bot_settings.webhook
    if webhook is not None:
        require_webhooks()
    redact_token(bot_settings.token, also=[webhook.secret] if webhook else [])
    # A missing index fails here, before Telegram is contacted.
    engine = Engine(settings, notify=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        try:
            username = whoami(bot_settings)
        except InvalidToken:
            raise ConfigError(
                "Telegram refused the bot token; check TELEGRAM_BOT_TOKEN against @BotFather"
            ) from None
        except NetworkError as e:
            message = str(e).replace(bot_settings.token, REDACTED)
            raise ConfigError(
                f"cannot reach the Bot API at {bot_settings.api_base_url}: {message}"
            ) from None
        stats = engine.stats()
        print(
            f"@{username} is answering from {stats.where} "
            f"({plural(stats.articles, 'article')}); "
            "Ctrl-C stops it",
            file=sys.stderr,
        )
        if webhook is not None:
            say_webhook(webhook)
        try:
            run_bot(build_application(bot_settings, engine), bot_settings)
        except BadRequest as e:
            if webhook is None:
                raise
            raise ConfigError(f"Telegram refused the webhook {webhook.url}: {e.message}") from None
        except OSError as e:  # binding the webhook's port: in use, or not ours to bind
            if webhook is None:
                raise
            raise ConfigError(
                f"cannot listen on {webhook.host}:{webhook.port} (--listen): {e.strerror or e}"
            ) from None
    finally:
        engine.close()
    return 0


def require_webhooks() -> None:
    """ConfigError unless python-telegram-bot's webhook server (tornado) is installed."""
    from index.errors import ConfigError

    try:
        import tornado  # noqa: F401
    except ImportError:
        raise ConfigError(
            "webhook mode needs python-telegram-bot's webhooks extra: "
            "pip install 'python-telegram-bot[webhooks]'"
        ) from None


def say_webhook(webhook: Webhook) -> None:
    """Where the updates come in, and where the secret came from (never the secret itself)."""
    print(f"webhook: Telegram posts to {webhook.url}, served at {webhook.serves}", file=sys.stderr)
    if webhook.secret_generated:
        print(
            "webhook: no --secret-token or TELEGRAM_WEBHOOK_SECRET given, so a random one for "
            "this start; replicas behind one URL need the same TELEGRAM_WEBHOOK_SECRET, or each "
            "start shuts the others out",
            file=sys.stderr,
        )


def env_file_of(named: Path | None) -> Path | None:
    """The .env file to read: the one named (ConfigError when it is not there), else ./.env
    when present."""
    from index.errors import ConfigError

    if named is None:
        default = Path(".env")
        return default if default.is_file() else None
    if not named.exists():
        raise ConfigError(f"--env-file {named}: no such file")
    if not named.is_file():
        raise ConfigError(f"--env-file {named}: not a file")
    return named
