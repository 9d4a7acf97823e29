"""YAML front matter at the top of a Markdown or text file: the article's metadata, never its text.

```
---
title: Harbor reopens
date: 2026-11-20
source: Port Gazette
url: https://example.org/harbor
---
```

As in Jekyll and Hugo, a first line of `---` opens front matter, and a line of `---` (or `...`)
closes it. Keys other than those below (tags, author, layout) are passed over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from index.dates import to_iso
from index.records import ReadFailure

_OPEN = re.compile(r"^---\s*$")
_CLOSE = re.compile(r"^(?:---|\.\.\.)\s*$")
_FIELDS = {"title": "title", "source": "source", "url": "url", "id": "id", "lang": "lang"}
_DATES = ("date", "published")


@dataclass(frozen=True)
class FrontMatter:
    """The metadata a file's front matter gives; `body` is the index of the line after it."""

    body: int
    title: str | None = None
    published: str | None = None
    source: str | None = None
    url: str | None = None
    id: str | None = None
    lang: str | None = None


def read_front_matter(lines: list[str], *, path: str) -> FrontMatter | ReadFailure | None:
    """The front matter opening `lines` (a file's lines, without their ends); None if none."""
    if not lines or not _OPEN.match(lines[0]):
        return None
    end = next((i for i in range(1, len(lines)) if _CLOSE.match(lines[i])), None)
    if end is None:
        return ReadFailure(
            f"{path}:1", "front matter opened by '---' is never closed by a '---' line"
        )
    import yaml

    try:
        data: Any = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1  # the YAML starts on the file's line 2
        problem = getattr(e, "problem", None) or str(e).split("\n", 1)[0]
        return ReadFailure(f"{path}:{line}", f"invalid front matter: {problem}")
    if data is None:
        return FrontMatter(body=end + 1)
    if isinstance(data, str):
        return None  # a title between two rules ('---'), not metadata: read as plain text
    if not isinstance(data, dict):
        return ReadFailure(
            f"{path}:2",
            f"front matter must be 'key: value' lines, not a {type(data).__name__}",
        )
    fields: dict[str, str | None] = {}
    for key, name in _FIELDS.items():
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            return ReadFailure(
                f"{path}:{_line_of(lines, end, key)}",
                f"front matter '{key}' must be text, got {type(value).__name__}",
            )
        fields[name] = str(value).strip() or None if value is not None else None
    published = None
    when = next((k for k in _DATES if data.get(k) is not None), None)
    if when is not None:
        value = data[when]
        # YAML reads an unquoted 2026-11-20 as a date (and with a time, as a datetime) itself.
        published = value.isoformat() if isinstance(value, date) else to_iso(str(value))
        if published is None:
            return ReadFailure(
                f"{path}:{_line_of(lines, end, when)}",
                f"front matter '{when}' is not a date: {str(value)[:40]!r}",
            )
    return FrontMatter(body=end + 1, published=published, **fields)


def _line_of(lines: list[str], end: int, key: str) -> int:
    """The file's line number (1-based) where `key:` is set in the front matter."""
    pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*:")
    return next((i + 1 for i in range(1, end) if pattern.match(lines[i])), 1)
