"""Pages and RSS/Atom feeds fetched from a local web server, ingested like files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build import ingest
from index.feeds import FeedState, load_states, read_url, save_states
from index.fetch import USER_AGENT, Fetcher
from index.reader import IndexReader
from index.records import Article, ReadFailure
from index.settings import Settings
from tests.fakes import HashingEmbedder
from tests.webdouble import Route, WebDouble


def page(title: str, body: str, canonical: str | None = None) -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<html><head><title>{title} - Example News</title>{link}
    <meta property="article:published_time" content="2023-02-0{len(title) % 9 + 1}"></head>
    <body><nav>Home | World | Contact</nav><div class="ads">Buy now!</div>
    <article><h1>{title}</h1><p>{body}</p>
    <p>Officials said more details would follow in the coming days, and residents were asked
    to stay informed through local radio.</p></article>
    <footer>Post a comment. Your Name. Your Email Address. Copyright 2023.</footer>
    </body></html>""".encode()


@pytest.fixture
def web() -> Iterator[tuple[WebDouble, str]]:
    double = WebDouble()
    base = double.start()
    double.routes.update(
        {
            "/robots.txt": Route(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/a1": Route(
                page(
                    "Dam opens on Helmand",
                    "The new dam opened on Sunday after eight "
                    "years of construction by engineers from three countries.",
                )
            ),
            "/a2": Route(
                page(
                    "Wheat prices fall",
                    "Wheat prices in Kabul markets fell for the "
                    "third week as imports from Kazakhstan increased sharply.",
                )
            ),
            "/a3": Route(
                page(
                    "Schools reopen",
                    "Schools in the north reopened after the winter "
                    "break with thousands of pupils returning to classrooms.",
                )
            ),
            "/private/secret": Route(page("Secret", "Should never be fetched by a polite robot.")),
            "/slow": Route(page("Slow", "This page takes too long to arrive."), delay=3.0),
            "/broken": Route(b"oops", status=500),
        }
    )
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Example News</title>
      <item><title>Dam opens</title><link>{base}/a1</link>
        <pubDate>Mon, 06 Feb 2023 10:00:00 GMT</pubDate></item>
      <item><title>Wheat</title><link>{base}/a2</link></item>
      <item><title>Private</title><link>{base}/private/secret</link></item>
    </channel></rss>"""
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>Atom News</title>
      <entry><title>Schools</title><link href="{base}/a3"/>
        <updated>2023-02-07T08:00:00Z</updated><id>urn:a3</id></entry>
      <entry><title>Broken</title><link href="{base}/broken"/><id>urn:b</id>
        <updated>2023-02-07T09:00:00Z</updated></entry>
    </feed>"""
    double.routes["/rss.xml"] = Route(rss.encode(), "application/rss+xml", etag='"v1"')
    double.routes["/atom.xml"] = Route(atom.encode(), "application/atom+xml", etag='"a1"')
    yield double, base
    double.stop()


def split(items: list[Article | ReadFailure]) -> tuple[list[Article], list[ReadFailure]]:
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, ReadFailure)],
    )


def test_page_is_extracted_without_boilerplate(web: tuple[WebDouble, str]) -> None:
    double, base = web
    with Fetcher(delay=0) as f:
        (article,) = list(read_url(f"{base}/a2", f, {}))
    assert isinstance(article, Article)
    assert article.title == "Wheat prices fall"
    assert article.id == article.url == f"{base}/a2"
    assert "Kazakhstan" in article.text
    for junk in ("Buy now", "Post a comment", "Home | World"):
        assert junk not in article.text
    assert all(h.get("User-Agent") == USER_AGENT for _, h in double.requests)


def test_rss_feed_entries_robots_and_conditional_refetch(web: tuple[WebDouble, str]) -> None:
    double, base = web
    states: dict[str, FeedState] = {}
    with Fetcher(delay=0) as f:
        articles, failures = split(list(read_url(f"{base}/rss.xml", f, states)))
    assert sorted(a.title for a in articles) == ["Dam opens on Helmand", "Wheat prices fall"]
    assert "/private/secret" not in double.paths()
    assert [f.where for f in failures] == [f"{base}/private/secret"]
    assert "robots.txt" in failures[0].reason
    assert f"{base}/rss.xml" not in states, "a failed entry means: ask again next time"

    double.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", "text/plain")
    double.routes["/rss.xml"].body = double.routes["/rss.xml"].body.replace(
        f"{base}/private/secret".encode(), f"{base}/a3".encode()
    )
    with Fetcher(delay=0) as f:
        known = {a.url for a in articles}
        again, failures = split(
            list(read_url(f"{base}/rss.xml", f, states, known=lambda u: u in known))
        )
    assert failures == [] and [a.title for a in again] == ["Schools reopen"]
    assert double.paths().count("/a1") == 1, "stored pages are not fetched again"
    assert states[f"{base}/rss.xml"].etag == '"v1"'

    before = len(double.requests)
    with Fetcher(delay=0) as f:
        assert list(read_url(f"{base}/rss.xml", f, states)) == []
    ((path, headers),) = double.requests[before + 1 :]  # robots.txt, then the feed
    assert path == "/rss.xml" and headers.get("If-None-Match") == '"v1"'


def test_atom_feed_and_failing_server(web: tuple[WebDouble, str]) -> None:
    _, base = web
    with Fetcher(delay=0) as f:
        articles, failures = split(list(read_url(f"{base}/atom.xml", f, {})))
    assert [a.title for a in articles] == ["Schools reopen"]
    assert articles[0].source, "the site or feed name"
    assert [(x.where, x.reason) for x in failures] == [
        (f"{base}/broken", "HTTP 500 Internal Server Error")
    ]


def test_slow_server_times_out_with_a_message(web: tuple[WebDouble, str]) -> None:
    _, base = web
    with Fetcher(delay=0, timeout=0.5) as f:
        (failure,) = list(read_url(f"{base}/slow", f, {}))
    assert isinstance(failure, ReadFailure) and failure.reason == "timed out"


def test_unreachable_host_is_a_failure(tmp_path: Path) -> None:
    with Fetcher(delay=0, timeout=1) as f:
        (failure,) = list(read_url("http://127.0.0.1:9/nothing", f, {}))
    assert isinstance(failure, ReadFailure)


def test_feed_states_persist_in_the_index(web: tuple[WebDouble, str], settings: Settings) -> None:
    _, base = web
    states: dict[str, FeedState] = {}
    with Fetcher(delay=0) as f:
        items = list(read_url(f"{base}/atom.xml", f, states))
    ingest(settings, items, lambda _m: HashingEmbedder())
    save_states(settings.index_dir, {"x": FeedState('"e"', "Tue, 07 Feb 2023 08:00:00 GMT")})
    assert load_states(settings.index_dir)["x"] == FeedState('"e"', "Tue, 07 Feb 2023 08:00:00 GMT")
    reader = IndexReader(settings.index_dir)
    (stored,) = [a for a in reader.store.articles()]
    assert stored.url == f"{base}/a3" and stored.published is not None
    reader.close()


def test_qa_ingest_and_watch_once_over_http(
    web: tuple[WebDouble, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.cli import main

    _, base = web
    index = str(tmp_path / "index")
    assert main(["ingest", f"{base}/a1", "--delay", "0", "--index", index]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["watch", f"{base}/atom.xml", "--once", "--delay", "0", "--index", index]) == 1
    out, err = capsys.readouterr()
    assert "1 added" in out and "/broken: HTTP 500" in err
    assert main(["ask", "When did schools reopen?", "--json", "--index", index]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["quotes"][0]["url"] == f"{base}/a3"


def test_watch_lines_carry_the_time_and_json_summaries(
    web: tuple[WebDouble, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from qa.cli import main

    _, base = web
    index = str(tmp_path / "index")
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
    assert main(["watch", f"{base}/atom.xml", "--once", "--delay", "0", "--index", index]) == 1
    out, err = capsys.readouterr()
    lines = [ln for ln in (out + err).splitlines() if ln.strip()]
    assert lines and all(stamp.match(ln) for ln in lines), lines
    assert any("ingested into" in ln for ln in out.splitlines())

    assert main(["ingest", f"{base}/a1", "--delay", "0", "--index", index, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 1 and summary["index"] == index and summary["failures"] == []
    assert summary["working"] <= summary["seconds"]

    assert main(["watch", f"{base}/atom.xml", "--once", "--delay", "0", "--index", index,
                 "--json"]) == 1  # fmt: skip
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    round_ = json.loads(out[0])
    assert round_["time"][:4].isdigit() and round_["failed"] == 1
    assert round_["failures"][0]["where"].endswith("/broken")
