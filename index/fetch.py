"""Polite HTTP: a user agent, robots.txt, a delay between requests, conditional GETs."""

from __future__ import annotations

import logging
import time
import urllib.robotparser
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from index.errors import QAError

log = logging.getLogger(__name__)

USER_AGENT = "newsqa/0.1 (news archive question answering; polite fetcher)"


class FetchError(QAError):
    """A URL could not be fetched; the message names it."""


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    status: int  # 200, or 304 when the conditional request found nothing new
    body: bytes
    content_type: str
    etag: str | None = None
    last_modified: str | None = None


class Fetcher:
    """One HTTP client for a run; requests to one host are at least `delay` seconds apart."""

    def __init__(
        self, *, timeout: float = 20.0, delay: float = 1.0, max_bytes: int = 20_000_000
    ) -> None:
        import httpx

        self.delay = delay
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET `url` (conditionally when `etag`/`last_modified` are given)."""
        import httpx

        if not self.allowed(url):
            raise FetchError(f"{url}: robots.txt asks robots not to fetch it")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self._wait(url)
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                if r.status_code == 304:
                    return Page(str(r.url), 304, b"", "", etag, last_modified)
                if r.status_code >= 400:
                    raise FetchError(f"{url}: HTTP {r.status_code} {r.reason_phrase}")
                body = bytearray()
                for part in r.iter_bytes():
                    body += part
                    if len(body) > self.max_bytes:
                        raise FetchError(f"{url}: larger than {self.max_bytes / 1e6:.0f} MB")
                return Page(
                    url=str(r.url),
                    status=r.status_code,
                    body=bytes(body),
                    content_type=r.headers.get("content-type", ""),
                    etag=r.headers.get("etag"),
                    last_modified=r.headers.get("last-modified"),
                )
        except httpx.TimeoutException:
            raise FetchError(f"{url}: timed out") from None
        except httpx.HTTPError as e:
            raise FetchError(f"{url}: {e}") from None

    def allowed(self, url: str) -> bool:
        """What the site's robots.txt says of our user agent; allowed when it has none."""
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            self._robots[root] = self._read_robots(root)
        robots = self._robots[root]
        return robots is None or robots.can_fetch(USER_AGENT, url)

    def _read_robots(self, root: str) -> urllib.robotparser.RobotFileParser | None:
        import httpx

        self._wait(root)
        try:
            r = self._client.get(f"{root}/robots.txt")
        except httpx.HTTPError:
            return None
        if r.status_code >= 400:
            return None
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(r.text.splitlines())
        return parser

    def _wait(self, url: str) -> None:
        host = urlsplit(url).netloc
        if host in self._last:
            pause = self._last[host] + self.delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last[host] = time.monotonic()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
