"""PDF articles (press releases, reports): the text layer, read by pypdf.

A PDF holds no text when it was scanned: its pages are pictures. That is named, never read as an
empty article; OCR is out of scope here.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from index.formats.text import parse_plain
from index.records import Article, ReadFailure

log = logging.getLogger(__name__)

# pypdf raises its own errors for most damage, and plain ones from deeper in its parser for the
# rest (a cut file, a broken object, a filter it does not know): the file cannot be read.
_DAMAGE = (ValueError, KeyError, TypeError, IndexError, AttributeError, NotImplementedError)

NO_TEXT = "no text layer: a scanned PDF? run OCR on it first (e.g. ocrmypdf)"


def parse_pdf(data: bytes, *, fallback_id: str, path: str) -> Article | ReadFailure:
    """An Article from a PDF's text (pages joined by a blank line), or why there is none.

    The title is the document's own (its metadata) or else the first line; the date is a date
    line at the top of the text or else the document's creation date.
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return ReadFailure(path, "the PDF is protected by a password; save a copy without it")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: Any = reader.metadata
    except FileNotDecryptedError:
        return ReadFailure(path, "the PDF is protected by a password; save a copy without it")
    except DependencyError as e:
        return ReadFailure(path, f"cannot decrypt this PDF: {e}")
    except (PyPdfError, *_DAMAGE) as e:
        return ReadFailure(path, f"not a readable PDF ({_first_line(e)})")
    if not pages:
        return ReadFailure(path, "the PDF has no pages")
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        return ReadFailure(path, NO_TEXT)
    return parse_plain(
        text,
        fallback_id=fallback_id,
        path=path,
        title=_title(info),
        published=_created(info),
    )


def _title(info: Any) -> str | None:
    title = str(info.title or "").strip() if info is not None else ""
    # Word's PDF export writes the file name as the title ("Microsoft Word - report.docx").
    if not title or title.startswith("Microsoft Word - ") or title.casefold() == "untitled":
        return None
    return title


def _created(info: Any) -> str | None:
    if info is None:
        return None
    try:
        when = info.creation_date
    except ValueError:  # a malformed date string: the document still reads
        log.debug("unreadable PDF creation date %r", info.creation_date_raw)
        return None
    return when.isoformat() if when is not None else None


def _first_line(e: Exception) -> str:
    text = str(e).strip().split("\n", 1)[0]
    return text[:120] or type(e).__name__
