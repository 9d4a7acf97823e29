"""Load: 50 users asking 20 questions each, all at once, through the real bot stack and the
Bot API double: every question gets its own answer, none is lost, nothing errs.

Retrieval uses the hashing fake embedder here, so the test is about the bot (concurrent
updates, the worker thread, cursors, delivery) and stays fast; `benchmarks/bot_latency.py`
measures the same load with the real model and prints the latency.
"""

from __future__ import annotations

import io
import logging
import statistics
import threading
import time

import pytest

from qa.engine import Engine
from tests.botapi_double import BotAPIDouble, Sent, bot, check_html

pytestmark = pytest.mark.slow

USERS, QUESTIONS = 50, 20


@pytest.fixture
def engine(hashing_demo_engine: Engine) -> Engine:
    return hashing_demo_engine


def test_fifty_users_twenty_questions_each(engine: Engine) -> None:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    failures: list[str] = []
    latencies: list[float] = []
    questions = ["South Korea weapons Ukraine", "NATO Seoul visit", "Poland tanks deal"]
    try:
        with BotAPIDouble() as double, bot(double, engine, rate_limit=0):

            def user(uid: int) -> None:
                for i in range(QUESTIONS):
                    q = f"{questions[i % 3]} #{uid}-{i}"
                    asked = time.perf_counter()
                    message_id = double.message(q, user=uid)["message_id"]

                    def answered(m: int = message_id) -> list[Sent]:
                        return [s for s in double.sent(uid) if s.reply_to == m]

                    try:
                        [reply] = double.wait(answered, timeout=300)
                        latencies.append(time.perf_counter() - asked)
                        check_html(reply.text)
                    except (TimeoutError, ValueError) as e:
                        failures.append(f"{uid}/{i}: {e!r}")

            threads = [threading.Thread(target=user, args=(9000 + n,)) for n in range(USERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sent = double.sent()
    finally:
        logging.getLogger().removeHandler(handler)
    cuts = statistics.quantiles(latencies, n=20)
    print(
        f"{len(latencies)} replies to {USERS} concurrent users: median "
        f"{statistics.median(latencies) * 1000:.0f} ms, 95th percentile {cuts[18] * 1000:.0f} ms"
    )
    assert failures == []
    assert len(sent) == USERS * QUESTIONS  # one answer each: none lost, none doubled
    assert {s.chat_id for s in sent} == {9000 + n for n in range(USERS)}
    assert log.getvalue() == ""  # not one warning or error
