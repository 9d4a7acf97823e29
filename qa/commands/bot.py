"""`qa bot`"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from index.settings import Settings
from index.wording import plural

EPILOG = """\
environment (also read from the --env-file; the environment wins):
  TELEGRAM_BOT_TOKEN     the token @BotFather gave you (required)
  TELEGRAM_API_BASE_URL  Bot API server, for a self-hosted one (default
                         https://api.telegram.org/bot)
  TELEGRAM_ALLOWED_IDS   comma-separated user and chat ids allowed to ask (default: anyone)
  TELEGRAM_RATE_LIMIT    questions per user per minute (default 10; 0: no limit)
  QA_INDEX, QA_MODEL...  as for every qa command
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "bot",
        help="answer questions in Telegram",
        description="Run the Telegram bot over the index, long polling until Ctrl-C. Any text "
        "in a private chat is a question; in groups the bot answers mentions, replies to its "
        "answers and /ask. It follows `qa ingest` and `qa rebuild` without a restart.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="a .env file of the variables below (default ./.env, if present)",
    )
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from dotenv import dotenv_values
    from telegram.error import InvalidToken, NetworkError

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
    bot_settings = BotSettings.from_env(env)
    redact_token(bot_settings.token)
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
            f"@{username} is answering from {settings.index_dir} "
            f"({plural(stats.articles, 'article')}); "
            "Ctrl-C stops it",
            file=sys.stderr,
        )
        run_bot(build_application(bot_settings, engine), bot_settings)
    finally:
        engine.close()
    return 0


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
