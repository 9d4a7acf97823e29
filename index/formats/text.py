"""Plain-text and Markdown articles, with the sample agency's header recognised."""

from __future__ import annotations

import re

from index.dates import exact_iso, to_iso
from index.front_matter import read_front_matter
from index.records import Article, ReadFailure

# "Publish dateMonday 30 January 2023 - 13:46" (the sample has no separator after the label)
_DATE_LINE = re.compile(r"^\s*publish(?:ed)?\s*(?:date|on)?\s*[:\-]?\s*(?P<date>.+)$", re.I)
_CODE_LINE = re.compile(r"^\s*story\s*code\s*[:\-]?\s*(?P<code>\S+)\s*$", re.I)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# A Markdown rule ('---', '* * *') or a setext underline ('====='): never a title.
_RULE = re.compile(r"^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,}|=+)\s*$")
# A line under the title that is only a date: "Published on 2026-11-20", "November 20, 2026",
# "*Updated: 20 November 2026 10:30*". The date itself must be the rest of the line (exact_iso).
_DATED = re.compile(
    r"^[\s*_]*(?:(?P<label>(?:first\s+|last\s+)?(?:published|updated|posted|dated?|"
    r"modified)(?:\s+(?:on|at))?)\s*[:\-–—]?\s*)?(?P<date>.+?)[\s*_]*$",
    re.I,
)

# Lines of page furniture that trail a scraped article (the comment form, share links).
BOILERPLATE = frozenset(
    s.casefold()
    for s in (
        "Post a comment",
        "Your Name",
        "Your Email Address",
        "Your Comment",
        "Leave a comment",
        "Leave a reply",
        "Comments",
        "Comment",
        "Send",
        "Submit",
        "Share",
        "Print",
        "Email",
    )
)
_HEADER_LINES = 6  # header fields are looked for only this near the top
_DATE_LINES = 3  # date lines ("Published ...", "Updated ...") are looked for this far under it


def parse_text(raw: str, *, fallback_id: str, path: str) -> Article | ReadFailure:
    """An Article from the text of a .txt or .md file (front matter read), or why there is none."""
    lines = _lines(raw)
    front = read_front_matter(lines, path=path)
    if isinstance(front, ReadFailure):
        return front
    if front is None:
        return parse_plain(raw, fallback_id=fallback_id, path=path)
    article = parse_plain(
        "\n".join(lines[front.body :]),
        fallback_id=front.id or front.url or fallback_id,
        path=path,
        title=front.title,
    )
    if isinstance(article, ReadFailure):
        return article
    return Article(
        id=front.id or article.id,
        title=article.title,
        text=article.text,
        url=front.url,
        published=front.published or article.published,  # the front matter says it outright
        source=front.source,
        lang=front.lang,
        path=path,
    )


def parse_plain(
    raw: str,
    *,
    fallback_id: str,
    path: str,
    title: str | None = None,
    published: str | None = None,
) -> Article | ReadFailure:
    """An Article from plain text: header lines, a title (the first line, unless `title` is
    given), date lines under it, then the body. `published` is used when the text gives none.
    """
    lines = _lines(raw)
    given = title is not None
    code: str | None = None
    dated: str | None = None
    body_from = len(lines)
    for i, line in enumerate(lines):
        if not line.strip() or _RULE.match(line):
            continue
        if i < _HEADER_LINES and code is None and (m := _CODE_LINE.match(line)):
            code = m["code"]
            continue
        if i < _HEADER_LINES and dated is None and (m := _DATE_LINE.match(line)):
            iso = to_iso(m["date"])
            if iso is not None:
                dated = iso
                continue
        if title is None:
            title = _MD_HEADING.sub("", line).strip()
            body_from = i + 1
        elif _same(_MD_HEADING.sub("", line), title):
            body_from = i + 1  # the given title repeated as the first line (a heading)
        else:
            body_from = i
        break
    if not title:
        return ReadFailure(path, "no text (the file is empty or holds only header lines)")
    body = lines[body_from:]
    if body and _RULE.match(body[0]) and body[0].strip().startswith(("=", "-")):
        body = body[1:]  # a setext heading's underline
    under, body = _date_under_title(body)
    while body and (not body[-1].strip() or body[-1].strip().casefold() in BOILERPLATE):
        body.pop()
    text = "\n".join(body).strip()
    if not text and given:
        return ReadFailure(path, f"no text under the title {title[:60]!r}")
    if not text:
        # A one-line file: the line is both title and text.
        text = title
    article_id = f"story:{code}" if code else fallback_id
    return Article(
        id=article_id, title=title, text=text, published=dated or under or published, path=path
    )


def _date_under_title(body: list[str]) -> tuple[str | None, list[str]]:
    """The date of the lines right under the title that hold only a date, and the body without
    them. A publish date (or an unlabelled one) wins over an "Updated" one."""
    published: str | None = None
    updated: str | None = None
    seen = 0
    rest = 0
    for i, line in enumerate(body):
        if not line.strip():
            continue
        m = _DATED.match(line)
        iso = exact_iso(m["date"]) if m else None
        if m is None or iso is None or seen == _DATE_LINES:
            break
        seen += 1
        rest = i + 1
        label = (m["label"] or "").casefold()
        if "updated" in label or "modified" in label:
            updated = updated or iso
        else:
            published = published or iso
    return published or updated, body[rest:]


def _lines(raw: str) -> list[str]:
    return raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
