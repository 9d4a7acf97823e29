"""Starting the bot: `qa bot` and `python -m bot`, their one-line errors, the .env file,
and a whole run in a separate process until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from index.embedder import Embedder
from qa.cli import main
from tests.botapi_double import TOKEN, BotAPIDouble, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION, ROOT


def one_line_error(capsys: pytest.CaptureFixture[str], status: int) -> str:
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_missing_token(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, main(["bot", "--index", str(clean_env / "none")]))
    assert "TELEGRAM_BOT_TOKEN" in err and "@BotFather" in err


def test_a_missing_env_file_is_named(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--env-file names a file that is not there: say so, not "no bot token"."""
    missing = clean_env / "missing.env"
    err = one_line_error(capsys, main(["bot", "--env-file", str(missing)]))
    assert f"--env-file {missing}: no such file" in err
    err = one_line_error(capsys, main(["bot", "--env-file", str(clean_env)]))
    assert f"--env-file {clean_env}: not a file" in err


def test_malformed_token(
    clean_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "hello")
    err = one_line_error(capsys, main(["bot", "--index", str(clean_env / "none")]))
    assert "does not look like a bot token" in err and "hello" not in err


def test_missing_index_is_reported_before_telegram_is_called(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with BotAPIDouble() as double:
        (clean_env / ".env").write_text(
            "".join(f"{k}={v}\n" for k, v in double.env.items())
            + f"QA_INDEX={clean_env / 'nowhere'}\n"
        )
        err = one_line_error(capsys, main(["bot"]))  # everything from ./.env
        assert double.calls() == []
    assert "no index in" in err and "nowhere" in err and "qa ingest" in err


@pytest.mark.slow
def test_refused_token(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    demo_index: Path,
    real_factory: Callable[[str], Embedder],
) -> None:
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    with BotAPIDouble(token="987654321:AAother-token-0123456789abcdefghijklm") as double:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)  # not the double's: it answers 401
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", double.base_url)
        err = one_line_error(capsys, main(["bot", "--index", str(demo_index)]))
    assert "Telegram refused the bot token" in err and TOKEN not in err


@pytest.mark.slow
def test_unreachable_api(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    demo_index: Path,
    real_factory: Callable[[str], Embedder],
) -> None:
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9")  # discard: nothing listens
    err = one_line_error(capsys, main(["bot", "--index", str(demo_index)]))
    assert "cannot reach the Bot API at http://127.0.0.1:9/bot" in err and TOKEN not in err


@pytest.mark.slow
def test_python_m_bot_runs_until_sigterm(demo_copy: Path, tmp_path: Path) -> None:
    """A real process: token and index from .env, -v logging, the demo question, SIGTERM."""
    with BotAPIDouble() as double:
        (tmp_path / ".env").write_text(
            "# written by the test\n"
            + "".join(f"{k}={v}\n" for k, v in double.env.items())
            + f"QA_INDEX={demo_copy}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "QA_"))}
        env |= {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        log = (tmp_path / "stderr.txt").open("w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "-v"], cwd=tmp_path, env=env, stderr=log, text=True
        )
        try:
            double.wait(lambda: double.commands or proc.poll() is not None, timeout=300)
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            double.message(DEMO_QUESTION)
            [reply] = double.wait_sent(1001)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert DEMO_ANSWER_START in strict(reply)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert f"@{double.username} is answering from {demo_copy}" in stderr
    assert "Application started" in stderr  # -v logs at INFO
    assert TOKEN not in stderr and TOKEN.split(":")[1] not in stderr
    assert "HTTP Request" not in stderr  # httpx stays at WARNING


def test_help_lists_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bot", "--help"])
    out = capsys.readouterr().out
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_ALLOWED_IDS"):
        assert var in out
