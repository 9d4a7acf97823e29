"""Readers: each input format, the sample's header, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.records import Article, ReadFailure
from index.sources import read_paths
from tests.conftest import DEMO_DIR

MB = 10**6


def read(*paths: Path) -> tuple[list[Article], list[ReadFailure]]:
    items = list(read_paths(list(paths), max_bytes=MB))
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, ReadFailure)],
    )


def test_sample_header_is_parsed_and_boilerplate_stripped() -> None:
    (article,), failures = read(DEMO_DIR)
    assert failures == []
    assert article.id == "story:264603"
    assert article.title == "NATO asked to strengthen South Korea"
    assert article.published == "2023-01-30T13:46:00"
    assert article.text.startswith("At the same time as the war in Ukraine continues")
    assert article.text.endswith("regional security issues.")
    for furniture in ("Post a comment", "Your Name", "Your Email Address"):
        assert furniture not in article.text


def test_text_without_header_takes_first_line_as_title(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Floods in Kabul\n\nRain fell for days.\nRoads closed.\n")
    (tmp_path / "b.md").write_text("# Markdown title\n\nBody *here*.\n")
    articles, failures = read(tmp_path)
    assert failures == []
    by_title = {a.title: a for a in articles}
    assert by_title["Floods in Kabul"].text == "Rain fell for days.\nRoads closed."
    assert by_title["Floods in Kabul"].published is None
    assert by_title["Floods in Kabul"].id == f"file:{(tmp_path / 'a.txt').resolve()}"
    assert by_title["Markdown title"].text == "Body *here*."


def test_html_main_text_title_date_and_canonical_url(tmp_path: Path) -> None:
    page = """<html><head><title>Dam opens | Example News</title>
    <link rel="canonical" href="https://news.example/dam-opens">
    <meta property="article:published_time" content="2023-03-05T09:30:00Z"></head>
    <body><nav>Home | World | Sport</nav><script>var tracking = 1;</script>
    <article><h1>Dam opens</h1>
    <p>The new dam on the Helmand river opened on Sunday after eight years of work by
    engineers from three countries, officials said at a ceremony.</p>
    <p>Farmers downstream said the water would change the harvest for thousands of families
    who had lost crops to drought in recent years.</p></article>
    <footer>Copyright Example News</footer></body></html>"""
    (tmp_path / "dam.html").write_text(page)
    (article,), failures = read(tmp_path / "dam.html")
    assert failures == []
    assert article.title == "Dam opens"
    assert article.url == "https://news.example/dam-opens"
    assert article.id == "https://news.example/dam-opens"
    assert article.published is not None and article.published.startswith("2023-03-05")
    assert "Helmand river" in article.text and "Farmers downstream" in article.text
    assert "tracking" not in article.text and "Copyright" not in article.text


def test_json_record_list_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(
        json.dumps(
            {
                "id": 7,
                "title": "T1",
                "content": "Body one.",
                "date": "2022-05-01",
                "url": "https://x/1",
                "source": "ava",
                "lang": "en",
            }
        )
    )
    (tmp_path / "many.json").write_text(
        json.dumps(
            [{"text": "Body two.", "title": "T2"}, {"body": "Body three.", "url": "https://x/3"}]
        )
    )
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"text": "Body four.", "published": "Monday 30 January 2023 - 13:46"}) + "\n"
        "\n" + json.dumps({"text": "Body five.", "id": "five"}) + "\n"
    )
    articles, failures = read(tmp_path)
    assert failures == []
    by_id = {a.id: a for a in articles}
    assert by_id["7"].title == "T1" and by_id["7"].published == "2022-05-01"
    assert by_id["7"].source == "ava" and by_id["7"].lang == "en"
    assert by_id[f"file:{(tmp_path / 'many.json').resolve()}#1"].text == "Body two."
    assert by_id["https://x/3"].text == "Body three."
    four = next(a for a in articles if a.text == "Body four.")
    assert four.published == "2023-01-30T13:46:00"
    assert four.title == "Body four."  # no title: the first line stands in
    assert by_id["five"].text == "Body five."


def test_bad_inputs_are_named_and_good_files_still_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good title\nGood body.\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n ")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin1.txt").write_bytes("Title\nline two\ncaf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"text": "unterminated')
    (tmp_path / "types.json").write_text(
        json.dumps([{"text": 5}, {"title": "no text"}, "a string", {"text": "ok", "url": 3}])
    )
    (tmp_path / "lines.jsonl").write_text(
        json.dumps({"text": "First good line."})
        + "\n{not json}\n"
        + json.dumps({"text": "Third good line."})
        + "\n"
    )
    (tmp_path / "dir.txt").mkdir()  # a folder with a text file's name
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    articles, failures = read(tmp_path)
    texts = sorted(a.text for a in articles)
    assert texts == ["First good line.", "Good body.", "Third good line."]
    messages = [str(f) for f in failures]

    def said(name: str, *words: str) -> bool:
        return any(name in m and all(w in m for w in words) for m in messages)

    assert said("empty.txt", "empty")
    assert said("blank.md", "empty")
    assert said("binary.txt", "binary")
    assert said("latin1.txt:3", "UTF-8")  # names the line of the bad byte
    assert said("broken.json", "invalid JSON")
    assert said("types.json record 1", "'text' must be a string")
    assert said("types.json record 2", "no 'text'")
    assert said("types.json record 3", "expected an object")
    assert said("types.json record 4", "'url' must be a string")
    assert said("lines.jsonl:2", "invalid JSON")
    assert said("dangling.txt", "no such file")


def test_size_limit_refuses_without_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("Title\n" + "word " * 300_000)
    items = list(read_paths([big], max_bytes=MB))
    assert len(items) == 1 and isinstance(items[0], ReadFailure)
    assert "limit" in items[0].reason and "QA_MAX_FILE_MB" in items[0].reason


def test_missing_path_and_unsupported_type(tmp_path: Path) -> None:
    (tmp_path / "notes.xlsx").write_bytes(b"PK")
    (tmp_path / "skip.xlsx").write_bytes(b"PK")
    _, failures = read(tmp_path / "absent", tmp_path / "notes.xlsx")
    assert [f.where for f in failures] == [str(tmp_path / "absent"), str(tmp_path / "notes.xlsx")]
    assert "unsupported file type .xlsx" in failures[1].reason
    assert ".docx" in failures[1].reason and ".pdf" in failures[1].reason
    # Inside a folder, other file types are passed over: no failure (find_files lists them).
    assert read(tmp_path) == ([], [])


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Monday 30 January 2023 - 13:46", "2023-01-30T13:46:00"),
        ("2023-01-30", "2023-01-30"),
        ("30 Jan 2023", "2023-01-30"),
        ("2023-01-30T13:46:00+04:30", "2023-01-30T13:46:00+04:30"),
        ("not a date", None),
        ("", None),
    ],
)
def test_dates_become_iso(raw: str, iso: str | None) -> None:
    from index.dates import to_iso

    assert to_iso(raw) == iso


def test_json_lines_keep_line_separators_inside_strings(tmp_path: Path) -> None:
    """U+2028, U+0085 and form feeds are left raw in strings by JSON writers: records end at
    newlines only (CRLF too)."""
    records = [{"id": "a", "text": "One\u2028two\u0085three\x0cfour."}, {"id": "b", "text": "B."}]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    (tmp_path / "feed.jsonl").write_text("\r\n".join(lines) + "\r\n", newline="")
    articles, failures = read(tmp_path)
    assert failures == []
    assert {a.id: a.text for a in articles} == {"a": "One\u2028two\u0085three\x0cfour.", "b": "B."}
