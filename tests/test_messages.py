"""No traceback, every message actionable: the `qa` command's edges (a closed pipe, a damaged
store, a terminal, bad counts, dates and sources, no arguments, --version, -v)."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.errors import IndexCorrupt
from index.sources import read_paths
from qa.cli import build_parser, main
from qa.commands.ask import filters_from
from qa.engine import Engine
from qa.filters import FilterError, Filters
from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION, ROOT

CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `cat` ended by a closed pipe


def qa_process(*args: str, **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, **popen
    )


# --- standard output closed early: `qa stats | head -1` --------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [("stats",), ("timeline", "South Korea and weapons"), ("ask", DEMO_QUESTION)],
    ids=["stats", "timeline", "ask"],
)
def test_a_closed_pipe_ends_quietly(demo_index: Path, args: tuple[str, ...]) -> None:
    """The reader of standard output is gone before qa writes (as `| head` is once it has
    its lines): no BrokenPipeError traceback, and the status a shell gives `cat` there."""
    proc = qa_process(
        *args, "--index", str(demo_index), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # a real pipe whose reading end is closed: the write gets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == CLOSED_PIPE, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "Exception ignored" not in err, err


def test_a_closed_pipe_under_a_replaced_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Standard output replaced by an object with no file descriptor (as by pytest, or a
    program calling main()): the same quiet status, no second error."""
    import qa.commands.stats

    def closed(args: object, settings: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(qa.commands.stats, "run", closed)
    assert main(["stats"]) == CLOSED_PIPE
    assert capsys.readouterr().err == ""


# --- a damaged store ---------------------------------------------------------------------


def garbage_store(folder: Path) -> Path:
    store = folder / "store.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    store.write_bytes(b"this is not SQLite at all\n" * 500)
    return store


def damage_pages(folder: Path, tables: set[str]) -> Path:
    """Overwrite the pages of `tables` in the store, leaving its schema and manifest whole:
    the store opens, and the damage is met only when one of those tables is read."""
    store = folder / "store.sqlite3"
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (size,) = db.execute("PRAGMA page_size").fetchone()
        pages = [n for name, n in db.execute("SELECT name, pageno FROM dbstat") if name in tables]
    db.close()
    for extra in ("-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    data = bytearray(store.read_bytes())
    for n in pages:
        start = (n - 1) * size
        data[start : start + size] = (b"\xa5\x5a\x0f" * size)[:size]
    store.write_bytes(bytes(data))
    return store


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def no_telegram(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A well-formed token and no reachable Bot API: `qa bot` must fail on the index first."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAF-not-a-real-token-0123456789abcdef")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    "command",
    [
        ["ask", DEMO_QUESTION],
        ["timeline", "Korea"],
        ["stats"],
        ["ingest", "{demo}"],
        ["rebuild"],
        ["bot"],
    ],
    ids=lambda c: c[0],
)
def test_a_garbage_store_is_named_with_the_way_on(
    demo_copy: Path,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    no_telegram: None,
) -> None:
    store = garbage_store(demo_copy)
    args = [a.format(demo=ROOT / "examples" / "demo") for a in command]
    assert main([*args, "--index", str(demo_copy)]) == 2
    err = one_line_error(capsys)
    assert f"the index store {store} is damaged" in err and "file is not a database" in err
    assert f"qa doctor --index {demo_copy}" in err


def test_doctor_reports_a_garbage_store(
    demo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = garbage_store(demo_copy)
    assert main(["doctor", "--index", str(demo_copy)]) == 1
    out = capsys.readouterr().out
    assert f"error: the store {store} is unreadable: file is not a database" in out
    assert "re-ingest" in out and "Traceback" not in out


DAMAGED_TABLES = {
    "articles",
    "chunks",
    "chunks_fts_data",
    "chunks_fts_idx",
    "chunks_fts_docsize",
    "articles_by_date",
}


def test_damage_met_while_answering_is_named(
    demo_copy: Path, real_factory: Callable[[str], Embedder]
) -> None:
    """A damaged page read in the middle of a question (keyword search, in another thread):
    IndexCorrupt naming the file, not sqlite3.DatabaseError."""
    from index.settings import Settings

    store = damage_pages(demo_copy, DAMAGED_TABLES)
    engine = Engine(Settings.from_env({}, index_dir=demo_copy), real_factory)
    try:
        with pytest.raises(IndexCorrupt, match="is damaged") as e:
            engine.ask(DEMO_QUESTION)
        assert str(store) in str(e.value) and "qa doctor" in str(e.value)
    finally:
        engine.close()


def test_damage_met_by_ingest_or_rebuild_called_as_a_library_is_named(
    demo_copy: Path, tmp_path: Path, real_factory: Callable[[str], Embedder]
) -> None:
    """index.build's writers name a damaged page as the command line does, for programs
    that call them (the bot's host, a script) rather than `qa`."""
    from index.build import ingest, rebuild
    from index.settings import Settings

    store = damage_pages(demo_copy, DAMAGED_TABLES)
    settings = Settings.from_env({}, index_dir=demo_copy)
    (tmp_path / "new.txt").write_text("Harbor\n\nThe harbor reopened on Friday.\n")
    article = next(a for a in read_paths([tmp_path / "new.txt"], max_bytes=10**6))
    for write in (
        lambda: ingest(settings, [article], real_factory),
        lambda: rebuild(settings, real_factory),
    ):
        with pytest.raises(IndexCorrupt, match="is damaged") as e:
            write()
        assert str(store) in str(e.value) and "qa doctor" in str(e.value)


@pytest.mark.parametrize("command", [["rebuild"], ["stats"], ["ask", DEMO_QUESTION]])
def test_damage_met_mid_command_is_one_line(
    demo_copy: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    store = damage_pages(demo_copy, DAMAGED_TABLES)
    assert main([*command, "--index", str(demo_copy)]) == 2
    err = one_line_error(capsys)
    assert f"the index store {store} is damaged" in err and "qa doctor" in err


# --- `qa ask` at a terminal --------------------------------------------------------------


class Terminal:
    """`python -m qa ARGV` on a pseudo-terminal: what it writes there, and keys typed to it."""

    def __init__(self, *argv: str, env: dict[str, str]) -> None:
        self.fd, far = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa", *argv],
            stdin=far,
            stdout=far,
            stderr=far,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(far)
        self.seen = b""

    def wait_for(self, text: bytes, count: int = 1, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"no {text!r} (x{count}) after {timeout} s: {self.seen!r}")
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise EOFError(f"ended before {text!r} (x{count}): {self.seen!r}")
            self.seen += chunk

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def status(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


@pytest.fixture
def terminal_env(demo_index: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "QA_INDEX": str(demo_index),
        "TERM": "dumb",
    }


@pytest.mark.slow
def test_ask_at_a_terminal_prompts_and_answers(terminal_env: dict[str, str]) -> None:
    """`qa ask` with no question at a terminal: a `qa>` prompt, an answer per question, a
    bad filter explained and the prompt again, Ctrl-D ends with status 0."""
    term = Terminal("ask", "--no-passages", env=terminal_env)
    try:
        term.wait_for(b"qa> ")
        term.type(DEMO_QUESTION.encode() + b"\n")
        term.wait_for(b"qa> ", 2)
        assert DEMO_ANSWER_START in " ".join(term.seen.decode().split())
        term.type(b"Korea since:2023-13\n")
        term.wait_for(b"qa> ", 3)
        assert b"there is no month 13" in term.seen and b"Traceback" not in term.seen
        term.type(b"\x04")  # Ctrl-D at an empty line: end of input
        assert term.status() == 0
    finally:
        term.close()


@pytest.mark.slow
def test_an_empty_line_at_the_prompt_ends(terminal_env: dict[str, str]) -> None:
    term = Terminal("ask", env=terminal_env)
    try:
        term.wait_for(b"qa> ")
        term.type(b"\n")
        assert term.status() == 0
    finally:
        term.close()


class _TypedAtTerminal:
    """Standard input that says it is a terminal, holding lines already typed."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.lines.pop(0) if self.lines else ""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a terminal is read a line at a time, with a prompt")


def test_prompt_goes_to_stderr_when_answers_are_redirected(
    demo_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal on standard input, a file on standard output (`qa ask --json > out`): the
    prompts go to standard error, the file gets one JSON answer a line and nothing else."""
    monkeypatch.setattr(sys, "stdin", _TypedAtTerminal([DEMO_QUESTION + "\n", "\n"]))
    assert main(["ask", "--json", "--index", str(demo_index)]) == 0
    captured = capsys.readouterr()
    [line] = captured.out.splitlines()
    assert DEMO_ANSWER_START in json.loads(line)["quotes"][0]["text"]
    assert captured.err.count("qa> ") == 2


# --- counts, dates and sources -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "q", "-k", "0"],
        ["ask", "q", "-k", "-3"],
        ["timeline", "q", "-n", "0"],
        ["timeline", "q", "-n", "-1"],
    ],
    ids=" ".join,
)
def test_counts_below_one_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_since_after_until_is_refused_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["ask", "q"], ["timeline", "q"]):
        argv = [*command, "--since", "2027", "--until", "2026", "--index", str(tmp_path)]
        assert main(argv) == 2
        err = one_line_error(capsys)
        assert "since 2027-01-01 is after until 2026-12-31" in err


def flags(*argv: str) -> Filters:
    return filters_from(build_parser().parse_args(["ask", "q", *argv]))  # type: ignore[no-any-return]


def test_flags_take_the_phrases_questions_take() -> None:
    today = date.today()
    assert flags("--since", "yesterday").since == today - timedelta(days=1)
    last_week = flags("--since", "last week", "--until", "last week")
    assert (last_week.since, last_week.until) == (
        today - timedelta(days=14),
        today - timedelta(days=1),
    )
    assert flags("--since", "past 10 days").since == today - timedelta(days=10)
    assert flags("--until", "March 5, 2023").until == date(2023, 3, 5)


@pytest.mark.parametrize("bad", ["soon", "2023-13", "2023-02-30"])
def test_a_bad_date_shows_good_ones(bad: str) -> None:
    with pytest.raises(FilterError) as e:
        flags("--since", bad)
    message = str(e.value)
    assert repr(bad) in message
    for example in ("2023-03-05", "March 2023", "yesterday", "last week"):
        assert example in message


@pytest.fixture
def sourced(tmp_path: Path) -> Iterator[Engine]:
    """Two outlets' articles in 2023, indexed with the hashing embedder."""
    from index.build import ingest
    from index.records import Article
    from index.settings import Settings
    from tests.fakes import HashingEmbedder

    articles = [
        Article(
            id=f"{outlet}-{i}",
            title=f"Flood report {i}",
            text=f"The river rose {i} metres overnight, {outlet} reports. Farmers moved uphill.",
            published=f"2023-0{i}-10",
            source=outlet,
            url=f"https://{outlet}.example/{i}",
        )
        for outlet in ("ava", "wire")
        for i in range(1, 4)
    ]
    settings = Settings.from_env({}, index_dir=tmp_path / "sourced")
    ingest(settings, articles, lambda _m: HashingEmbedder())
    engine = Engine(settings, lambda _m: HashingEmbedder())
    yield engine
    engine.close()


def test_written_since_after_until_is_named(sourced: Engine) -> None:
    with pytest.raises(FilterError, match="since 2027-01-01 is after until 2026-12-31"):
        sourced.ask("How high did the river rise? since:2027 until:2026")
    with pytest.raises(FilterError, match="is after until"):  # a flag against a written key
        sourced.ask("river until:2026", filters=Filters(since=date(2027, 1, 1)))
    with pytest.raises(FilterError, match="is after until"):
        sourced.timeline("river since:2027 until:2026")


def test_a_source_no_article_has_is_named(sourced: Engine) -> None:
    message = "no article's source or URL matches 'nowhere'"
    with pytest.raises(FilterError, match=message):
        sourced.ask("How high did the river rise?", filters=Filters(source="nowhere"))
    with pytest.raises(FilterError, match=message):
        sourced.ask("How high did the river rise? source:nowhere")
    with pytest.raises(FilterError, match=message):
        sourced.timeline("river source:nowhere")
    # A source some article has still answers; dates that match nothing stay a plain
    # "nothing found" (the archive may simply not reach that far).
    found = sourced.ask("How high did the river rise?", filters=Filters(source="wire"))
    assert found.passages and all(p.article_id.startswith("wire-") for p in found.passages)
    assert sourced.ask("How high did the river rise? since:2030").passages == ()


def test_cli_names_an_unknown_source(demo_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", DEMO_QUESTION, "--source", "nowhere", "--index", str(demo_index)]) == 2
    assert "no article's source or URL matches 'nowhere'" in one_line_error(capsys)


# --- `qa`, `qa --version`, `qa -v` -------------------------------------------------------


def test_qa_alone_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("usage: qa")
    for word in ("ingest", "ask", "doctor", "examples:", "QA_INDEX"):
        assert word in captured.out
    assert captured.err == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"qa (newsqa) {version('newsqa')}\n"


@pytest.mark.slow
def test_verbose_does_not_open_with_faiss_loader_noise(demo_index: Path) -> None:
    proc = qa_process(
        "stats", "-v", "--index", str(demo_index), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert b"faiss.loader" not in err and b"AVX512" not in err, err


def test_only_ask_takes_recent(capsys: pytest.CaptureFixture[str]) -> None:
    """--recent weighs answers; a timeline (oldest first, across the years), listing,
    deleting and exporting have none to weigh; --recent and --no-recency exclude each other."""
    parser = build_parser()
    assert parser.parse_args(["ask", "q", "--recent"]).recent
    assert parser.parse_args(["ask", "q", "--no-recency"]).no_recency
    with pytest.raises(SystemExit):
        parser.parse_args(["ask", "q", "--recent", "--no-recency"])
    assert "not allowed with argument" in capsys.readouterr().err
    for command in (["timeline", "q"], ["list"], ["delete", "--source", "x"], ["export"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--recent"])
        assert "unrecognized arguments: --recent" in capsys.readouterr().err
