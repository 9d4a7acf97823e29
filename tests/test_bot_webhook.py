"""Webhook mode: the real python-telegram-bot Application takes updates on its own HTTP server,
posted by the Bot API double as Telegram posts them, and answers from a real index; `qa bot
--webhook-url` refuses what Telegram would, in one line; replicas behind one URL all answer."""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.texts import EXPIRED
from bot.webhook import SECRET_HEADER, Webhook, webhook_from
from index.embedder import Embedder
from index.settings import Settings
from qa.cli import main
from qa.engine import Engine
from tests.botapi_double import TOKEN, BotAPIDouble, ask, bot, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION, ROOT
from tests.test_bot_cli import one_line_error

SECRET = "s3cret_webhook-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_hook(path: str = "/telegram", secret: str = SECRET, port: int | None = None) -> Webhook:
    """A webhook served on 127.0.0.1, Telegram's URL pointing straight at it."""
    port = port or free_port()
    hook = webhook_from(f"http://127.0.0.1:{port}{path}", f"127.0.0.1:{port}", secret)
    assert hook is not None
    return hook


@pytest.fixture
def double() -> Iterator[BotAPIDouble]:
    with BotAPIDouble() as d:
        yield d


def demo_engine(index: Path, embedder: Embedder) -> Engine:
    return Engine(Settings.from_env({}, index_dir=index), make_embedder=lambda _m: embedder)


@pytest.fixture
def engine(demo_index: Path, real_embedder: Embedder) -> Iterator[Engine]:
    e = demo_engine(demo_index, real_embedder)
    yield e
    e.close()


# --- one bot on a webhook -------------------------------------------------------------------


@pytest.mark.slow
def test_set_webhook_carries_the_secret_and_a_posted_update_is_answered(
    double: BotAPIDouble, engine: Engine
) -> None:
    hook = local_hook()
    with bot(double, engine, webhook=hook):
        params = double.webhook
        assert params is not None
        assert params["url"] == hook.url and params["secret_token"] == SECRET
        assert params["allowed_updates"] == ["message", "callback_query"]  # as polling asks
        [reply] = ask(double, DEMO_QUESTION)  # posted to the webhook with the secret header
    assert DEMO_ANSWER_START in strict(reply)
    [delivery] = double.deliveries()
    assert (delivery.url, delivery.secret, delivery.status) == (hook.url, SECRET, 200)
    assert double.calls("getUpdates") == [], "no polling in webhook mode"


@pytest.mark.slow
def test_a_wrong_or_missing_secret_is_refused_and_not_answered(
    double: BotAPIDouble, engine: Engine
) -> None:
    hook = local_hook(path="/bot/hook.v1")  # a dot: the path is matched literally
    with bot(double, engine, webhook=hook):
        refused = {
            user: double.deliver(double.update(DEMO_QUESTION, user=user), secret=secret)
            for user, secret in ((2001, "wrong"), (2002, None), (2003, ""), (2004, SECRET + "x"))
        }
        assert refused == {2001: 403, 2002: 403, 2003: 403, 2004: 403}
        elsewhere = hook.serves.replace("/bot/hook.v1", "/bot/hookXv1")
        assert double.deliver(double.update(DEMO_QUESTION, user=2005), url=elsewhere) == 404
        # A refused post never reaches the update queue; an accepted one after them is
        # answered, so by then any reply to the refused ones would have been sent too.
        [reply] = ask(double, "/help", user=2006)
    assert reply.chat_id == 2006
    assert [s.chat_id for s in double.sent()] == [2006]


# --- replicas behind one URL ------------------------------------------------------------------


class RoundRobin:
    """A load balancer in front of the replicas: each POST to it goes to the next backend,
    path, body and Telegram's headers unchanged; what it did is in `forwarded`."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = itertools.cycle(backends)
        self.lock = threading.Lock()
        self.forwarded: list[tuple[str, int]] = []  # (backend, its HTTP status)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> RoundRobin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            backend = next(self.backends)
        connection = http.client.HTTPConnection(backend, timeout=30)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        with self.lock:
            self.forwarded.append((backend, response.status))
        return response.status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    name: value
                    for name in ("Content-Type", SECRET_HEADER)
                    if (value := self.headers.get(name)) is not None
                }
                status = balancer.forward(self.path, body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


@pytest.mark.slow
def test_replicas_behind_one_url_each_answer_what_they_are_given(
    double: BotAPIDouble, demo_index: Path, real_embedder: Embedder
) -> None:
    """Two Applications, each with its own Engine over the same index (as two processes
    would have), listening on two ports; one URL, one secret, a load balancer between."""
    replicas = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    engines = [demo_engine(demo_index, real_embedder) for _ in replicas]
    try:
        with RoundRobin(replicas) as balancer:
            url = f"http://127.0.0.1:{balancer.port}/telegram"
            hooks = [webhook_from(url, listen, SECRET) for listen in replicas]
            with (
                bot(double, engines[0], webhook=hooks[0]),
                bot(double, engines[1], webhook=hooks[1]),
            ):
                # Each start sets the same webhook; neither replaces what the other expects.
                assert [c.params["url"] for c in double.calls("setWebhook")] == [url, url]
                assert {c.params["secret_token"] for c in double.calls("setWebhook")} == {SECRET}
                replies = {user: ask(double, DEMO_QUESTION, user=user) for user in (1, 2, 3, 4)}
                # Buttons live in the memory of the replica that answered: user 2's answer came
                # from replica 1, and the balancer's next pick is replica 0.
                [answer] = replies[2]
                query = double.press(answer, answer.button("Context 1"), user=2)
                [pressed] = double.wait(lambda: double.callback_answers(query), what="answer")
    finally:
        for e in engines:
            e.close()
    for [reply] in replies.values():
        assert DEMO_ANSWER_START in strict(reply)
    assert balancer.forwarded == [(r, 200) for r in replicas] * 2 + [(replicas[0], 200)]
    assert pressed["text"] == EXPIRED


# --- qa bot --webhook-url -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (["--listen", "0.0.0.0:8443"], {}, "--listen (TELEGRAM_WEBHOOK_LISTEN) is for webhook"),
        ([], {"TELEGRAM_WEBHOOK_SECRET": "abc"}, "--secret-token (TELEGRAM_WEBHOOK_SECRET) is"),
        (["--webhook-url", "https://bot.example.com/tg"], {}, "needs --listen HOST:PORT"),
        (["--listen", "0.0.0.0"], {"TELEGRAM_WEBHOOK_URL": "https://b.example/t"}, "no port"),
        (["--webhook-url", "http://bot.example.com/tg", "--listen", "0.0.0.0:8443"], {}, "https"),
        (["--webhook-url", "https://bot.example.com:9000/tg", "--listen", "h:1"], {}, "ports 443"),
        (["--webhook-url", "https://b.example/t", "--listen", "h:8443", "--secret-token", "a:b"],
         {}, "A-Z, a-z, 0-9, _ and -"),
        (["--webhook-url", "https://b.example/t", "--listen", "h:8443"],
         {"TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "this one is 257 long"),
    ],
)  # fmt: skip
def test_webhook_settings_telegram_would_refuse_are_one_line_errors(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    """Refused before the index is opened or Telegram is called."""
    with BotAPIDouble() as double:
        for name, value in {**double.env, **env}.items():
            monkeypatch.setenv(name, value)
        err = one_line_error(capsys, main(["bot", "--index", str(clean_env / "none"), *flags]))
        assert double.calls() == []
    assert message in err, err
    assert "no index" not in err


def test_webhook_mode_without_tornado_says_what_to_install(
    clean_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tornado", None)  # `import tornado` fails
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    flags = ["--webhook-url", "https://bot.example.com/tg", "--listen", "0.0.0.0:8443"]
    err = one_line_error(capsys, main(["bot", "--index", str(clean_env / "none"), *flags]))
    assert "python-telegram-bot[webhooks]" in err


def test_help_explains_webhook_mode(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bot", "--help"])
    out = capsys.readouterr().out
    for word in ("--webhook-url", "--listen", "--secret-token", "TELEGRAM_WEBHOOK_URL"):
        assert word in out
    assert "TELEGRAM_WEBHOOK_LISTEN" in out and "TELEGRAM_WEBHOOK_SECRET" in out
    assert "localhost, for testing" in " ".join(out.split())


def error_after_start(capsys: pytest.CaptureFixture[str], status: int) -> str:
    """The one-line error of a start that failed after the bot said where it listens."""
    lines = capsys.readouterr().err.splitlines()
    assert status == 2
    assert lines[0].startswith("@") and all(line.startswith("webhook: ") for line in lines[1:-1])
    assert lines[-1].startswith("error: "), lines
    return lines[-1]


@pytest.mark.slow
def test_a_webhook_telegram_refuses_is_one_line(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    demo_index: Path,
    real_factory: Callable[[str], Embedder],
) -> None:
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    port = free_port()
    with BotAPIDouble() as double:
        double.fail(
            "setWebhook", "bad_request", description="Bad Request: bad webhook: Failed to resolve"
        )
        for name, value in double.env.items():
            monkeypatch.setenv(name, value)
        flags = ["--webhook-url", f"http://localhost:{port}/tg", "--listen", f"127.0.0.1:{port}"]
        err = error_after_start(capsys, main(["bot", "--index", str(demo_index), *flags]))
    assert f"Telegram refused the webhook http://localhost:{port}/tg: " in err
    assert "bad webhook: failed to resolve" in err.lower()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == [], "no traceback logged"


@pytest.mark.slow
def test_a_port_in_use_is_one_line(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    demo_index: Path,
    real_factory: Callable[[str], Embedder],
) -> None:
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    with BotAPIDouble() as double, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for name, value in double.env.items():
            monkeypatch.setenv(name, value)
        flags = ["--webhook-url", f"http://127.0.0.1:{port}/tg", "--listen", f"127.0.0.1:{port}"]
        err = error_after_start(capsys, main(["bot", "--index", str(demo_index), *flags]))
    assert f"cannot listen on 127.0.0.1:{port} (--listen): " in err


@pytest.mark.slow
def test_python_m_bot_on_a_webhook_with_a_random_secret(demo_copy: Path, tmp_path: Path) -> None:
    """A real process in webhook mode, no secret configured: it makes one, says so without
    showing it, answers a posted update, and stops on SIGTERM."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    with BotAPIDouble() as double:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "QA_"))}
        env |= double.env | {"QA_INDEX": str(demo_copy), "PYTHONPATH": str(ROOT)}
        env |= {"HF_HUB_OFFLINE": "1", "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}"}
        log = (tmp_path / "stderr.txt").open("w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "-v", "--webhook-url", url],
            cwd=tmp_path,
            env=env,
            stderr=log,
            text=True,
        )
        try:
            # post_init (setMyCommands) comes before the server listens: wait for both
            double.wait(lambda: double.commands or proc.poll() is not None, timeout=300)
            double.wait(lambda: listening(port) or proc.poll() is not None, timeout=60)
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            double.message(DEMO_QUESTION)
            [reply] = double.wait_sent(1001)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        secret = (double.webhook or {}).get("secret_token", "")
    assert DEMO_ANSWER_START in strict(reply)
    assert len(secret) == 43, "secrets.token_urlsafe(32)"
    stderr = (tmp_path / "stderr.txt").read_text()
    assert f"webhook: Telegram posts to {url}, served at {url}" in stderr
    assert "a random one for this start" in stderr
    assert secret not in stderr and TOKEN not in stderr


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port` now."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_webhook_url_path_is_served_as_given() -> None:
    hook = local_hook(path="/a/b", port=8443)
    assert (hook.path, hook.serves) == ("/a/b", "http://127.0.0.1:8443/a/b")
    bare = webhook_from("https://bot.example.com", "[::]:8443", "")
    assert bare is not None and bare.path == "/" and bare.serves == "http://[::]:8443/"
    assert bare.secret_generated and len(bare.secret) == 43
    assert "secret=" not in repr(bare) and bare.secret not in repr(bare)
    assert urlsplit(bare.url).hostname == "bot.example.com"
