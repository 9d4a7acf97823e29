"""Inputs people actually have: front matter, date lines, a source for plain files, PDF and
Word files, UTF-16 text, files passed over in a folder, URLs of other schemes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from index.records import Article, ReadFailure
from index.sources import find_files, read_file, read_paths
from tests.test_readers import read

MB = 10**6


def one(path: Path) -> Article:
    articles, failures = read(path)
    assert failures == [] and len(articles) == 1, failures
    return articles[0]


def failure(path: Path) -> ReadFailure:
    articles, failures = read(path)
    assert articles == [] and len(failures) == 1, articles
    return failures[0]


# --- front matter ------------------------------------------------------------------------------

FRONT = """---
title: "Harbor reopens: ships return"
date: 2026-11-20
source: Port Gazette
url: https://gazette.example/harbor
tags: [port, weather]
---

# Harbor reopens: ships return

The harbor reopened on Friday after the storm.
Ships queued at the mouth of the bay.
"""


def test_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    (tmp_path / "harbor.md").write_text(FRONT)
    article = one(tmp_path / "harbor.md")
    assert article.title == "Harbor reopens: ships return"
    assert article.published == "2026-11-20"
    assert article.source == "Port Gazette"
    assert article.url == "https://gazette.example/harbor"
    assert article.id == "https://gazette.example/harbor"  # as a JSON record with a url
    # Neither the front matter nor the heading that repeats the title is text.
    assert article.text == (
        "The harbor reopened on Friday after the storm.\nShips queued at the mouth of the bay."
    )


def test_front_matter_in_a_text_file_with_id_lang_and_published(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text(
        "---\nid: gazette-118\npublished: 'November 21, 2026 08:15'\nlang: en\n"
        "author: Sam\n---\nStorm warning lifted\nThe warning was lifted at dawn.\n"
    )
    article = one(tmp_path / "note.txt")
    assert article.id == "gazette-118"
    assert article.title == "Storm warning lifted"
    assert article.published == "2026-11-21T08:15:00"
    assert article.lang == "en"
    assert article.text == "The warning was lifted at dawn."


def test_front_matter_without_a_title_takes_the_first_line(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nsource: Gazette\n---\n\nTitle here\n\nBody here.\n")
    article = one(tmp_path / "a.md")
    assert (article.title, article.text, article.source) == ("Title here", "Body here.", "Gazette")


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        ("---\ntitle: [unclosed\ndate: x\n---\nBody.\n", ":3", "invalid front matter"),
        ("---\ntitle: T\n\nBody without a closing line.\n", ":1", "never closed"),
        ("---\ntitle: T\ndate: someday\n---\nBody.\n", ":3", "'date' is not a date"),
        ("---\ntitle:\n  - a\n  - b\n---\nBody.\n", ":2", "'title' must be text"),
        ("---\n- a list\n---\nBody.\n", ":2", "key: value"),
        ("---\ntitle: T\n---\n", "", "no text under the title"),
    ],
)
def test_bad_front_matter_names_file_and_line(
    tmp_path: Path, content: str, where: str, words: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(content)
    fail = failure(path)
    assert fail.where == f"{path}{where}"
    assert words in fail.reason


@pytest.mark.parametrize(
    "content",
    [
        "***\n\nHarbor reopens\n==============\n\nShips returned.\n",
        "---\nHarbor reopens\n---\nShips returned.\n",  # rules around a title: no metadata
    ],
)
def test_title_is_never_a_rule_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "a.md").write_text(content)
    article = one(tmp_path / "a.md")
    assert (article.title, article.text) == ("Harbor reopens", "Ships returned.")


# --- a date line under the title ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("Published on 2026-11-20", "2026-11-20"),
        ("November 20, 2026", "2026-11-20"),
        ("20 November 2026", "2026-11-20"),
        ("2026-11-20", "2026-11-20"),
        ("*Published: Friday, November 20, 2026 at 10:30*", "2026-11-20T10:30:00"),
        ("Updated: 21 November 2026", "2026-11-21"),
        ("Posted on Nov. 20, 2026\nUpdated: Nov. 21, 2026", "2026-11-20"),
    ],
)
def test_date_line_under_the_title_is_the_date(tmp_path: Path, line: str, iso: str) -> None:
    (tmp_path / "a.txt").write_text(f"Harbor reopens\n{line}\n\nShips returned on Friday.\n")
    article = one(tmp_path / "a.txt")
    assert article.title == "Harbor reopens"
    assert article.published == iso
    assert article.text == "Ships returned on Friday."


@pytest.mark.parametrize(
    "first",
    [
        "On November 20, 2026 the harbor reopened.",
        "November 20, 2026 was the day the harbor reopened.",
        "Published in May 2026, the report found rust.",
        "May 2026",  # no day: a month is not a publish date
    ],
)
def test_a_first_sentence_holding_a_date_stays_text(tmp_path: Path, first: str) -> None:
    (tmp_path / "a.txt").write_text(f"Harbor reopens\n{first}\nShips returned.\n")
    article = one(tmp_path / "a.txt")
    assert article.published is None
    assert article.text == f"{first}\nShips returned."


def test_exact_dates() -> None:
    from index.dates import exact_iso

    assert exact_iso("November 20, 2026") == "2026-11-20"
    assert exact_iso("20 November 2026 10:30") == "2026-11-20T10:30:00"
    for not_a_date in ("May 2026", "2026", "the 5 boats", "On November 20, 2026 it rained", ""):
        assert exact_iso(not_a_date) is None


# --- a source for files that name none (`qa ingest --source`) ----------------------------------


def test_source_is_given_to_articles_whose_file_names_none(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("Title\nBody.\n")
    (tmp_path / "front.md").write_text("---\nsource: Own Source\n---\nTitle\nBody two.\n")
    (tmp_path / "recs.jsonl").write_text(
        json.dumps({"text": "Body three.", "source": "Record Source"})
        + "\n"
        + json.dumps({"text": "Body four."})
        + "\n"
    )
    sources = {}
    for path in sorted(tmp_path.iterdir()):
        for item in read_file(path, ident=f"file:{path}", max_bytes=MB, source="Gazette"):
            assert isinstance(item, Article)
            sources[item.text] = item.source
    assert sources == {
        "Body.": "Gazette",
        "Body two.": "Own Source",  # the file's own word wins
        "Body three.": "Record Source",
        "Body four.": "Gazette",
    }
    (without,) = read_file(tmp_path / "plain.txt", ident="x", max_bytes=MB)
    assert isinstance(without, Article) and without.source is None


# --- PDF ---------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str]], info: dict[str, str] | None = None) -> bytes:
    """A small PDF, assembled by hand: each page its lines of text in Helvetica (an empty list
    is a page with no text layer, as a scan's is: it only paints a rectangle)."""

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    n = len(pages)
    font = 3 + 2 * n
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [{}] /Count {} >>".format(
            " ".join(f"{3 + 2 * i} 0 R" for i in range(n)), n
        ),
    ]
    for i, lines in enumerate(pages):
        if lines:
            shown = " 0 -16 Td ".join(f"{literal(line)} Tj" for line in lines)
            stream = f"BT /F1 12 Tf 72 720 Td {shown} ET"
        else:
            stream = "0.5 g 72 72 400 600 re f"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    trailer = f"/Size {len(objects) + 1} /Root 1 0 R"
    if info:
        entries = " ".join(f"/{k} {literal(v)}" for k, v in info.items())
        objects.append(f"<< {entries} >>")
        trailer = f"/Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< {trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_text_layer_title_and_date_from_its_metadata(tmp_path: Path) -> None:
    pdf = make_pdf(
        [
            ["Harbor Authority press release", "The harbor reopened on Friday (after the storm)."],
            ["Ships queued at the mouth of the bay."],
        ],
        {"Title": "Harbor reopens", "CreationDate": "D:20261120093000Z"},
    )
    (tmp_path / "release.pdf").write_bytes(pdf)
    article = one(tmp_path / "release.pdf")
    assert article.title == "Harbor reopens"
    assert article.published is not None and article.published.startswith("2026-11-20T09:30")
    assert "The harbor reopened on Friday (after the storm)." in article.text
    assert "Ships queued at the mouth of the bay." in article.text  # the second page


def test_pdf_without_metadata_takes_its_first_line_and_date_line(tmp_path: Path) -> None:
    pdf = make_pdf([["Harbor reopens", "Published on 2026-11-20", "Ships returned on Friday."]])
    (tmp_path / "release.pdf").write_bytes(pdf)
    article = one(tmp_path / "release.pdf")
    assert (article.title, article.published) == ("Harbor reopens", "2026-11-20")
    assert article.text == "Ships returned on Friday."


def test_scanned_pdf_is_named_not_an_empty_article(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(make_pdf([[], []], {"Title": "Scanned letter"}))
    fail = failure(tmp_path / "scan.pdf")
    assert fail.where == str(tmp_path / "scan.pdf")
    assert "no text layer" in fail.reason and "OCR" in fail.reason


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n", b"not a pdf at all", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog"],
)
def test_corrupt_pdf_is_named(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "bad.pdf").write_bytes(data)
    fail = failure(tmp_path / "bad.pdf")
    assert fail.where == str(tmp_path / "bad.pdf") and "PDF" in fail.reason


def test_cut_pdf_is_named(tmp_path: Path) -> None:
    pdf = make_pdf([["Harbor reopens", "Ships returned."]])
    (tmp_path / "cut.pdf").write_bytes(pdf[: len(pdf) // 3])
    items = list(read_paths([tmp_path / "cut.pdf"], max_bytes=MB))
    # pypdf may still find the page in a cut file; either way, no traceback and no empty text.
    assert len(items) == 1
    assert isinstance(items[0], ReadFailure) or items[0].text.strip()


# --- Word (.docx) ------------------------------------------------------------------------------


def make_docx(
    paragraphs: list[str], *, title: str = "", table: list[list[str]] | None = None
) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_paragraphs_table_title_and_date(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import docx

    data = make_docx(
        ["Harbor reopens", "", "The harbor reopened on Friday.", "Ships queued at the bay."],
        table=[["Berth", "Ships"], ["North", "12"]],
    )
    document = docx.Document(io.BytesIO(data))
    document.core_properties.created = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    document.save(tmp_path / "release.docx")
    article = one(tmp_path / "release.docx")
    assert article.title == "Harbor reopens"
    assert article.published is not None and article.published.startswith("2026-11-20T09:30")
    assert article.text == (
        "The harbor reopened on Friday.\nShips queued at the bay.\nBerth | Ships\nNorth | 12"
    )


def test_docx_title_from_its_properties(tmp_path: Path) -> None:
    data = make_docx(["Harbor reopens", "Ships returned."], title="Harbor reopens")
    (tmp_path / "a.docx").write_bytes(data)
    article = one(tmp_path / "a.docx")
    # The title repeated as the first paragraph is not text; python-docx's blank template's
    # 2013 creation date is no publish date.
    assert (article.title, article.text, article.published) == (
        "Harbor reopens",
        "Ships returned.",
        None,
    )


def test_corrupt_or_empty_docx_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "cut.docx").write_bytes(make_docx(["Title", "Body."])[:500])
    (tmp_path / "empty.docx").write_bytes(make_docx([]))
    articles, failures = read(tmp_path)
    assert articles == []
    reasons = {Path(f.where).name: f.reason for f in failures}
    assert "not a readable .docx" in reasons["bad.docx"]
    assert "not a readable .docx" in reasons["cut.docx"]
    assert "no text" in reasons["empty.docx"]


# --- text encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_text_with_a_byte_order_mark_is_read(tmp_path: Path, codec: str) -> None:
    import codecs

    text = "Bandar dibuka\nKapal kembali ke pelabuhan — 180 mm hujan.\n"
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    (tmp_path / "a.txt").write_bytes(bom + text.encode(codec))
    article = one(tmp_path / "a.txt")
    assert (article.title, article.text) == (
        "Bandar dibuka",
        "Kapal kembali ke pelabuhan — 180 mm hujan.",
    )


def test_nul_bytes_without_a_mark_stay_binary_and_bad_utf16_is_named(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"Title\n\x00\x01\x02 body")
    (tmp_path / "odd.txt").write_bytes(b"\xff\xfe" + "Title\nBody\n".encode("utf-16-le") + b"\x00")
    (tmp_path / "nul.txt").write_bytes(b"\xff\xfe" + "Title\x00Body\n".encode("utf-16-le"))
    _, failures = read(tmp_path)
    reasons = {Path(f.where.split(":")[0]).name: f.reason for f in failures}
    assert "binary" in reasons["bin.txt"]
    assert "invalid UTF-16" in reasons["odd.txt"]
    assert "binary" in reasons["nul.txt"]


# --- folders: what is passed over --------------------------------------------------------------


def test_files_of_other_types_in_a_folder_are_passed_over_by_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Title\nBody.\n")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    (tmp_path / "photo.JPG").write_bytes(b"\xff\xd8")
    (tmp_path / "README").write_text("no suffix")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")  # hidden: ignored, not passed over
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_bytes(b"\x00")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pdf").write_bytes(b"%PDF")
    (tmp_path / "sub" / "notes.odt").write_bytes(b"PK")
    passed: list[Path] = []
    found = list(find_files([tmp_path], passed))
    assert found == [tmp_path / "a.txt", tmp_path / "sub" / "b.pdf"]
    assert passed == [
        tmp_path / "README",
        tmp_path / "photo.JPG",
        tmp_path / "sheet.xlsx",
        tmp_path / "sub" / "notes.odt",
    ]
    assert list(find_files([tmp_path])) == found  # the list is optional


# --- URLs of schemes other than http(s) --------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://files.example/news.txt", "s3://bucket/news.jsonl", "SFTP://h/x"]
)
def test_url_of_another_scheme_is_named_unsupported(url: str) -> None:
    # As `qa ingest` hands it on: a Path, which collapses 'ftp://' to 'ftp:/'.
    (fail,) = list(read_paths([Path(url)], max_bytes=MB))
    assert isinstance(fail, ReadFailure)
    scheme = url.split(":")[0].lower()
    assert fail.where == scheme + url[len(scheme) :]
    assert f"{scheme}:// URLs are not supported" in fail.reason
    assert "no such file" not in fail.reason


def test_file_url_is_the_local_path(tmp_path: Path) -> None:
    (tmp_path / "my news").mkdir()
    (tmp_path / "my news" / "a.txt").write_text("Harbor reopens\nShips returned.\n")
    url = (tmp_path / "my news").as_uri()  # file:///.../my%20news
    (article,) = list(read_paths([Path(url)], max_bytes=MB))
    assert isinstance(article, Article) and article.title == "Harbor reopens"
    (missing,) = list(read_paths([Path((tmp_path / "gone.txt").as_uri())], max_bytes=MB))
    assert isinstance(missing, ReadFailure) and missing.where == str(tmp_path / "gone.txt")
    assert "no such file" in missing.reason


def test_is_url_ignores_case() -> None:
    from index.feeds import is_url

    assert is_url("HTTPS://news.example/a") and is_url("http://x")
    assert not is_url("ftp://x") and not is_url("notes/http.txt")


def test_qa_ingest_names_a_damaged_pdf_without_pypdf_notes(tmp_path: Path) -> None:
    """The reader's one line says what is wrong; pypdf's own log lines ('EOF marker not
    found') are kept for -v. A real process: pytest's log capture would hide them."""
    import os
    import subprocess
    import sys

    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "ingest", str(tmp_path / "bad.pdf"), "--index",
         str(tmp_path / "i")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {tmp_path / 'bad.pdf'}: not a readable PDF")
    assert "pypdf" not in proc.stderr and "WARNING" not in proc.stderr
