"""Word (.docx) articles: paragraphs and tables in document order, read by python-docx."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Any

from index.formats.text import parse_plain
from index.records import Article, ReadFailure

# The creation date python-docx's own blank template carries: a file made from it says nothing
# about when its article was written.
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15, tzinfo=UTC)


def parse_docx(data: bytes, *, fallback_id: str, path: str) -> Article | ReadFailure:
    """An Article from a .docx file, or why there is none.

    The title is the document's own (its properties) or else the first paragraph; the date is a
    date line at the top of the text or else the document's creation date.
    """
    import docx
    from docx.exceptions import PythonDocxError
    from docx.opc.exceptions import OpcError
    from lxml import etree

    try:
        document: Any = docx.Document(io.BytesIO(data))
        lines = [_text(block) for block in document.iter_inner_content()]
        props = document.core_properties
        title = (props.title or "").strip() or None
        created = props.created
    # A file that is not a zip, a zip without Word's parts, or broken XML inside.
    except (zipfile.BadZipFile, KeyError, OpcError, PythonDocxError, etree.LxmlError) as e:
        reason = str(e).strip().split("\n", 1)[0][:120] or type(e).__name__
        return ReadFailure(path, f"not a readable .docx file ({reason})")
    text = "\n".join(lines).strip()
    if not text:
        return ReadFailure(path, "no text in the document")
    published = None
    if isinstance(created, datetime) and created != _TEMPLATE_CREATED:
        published = created.isoformat()
    return parse_plain(text, fallback_id=fallback_id, path=path, title=title, published=published)


def _text(block: Any) -> str:
    """A paragraph's text, or a table's: one line a row, its cells split by ' | '."""
    if hasattr(block, "rows"):
        rows = []
        for row in block.rows:
            cells: list[str] = []
            for cell in row.cells:
                value = " ".join(cell.text.split())
                if value and (not cells or cells[-1] != value):  # merged cells repeat
                    cells.append(value)
            rows.append(" | ".join(cells))
        return "\n".join(rows)
    return str(block.text)
