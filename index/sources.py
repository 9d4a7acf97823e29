"""Files and folders in, Articles (or named failures) out."""

from __future__ import annotations

import codecs
import errno
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from index.feeds import other_url
from index.formats.docx import parse_docx
from index.formats.html import parse_html
from index.formats.jsonl import parse_json, parse_jsonl
from index.formats.pdf import parse_pdf
from index.formats.text import parse_text
from index.records import Article, ReadFailure

log = logging.getLogger(__name__)

TEXT = frozenset({".txt", ".text", ".md", ".markdown"})
HTML = frozenset({".html", ".htm", ".xhtml"})
JSON = frozenset({".json"})
JSONL = frozenset({".jsonl", ".ndjson"})
PDF = frozenset({".pdf"})
DOCX = frozenset({".docx"})
SUPPORTED = TEXT | HTML | JSON | JSONL | PDF | DOCX
READS = ".txt, .md, .html, .json, .jsonl, .pdf and .docx files"  # for messages

# Byte order marks, UTF-32's first: its little-endian mark begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def find_files(
    paths: Iterable[Path], passed_over: list[Path] | None = None
) -> Iterator[Path | ReadFailure]:
    """Every supported file under `paths`, in a stable order; folders are walked recursively.

    A named file is always returned (its type is checked when read); inside folders, hidden
    entries are ignored and files of other types are passed over (appended to `passed_over`
    when it is given, for the summary to count). A path that is a URL of a scheme other than
    http(s) is named as unsupported; a file:// URL is read as the local path it names.
    """
    for root in paths:
        if not root.exists():
            # Path("ftp://host/f") reads "ftp:/host/f": a URL only if no such file is there.
            failure = other_url(str(root))
            if isinstance(failure, Path):
                root = failure
            elif failure is not None:
                yield failure
                continue
        if root.is_dir():
            yield from _walk(root, passed_over)
        elif root.exists():
            yield root
        else:
            yield ReadFailure(str(root), "no such file or folder")


def _walk(root: Path, passed_over: list[Path] | None) -> Iterator[Path | ReadFailure]:
    def on_error(err: OSError) -> None:
        failures.append(ReadFailure(str(err.filename or root), _os_reason(err)))

    failures: list[ReadFailure] = []
    # followlinks=False: a symlinked folder could loop; symlinked files are still read.
    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        yield from failures
        failures.clear()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.suffix.lower() in SUPPORTED:
                yield ReadFailure(str(path), "symbolic link loop") if _loops(path) else path
            elif passed_over is not None:
                passed_over.append(path)
    yield from failures


def read_file(
    path: Path, *, ident: str, max_bytes: int, source: str | None = None
) -> Iterator[Article | ReadFailure]:
    """The articles in one file. `ident` is the stable name used for ids and messages;
    `source` is the source of each article whose file names none (`qa ingest --source`)."""
    for item in _read(path, ident=ident, max_bytes=max_bytes):
        if source and isinstance(item, Article) and item.source is None:
            item = replace(item, source=source)
        yield item


def _read(path: Path, *, ident: str, max_bytes: int) -> Iterator[Article | ReadFailure]:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        yield ReadFailure(
            where,
            f"unsupported file type {suffix or '(none)'}; expected one of "
            f"{', '.join(sorted(SUPPORTED))}",
        )
        return
    try:
        size = path.stat().st_size
        if size > max_bytes:
            yield ReadFailure(
                where,
                f"file is {size / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.0f} MB limit (raise QA_MAX_FILE_MB to read it)",
            )
            return
        if not path.is_file():
            yield ReadFailure(where, "not a regular file")
            return
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        yield ReadFailure(where, _os_reason(e))
        return
    if suffix in PDF | DOCX:
        if not data:
            yield ReadFailure(where, "file is empty")
            return
        parse_binary = parse_pdf if suffix in PDF else parse_docx
        yield parse_binary(data, fallback_id=ident, path=where)
        return
    raw = _decode(data, where)
    if isinstance(raw, ReadFailure):
        yield raw
        return
    if not raw.strip():
        yield ReadFailure(where, "file is empty")
        return
    if suffix in JSON:
        yield from parse_json(raw, path=where, ident=ident)
    elif suffix in JSONL:
        yield from parse_jsonl(raw, path=where, ident=ident)
    elif suffix in HTML:
        result = parse_html(raw, fallback_id=ident, path=where)
        yield ReadFailure(where, result) if isinstance(result, str) else result
    else:
        yield parse_text(raw, fallback_id=ident, path=where)


def locate(
    paths: Iterable[Path], passed_over: list[Path] | None = None
) -> Iterator[tuple[Path, str] | ReadFailure]:
    """(file, article id) for every file under `paths` (`passed_over`: as `find_files`).

    The id is `file:` and the file's absolute path with symlinks resolved, so one file is one
    article however its path was typed and whatever folder the command ran from.
    """
    for item in find_files(paths, passed_over):
        yield item if isinstance(item, ReadFailure) else (item, file_id(item))


def file_id(path: Path) -> str:
    """The id of the article a file holds: `file:/absolute/path/of/it.txt`."""
    return f"file:{path.resolve().as_posix()}"


def read_paths(paths: Iterable[Path], *, max_bytes: int) -> Iterator[Article | ReadFailure]:
    """Articles from files and folders; an article without an id of its own gets `file_id`."""
    for item in locate(paths):
        if isinstance(item, ReadFailure):
            yield item
        else:
            yield from read_located(item[0], item[1], max_bytes=max_bytes)


def read_located(
    file: Path, ident: str, *, max_bytes: int, source: str | None = None
) -> Iterator[Article | ReadFailure]:
    """`read_file`, each article keeping the absolute path of its file (`qa prune` checks it)."""
    absolute = file.resolve().as_posix()
    for item in read_file(file, ident=ident, max_bytes=max_bytes, source=source):
        yield replace(item, path=absolute) if isinstance(item, Article) else item


def _decode(data: bytes, where: str) -> str | ReadFailure:
    """The text of a file: UTF-8 (a byte order mark allowed), or UTF-16 / UTF-32 with theirs."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as e:
                line = data[: e.start].decode(codec, errors="replace").count("\n") + 1
                return ReadFailure(
                    f"{where}:{line}", f"invalid {name} at byte {e.start}; save the file as UTF-8"
                )
            if "\x00" in text:  # random bytes that happen to open with a mark
                return ReadFailure(where, "binary file (holds NUL characters), not text")
            return text
    if b"\x00" in data[:8192]:
        return ReadFailure(where, "binary file (holds NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return ReadFailure(
            f"{where}:{line}", f"invalid UTF-8 at byte {e.start}; save the file as UTF-8"
        )


def _loops(path: Path) -> bool:
    """Whether `path` is a symbolic link that leads back to itself (it has no real path)."""
    if not path.is_symlink():
        return False
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 and 3.12 say a loop so
        return True
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def _os_reason(e: OSError) -> str:
    return e.strerror.lower() if e.strerror else str(e)
