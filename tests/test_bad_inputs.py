"""A generated corpus of at least 200 malformed inputs beside good files.

Each bad input is named in a failure; every good file is ingested; memory stays bounded.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from index.records import Article, ReadFailure
from index.sources import read_paths
from tests.conftest import ROOT
from tests.test_crash import state

GOOD_TEXT = "Good article {i}\nThe council met on Tuesday {i}. It approved the budget {i}.\n"
NAMES = [
    "خبر فارسی",
    "新闻报道",
    "новости",
    "ニュース",
    "emoji 📰",
    "with space",
    "עברית",
    "ελληνικά",
    "हिन्दी",
    "mixed_ß_é",
]


def build(root: Path) -> tuple[set[str], set[str]]:
    """Write the corpus; returns (names of bad inputs, names of good files)."""
    rng = random.Random(7)
    bad: set[str] = set()
    good: set[str] = set()

    def put(name: str, data: bytes, *, ok: bool = False) -> None:
        (root / name).write_bytes(data)
        (good if ok else bad).add(name)

    for i in range(30):
        put(f"good{i}.txt", GOOD_TEXT.format(i=i).encode(), ok=True)
    for i, name in enumerate(NAMES):
        put(f"{name} {i}.md", GOOD_TEXT.format(i=100 + i).encode(), ok=True)
    for i, ext in enumerate(["txt", "md", "html", "json", "jsonl"] * 4):
        put(f"zero{i}.{ext}", b"")
    for i in range(20):
        put(f"binary{i}.txt", bytes(rng.randrange(256) for _ in range(2000)) + b"\x00")
    for i in range(15):
        text = ("Titre\n" + "Déjà vu à la café, naïve résumé. " * (i + 1)).encode("latin-1")
        put(f"latin1_{i}.txt", text)
    for i in range(15):
        text = (
            "عنوان خبر\n" + "اين يك متن فارسي است كه با كدگذاري ويندوز نوشته شده است. " * (i + 1)
        ).encode("cp1256")
        put(f"cp1256_{i}.md", text)
    for i in range(15):
        whole = f"Title {i}\nA sentence with a multi-byte ending: ناتمام".encode()
        put(f"truncated{i}.txt", whole[:-1])  # cut inside the last (two-byte) character
    for i in range(15):
        put(f"invalid{i}.txt", b"Title\nfine line\n" + b"\xff\xfe bad \xc3\x28" * (i + 1))
    for i in range(10):
        depth = 20_000 * (i + 1)
        put(f"nested{i}.html", b"<html><body>" + b"<div>" * depth + b"</body></html>")
    for i in range(10):
        put(
            f"scripts{i}.html",
            b"<html><head><script>"
            + b"alert(1);" * 5000
            + b"</script></head><body><script>var a = '<p>not text</p>';</script></body></html>",
        )
    wrong_types = [5, None, True, [1, 2], {"a": 1}, 3.5]
    for i, value in enumerate(wrong_types * 3):
        put(f"types{i}.json", json.dumps({"title": "T", "text": value}).encode())
    for i in range(8):
        put(f"deep{i}.json", b"[" * (50_000 + i) + b"]" * (50_000 + i))
    for i in range(10):
        put(f"notarecord{i}.json", json.dumps(["just", "strings", i]).encode())
    for i in range(10):
        lines = [
            json.dumps({"id": f"jl{i}-good", "text": f"Line one of record {i}."}),
            "{broken json",
            json.dumps({"text": 42}),
            "[" * 30_000,
        ]
        name = f"mixed{i}.jsonl"
        put(name, "\n".join(lines).encode())
        good.add(name)  # its good line must be ingested, its bad lines named
    for i in range(10):
        put(f"emptytext{i}.json", json.dumps({"title": "T", "text": " " * i}).encode())
        put(f"chrome{i}.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    for i in range(5):
        put(f"header_only{i}.txt", b"Publish dateMonday 30 January 2023 - 13:46\nStory Code : 1\n")
    for i in range(5):
        a, b = root / f"loop{i}a.txt", root / f"loop{i}b.txt"
        a.symlink_to(b)
        b.symlink_to(a)
        bad |= {a.name, b.name}
    for i in range(5):
        os.mkfifo(root / f"fifo{i}.txt")
        (root / f"folder{i}.md").mkdir()
        bad |= {f"fifo{i}.txt"}
    with (root / "huge.txt").open("wb") as f:
        f.write(b"Huge title\n" + b"word " * 1000)
        f.truncate(200 * 1024 * 1024)  # 200 MB; sparse, so writing it costs nothing
    bad.add("huge.txt")
    return bad, good


def test_malformed_corpus(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    bad, good = build(root)
    assert len(bad) >= 200
    items = list(read_paths([root], max_bytes=50 * 1024 * 1024))
    failures = [i for i in items if isinstance(i, ReadFailure)]
    articles = [i for i in items if isinstance(i, Article)]
    named = {Path(f.where.split(":")[0].split(" record ")[0]).name for f in failures}
    assert bad <= named, f"not named: {sorted(bad - named)}"
    read_from = {Path(a.path or "").name for a in articles}
    assert good <= read_from, f"not ingested: {sorted(good - read_from)}"
    for f in failures:
        assert f.reason and "\n" not in str(f)
    huge = next(f for f in failures if f.where.endswith("huge.txt"))
    assert "limit" in huge.reason
    print(
        f"{len(bad)} malformed inputs named, {len(good)} good files read, "
        f"{len(failures)} failure lines"
    )


def test_ingest_of_the_corpus_stays_small_in_memory(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    _bad, good = build(root)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crash_driver", "ingest", str(tmp_path / "index"), str(root)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # The child's own peak, as it read it: a rusage figure would include what the child was
    # before it ran Python (a fork of this process, as large as the tests loaded before).
    peak_mb = int(re.search(r"peak memory (\d+) kB", proc.stderr)[1]) / 1024  # type: ignore[index]
    assert peak_mb < 1024, f"peak {peak_mb:.0f} MB: a 200 MB file must not be read whole"
    articles, _, _ = state(tmp_path / "index")
    assert len(articles) == len(good)
    print(f"ingest peak RSS {peak_mb:.0f} MB")
