"""Reply latency of the Telegram bot against the Bot API double, with concurrent users.

    python -m benchmarks.bot_latency [--users 10] [--questions 10] [--index DIR]

The real bot (python-telegram-bot Application, long polling over HTTP on 127.0.0.1, concurrent
updates, typing indicator) answers from a real index with the real model. Each simulated user
sends a question, waits for the answer, then sends the next (a closed loop), all users at
once. Latency is from the moment the double queues the user's message to the moment it
receives the bot's answer (the last part, when an answer is split): Telegram's own network
time is not in it. A single user asking alone is measured first, as the baseline service time.

Without --index, it ingests the real articles (XQuAD, PersianQA where ../shared/eval has them,
and the demo) into $BENCH_WORK/bot-index once and reuses it; the questions are XQuAD's.
`--users 50 --questions 20` is the load of issue 6 (1,000 questions). `--hashing` swaps the
model for the tests' hashing embedder, leaving what the bot itself costs. The QA_* variables
choose the backend as they do for `qa bot`: `QA_BACKEND=milvus` with an --index on Milvus,
and with QA_MILVUS_URI and an --index folder holding no index, a replica.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import default_work, footer, header, median, p95, table
from benchmarks.corpus import questions, real_articles
from index.embedder import Embedder
from tests.botapi_double import BotAPIDouble, Sent


def build_index(folder: Path, make_embedder: Callable[[str], Embedder]) -> Path:
    """The real articles ingested into `folder`, unless already there."""
    from index.build import ingest
    from index.settings import Settings

    if (folder / "store.sqlite3").exists():
        return folder
    settings = Settings.from_env({}, index_dir=folder)
    started = time.perf_counter()
    report = ingest(settings, real_articles(), make_embedder)
    print(f"built {folder}: {report.summary()} ({time.perf_counter() - started:.0f} s)\n")
    return folder


def reply_to(double: BotAPIDouble, chat: int, before: int, message_id: int) -> list[Sent] | None:
    """The bot's whole answer to `message_id` (every part, when split), once it is all there."""
    new = [s for s in double.sent(chat)[before:] if s.reply_to == message_id]
    if not new:
        return None
    first = new[0].visible
    parts = int(first[3 : first.index(")")]) if first.startswith("(1/") else 1
    return new if len(new) >= parts else None


def simulate(
    double: BotAPIDouble, users: int, per_user: int, pool: list[str], first_user: int
) -> list[float]:
    """Latencies (s) of `users` users asking `per_user` questions each, all at once; user n
    asks pool[n * per_user:(n + 1) * per_user]."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(n: int) -> None:
        uid = first_user + n
        for i in range(per_user):
            q = pool[(n * per_user + i) % len(pool)]
            before = len(double.sent(uid))
            started = time.perf_counter()
            message_id = double.message(q, user=uid)["message_id"]
            try:
                reply = double.wait(
                    lambda b=before, m=message_id: reply_to(double, uid, b, m), timeout=600
                )
            except TimeoutError:
                with lock:
                    errors.append(f"user {uid}: no answer to {q!r}")
                continue
            with lock:
                latencies.append(reply[-1].at - started)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} questions got no answer: {errors[:3]}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--questions", type=int, default=10, help="per user")
    parser.add_argument("--index", type=Path, help="an existing index (default: build one)")
    parser.add_argument(
        "--hashing",
        action="store_true",
        help="retrieve with the tests' hashing fake embedder: the bot's own overhead alone",
    )
    args = parser.parse_args()

    from bot.app import build_application, run
    from bot.settings import BotSettings
    from index.models import load_embedder
    from index.settings import Settings
    from qa.engine import Engine
    from tests.botapi_double import running

    header("Telegram bot reply latency against the Bot API double")
    if args.hashing:
        from tests.fakes import HashingEmbedder

        hashing = HashingEmbedder()
        make: Callable[[str], Embedder] = lambda _model: hashing  # noqa: E731
        folder = args.index or build_index(default_work() / "bot-index-hashing", make)
    else:
        make = load_embedder(Settings.from_env({}))
        folder = args.index or build_index(default_work() / "bot-index", make)
    # QA_* choose the backend as for `qa bot`: QA_BACKEND=milvus (and QA_MILVUS_URI), and an
    # --index folder that holds no index for a replica answering from Milvus alone.
    engine = Engine(Settings.from_env(dict(os.environ), index_dir=folder), make_embedder=make)
    stats = engine.stats()
    warm, alone = 3, min(20, args.questions * 2)
    total = args.users * args.questions
    pool = questions(limit=warm + alone + total)
    if len(pool) < warm + alone + total:
        pool = (pool * (warm + alone + total))[: warm + alone + total]  # only the demo's few
    model = "the hashing fake embedder" if args.hashing else stats.model
    print(
        f"index: {stats.where} ({stats.articles} articles, {stats.chunks} chunks, {model}; "
        f"{stats.search})"
    )
    print(
        f"questions: {len(set(pool))} distinct; no question is asked in two runs; "
        f"{args.users} users x {args.questions} each\n"
    )

    rows = []
    with BotAPIDouble() as double:
        settings = BotSettings.from_env(double.env, rate_limit=0, poll_timeout_s=10)
        application = build_application(settings, engine)
        with running(application, lambda app: run(app, settings, stop_signals=None)):
            simulate(double, 1, warm, pool[:warm], 1)  # warm-up: first calls load lazy parts
            runs = (
                ("1 user alone (baseline)", 1, alone, pool[warm : warm + alone], 100),
                (
                    f"{args.users} users at once",
                    args.users,
                    args.questions,
                    pool[warm + alone :],
                    1000,
                ),
            )
            for label, users, per_user, questions_, first in runs:
                started = time.perf_counter()
                lat = simulate(double, users, per_user, questions_, first)
                wall = time.perf_counter() - started
                rows.append(
                    [
                        label,
                        len(lat),
                        median(lat) * 1000,
                        p95(lat) * 1000,
                        max(lat) * 1000,
                        len(lat) / wall,
                    ]
                )
                print(f"{label}: done in {wall:.1f} s", flush=True)
        sent = len(double.sent())
        polls = len(double.calls("getUpdates"))
    engine.close()
    print()
    print(
        table(
            ["run", "questions", "median ms", "p95 ms", "max ms", "answers/s"],
            rows,
        )
    )
    print(f"\nmessages sent: {sent}; getUpdates calls: {polls}")
    footer()


if __name__ == "__main__":
    main()
