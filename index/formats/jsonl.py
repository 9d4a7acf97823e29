"""JSON (one record or a list) and JSON Lines articles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from index.dates import to_iso
from index.records import Article, ReadFailure

TEXT_FIELDS = ("text", "content", "body")
DATE_FIELDS = ("published", "date")
OPTIONAL = ("title", "url", "source", "lang")


def parse_json(raw: str, *, path: str, ident: str = "") -> Iterator[Article | ReadFailure]:
    """Articles from a JSON document holding one record or a list of records.

    `path` names the file in messages; a record with neither `id` nor `url` gets the id
    `IDENT#N` (`ident`: the file's id, see index.sources.file_id), its place in the file.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        yield ReadFailure(f"{path}:{e.lineno}", f"invalid JSON: {e.msg}")
        return
    except RecursionError:
        yield ReadFailure(path, "invalid JSON: nested too deeply")
        return
    records = data if isinstance(data, list) else [data]
    for n, record in enumerate(records, 1):
        where = f"{path} record {n}" if isinstance(data, list) else path
        yield _article(record, where=where, fallback_id=f"{ident or path}#{n}", path=path)


def parse_jsonl(raw: str, *, path: str, ident: str = "") -> Iterator[Article | ReadFailure]:
    """Articles from JSON Lines, one record a line; a bad line fails alone. Ids as
    `parse_json` gives them, N the line number."""
    # Records end at \n only: str.splitlines would also cut at U+2028, U+0085 and others,
    # which JSON writers leave raw inside strings.
    for n, line in enumerate(raw.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield ReadFailure(f"{path}:{n}", f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        except RecursionError:
            yield ReadFailure(f"{path}:{n}", "invalid JSON: nested too deeply")
            continue
        yield _article(record, where=f"{path}:{n}", fallback_id=f"{ident or path}#{n}", path=path)


def _article(record: Any, *, where: str, fallback_id: str, path: str) -> Article | ReadFailure:
    if not isinstance(record, dict):
        return ReadFailure(where, f"expected an object, got {type(record).__name__}")
    text = next((record[f] for f in TEXT_FIELDS if f in record), None)
    if text is None:
        return ReadFailure(where, "no 'text' (or 'content' / 'body') field")
    if not isinstance(text, str):
        return ReadFailure(where, f"'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        return ReadFailure(where, "'text' is empty")
    fields: dict[str, str | None] = {}
    for name in OPTIONAL:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return ReadFailure(where, f"'{name}' must be a string, got {type(value).__name__}")
        fields[name] = value.strip() or None if isinstance(value, str) else None
    raw_id = record.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        return ReadFailure(where, f"'id' must be a string or integer, got {type(raw_id).__name__}")
    published = None
    raw_date = next((record[f] for f in DATE_FIELDS if record.get(f) is not None), None)
    if raw_date is not None:
        if not isinstance(raw_date, str):
            return ReadFailure(
                where, f"'published' must be a string, got {type(raw_date).__name__}"
            )
        published = to_iso(raw_date)
        if published is None:
            return ReadFailure(where, f"'published' is not a date: {raw_date[:40]!r}")
    text = text.strip()
    title = fields["title"] or text.split("\n", 1)[0][:120]
    article_id = str(raw_id) if raw_id is not None else fields["url"] or fallback_id
    return Article(
        id=article_id,
        title=title,
        text=text,
        url=fields["url"],
        published=published,
        source=fields["source"],
        lang=fields["lang"],
        path=path,
    )
