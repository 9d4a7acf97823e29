"""Articles from the web: a page, or every entry of an RSS or Atom feed."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from index.dates import to_iso
from index.fetch import Fetcher, FetchError, Page
from index.formats.html import parse_html
from index.lock import write_lock
from index.manifest import Layout
from index.records import Article, ReadFailure
from index.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedState:
    """What the last fetch of a URL returned, for the next conditional request."""

    etag: str | None = None
    last_modified: str | None = None


def is_url(text: str) -> bool:
    """A web address that `read_url` fetches: http:// or https://, in any case."""
    return text[:8].lower().startswith(("http://", "https://"))


# 'ftp://host/f', and the same after pathlib has collapsed its slashes ('ftp:/host/f'). Two
# letters at least: 'C:/notes' is a Windows drive, not a scheme.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):/+(?P<rest>.*)$", re.S)


def other_url(text: str) -> Path | ReadFailure | None:
    """What a path that is a URL of another scheme than http(s) stands for: a file:// URL is
    the local path it names, any other scheme (ftp, s3, ...) a failure that names the scheme;
    None when `text` is no URL."""
    m = _SCHEME.match(text)
    scheme = m["scheme"].lower() if m else ""
    if m is None or scheme in ("http", "https"):
        return None
    if scheme == "file":
        from urllib.parse import unquote, urlsplit

        # file:///srv/news and file://localhost/srv/news; the collapsed file:/srv/news too.
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            return ReadFailure(text, f"a file:// URL of another host ({parts.netloc}): unreadable")
        return Path(unquote(parts.path))
    return ReadFailure(
        f"{scheme}://{m['rest']}",
        f"{scheme}:// URLs are not supported; qa ingest reads files, folders and http(s):// "
        "URLs (download the file, then ingest it)",
    )


def looks_like_feed(page: Page) -> bool:
    kind = page.content_type.lower()
    if any(t in kind for t in ("rss", "atom", "xml")) and "html" not in kind:
        return True
    head = page.body[:500].lstrip().lower()
    return head.startswith((b"<?xml", b"<rss", b"<feed")) and b"<html" not in head


def read_url(
    url: str,
    fetcher: Fetcher,
    states: dict[str, FeedState],
    *,
    known: Callable[[str], bool] = lambda _url: False,
) -> Iterator[Article | ReadFailure]:
    """The article at `url`, or the articles of the feed at `url`.

    `states` holds the last ETag / Last-Modified of each URL and is updated in place; a feed
    that answers 304 yields nothing. Entries whose page is already stored (`known`) are not
    fetched again.
    """
    state = states.get(url, FeedState())
    try:
        page = fetcher.get(url, etag=state.etag, last_modified=state.last_modified)
    except FetchError as e:
        yield ReadFailure(url, str(e).removeprefix(f"{url}: "))
        return
    if page.status == 304:
        log.info("%s: not modified", url)
        return
    if not looks_like_feed(page):
        yield _page_article(page, url)
        states[url] = FeedState(page.etag, page.last_modified)
        return
    import feedparser

    feed: Any = feedparser.parse(page.body)
    if feed.bozo and not feed.entries:
        yield ReadFailure(url, f"not a readable feed: {feed.get('bozo_exception', 'unknown')}")
        return
    complete = True
    for n, entry in enumerate(feed.entries, 1):
        link = entry.get("link")
        if not link:
            yield ReadFailure(f"{url} entry {n}", "has no link")
            continue
        if known(link):
            continue
        for item in _entry_article(entry, link, fetcher, source=feed.feed.get("title")):
            complete = complete and not isinstance(item, ReadFailure)
            yield item
    if complete:  # else the next round asks unconditionally and retries what failed
        states[url] = FeedState(page.etag, page.last_modified)


def _page_article(page: Page, asked: str) -> Article | ReadFailure:
    raw = page.body.decode("utf-8", errors="replace")
    result = parse_html(raw, fallback_id=page.url, path=asked)
    if isinstance(result, str):
        return ReadFailure(asked, result)
    if result.url is None:
        result = replace(result, url=page.url, id=page.url)
    return result


def _entry_article(
    entry: Any, link: str, fetcher: Fetcher, *, source: str | None
) -> Iterator[Article | ReadFailure]:
    published = None
    for key in ("published", "updated"):
        if entry.get(key):
            published = to_iso(entry[key])
            break
    try:
        page = fetcher.get(link)
    except FetchError as e:
        yield ReadFailure(link, str(e).removeprefix(f"{link}: "))
        return
    article = _page_article(page, link)
    if isinstance(article, ReadFailure):
        yield article
        return
    yield Article(
        id=article.url or link,
        title=article.title or entry.get("title", "") or link,
        text=article.text,
        url=article.url or link,
        published=article.published or published,
        source=article.source or source,
        lang=article.lang,
        path=link,
    )


def load_states(folder: Path) -> dict[str, FeedState]:
    """The conditional-request state of every URL fetched into this index."""
    if not Layout(folder).store.exists():
        return {}
    store = Store(Layout(folder).store, readonly=True)
    try:
        raw = store.get_meta("feeds") or {}
    finally:
        store.close()
    return {url: FeedState(**value) for url, value in raw.items()}


def save_states(folder: Path, states: dict[str, FeedState]) -> None:
    """Record the state after the articles it led to were committed."""
    with write_lock(folder):
        store = Store(Layout(folder).store)
        try:
            with store.transaction():
                raw = store.get_meta("feeds") or {}
                raw.update({url: s.__dict__ for url, s in states.items()})
                store.set_meta("feeds", raw)
        finally:
            store.close()


@contextmanager
def known_urls(folder: Path) -> Iterator[Callable[[str], bool]]:
    """A test of whether an article with this URL as its id is already stored."""
    if not Layout(folder).store.exists():
        yield lambda _url: False
        return
    store = Store(Layout(folder).store, readonly=True)
    try:
        yield lambda url: store.find_article(url) is not None
    finally:
        store.close()
