"""Plain-text and Markdown articles, with the sample agency's header recognised."""

from __future__ import annotations

import re

from index.dates import to_iso
from index.records import Article

# "Publish dateMonday 30 January 2023 - 13:46" (the sample has no separator after the label)
_DATE_LINE = re.compile(r"^\s*publish(?:ed)?\s*(?:date|on)?\s*[:\-]?\s*(?P<date>.+)$", re.I)
_CODE_LINE = re.compile(r"^\s*story\s*code\s*[:\-]?\s*(?P<code>\S+)\s*$", re.I)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")

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


def parse_text(raw: str, *, fallback_id: str, path: str) -> Article | str:
    """An Article from the text of a file, or the reason there is none."""
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    published: str | None = None
    code: str | None = None
    title: str | None = None
    body_from = len(lines)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if i < _HEADER_LINES and code is None and (m := _CODE_LINE.match(line)):
            code = m["code"]
            continue
        if i < _HEADER_LINES and published is None and (m := _DATE_LINE.match(line)):
            iso = to_iso(m["date"])
            if iso is not None:
                published = iso
                continue
        title = _MD_HEADING.sub("", line).strip()
        body_from = i + 1
        break
    if not title:
        return "no text (the file is empty or holds only header lines)"
    body = lines[body_from:]
    while body and (not body[-1].strip() or body[-1].strip().casefold() in BOILERPLATE):
        body.pop()
    text = "\n".join(body).strip()
    if not text:
        # A one-line file: the line is both title and text.
        text = title
    article_id = f"story:{code}" if code else fallback_id
    return Article(id=article_id, title=title, text=text, published=published, path=path)
