"""HTML pages: main text and metadata extracted by trafilatura."""

from __future__ import annotations

from typing import Any

from index.dates import to_iso
from index.records import Article

MIN_WORDS = 5  # fewer extracted words than this is page furniture ("Home"), not an article


def parse_html(raw: str, *, fallback_id: str, path: str) -> Article | str:
    """An Article from an HTML page, or the reason there is none."""
    import trafilatura

    doc: Any = trafilatura.bare_extraction(
        raw, with_metadata=True, include_comments=False, include_tables=True
    )
    if doc is None or not (doc.text or "").strip():
        return "no article text found in the HTML"
    text = doc.text.strip()
    if len(text.split()) < MIN_WORDS:
        return f"no article text found in the HTML (only {text[:40]!r})"
    title = (doc.title or "").strip()
    first, _, rest = text.partition("\n")
    if title and first.strip() == title and rest.strip():
        text = rest.strip()  # trafilatura repeats the headline as the first line
    if not title:
        title = first.strip()[:200]
    url = (doc.url or "").strip() or None
    published = to_iso(doc.date) if doc.date else None
    return Article(
        id=url or fallback_id,
        title=title,
        text=text,
        url=url,
        published=published,
        source=(doc.sitename or None),
        lang=(doc.language or None),
        path=path,
    )
