"""A news development set from RealTimeQA: articles and questions for `qa eval`'s news format.

    git clone https://github.com/realtimeqa/realtimeqa_public
    python -m benchmarks.realtimeqa realtimeqa_public --out ~/newsqa-dev [--years 2023,2024]

RealTimeQA (Kasai et al.) publishes each week's news quiz questions (`*_qa.jsonl`: the
question, four choices, the answer's index, the date it was asked) with the news articles a
web search returned for each question (`*_gcs.jsonl`: URL, title, text, publish date). This
script writes, from `past/2023` onwards (never `past/2022`):

  articles.jsonl    every search result once, by URL: id (the URL), url, title, published,
                    text; `qa ingest` reads it
  questions.jsonl   question, answer (the right choice's text), as_of (the date it was
                    asked), gold_ids (below), week

A question's gold articles are the search results for it published in the WINDOW days up to
its date whose text holds the answer: the week's coverage the quiz was written from, as far
as the data shows it (the quiz's own source article is rarely among the results). Questions
without one are left out and counted; so are those whose answer is a choice that cannot be
found in text ("All of the above", "None of these").

The data has no stated licence: keep it outside the repository; no test depends on it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

WINDOW = 10  # days before a question's date that its gold coverage may be published
FIRST_YEAR = 2023  # past/2022 is not used
UNFINDABLE = re.compile(r"^(all|none|both|neither) of (the|these|them)\b|^all of the above", re.I)


def weeks(repo: Path, years: list[int]) -> Iterator[tuple[str, str, str]]:
    """(week, its qa.jsonl text, its gcs.jsonl text) for every week of `years`, in order.

    `repo` is a clone (its files on disk) or a bare git directory (read with git show)."""
    for year in years:
        folder = repo / "past" / str(year)
        if folder.is_dir():
            names = sorted(p.name for p in folder.glob("*_qa.jsonl"))
            for name in names:
                week = name.split("_")[0]
                gcs = folder / f"{week}_gcs.jsonl"
                if gcs.exists():
                    yield week, (folder / name).read_text(), gcs.read_text()
            continue
        listing = _git(repo, "ls-tree", "--name-only", "HEAD", f"past/{year}/")
        names = sorted(n for n in listing.split() if n.endswith("_qa.jsonl"))
        for name in names:
            week = Path(name).name.split("_")[0]
            gcs = f"past/{year}/{week}_gcs.jsonl"
            if gcs in listing.split():
                yield week, _git(repo, "show", f"HEAD:{name}"), _git(repo, "show", f"HEAD:{gcs}")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(_git_dir(repo)), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.split("\n"):
        if line.strip():
            yield json.loads(line)


def day(text: str | None) -> date | None:
    """'2023/01/05' (or with a time after it) -> date."""
    m = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", text or "")
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def in_window(published: date | None, asked: date | None) -> bool:
    """Published in the WINDOW days up to the day the question was asked."""
    if published is None or asked is None:
        return False
    return timedelta(0) <= asked - published <= timedelta(WINDOW)


def folded(text: str) -> str:
    return " ".join(re.sub(r"[^\w%$.,]+", " ", text.casefold()).split())


def holds(text: str, answer: str) -> bool:
    """The answer, case and punctuation folded, as words of the text."""
    a = folded(answer).strip(" .,")
    return bool(a) and re.search(rf"(?<!\w){re.escape(a)}(?!\w)", folded(text)) is not None


def convert(repo: Path, years: list[int], out: Path) -> Counter[str]:
    """Write articles.jsonl and questions.jsonl into `out`; returns what was counted."""
    counts: Counter[str] = Counter()
    articles: dict[str, dict[str, Any]] = {}
    questions: list[dict[str, Any]] = []
    for week, qa_text, gcs_text in weeks(repo, years):
        counts["weeks"] += 1
        results = {r["question_id"]: r.get("search_result") or [] for r in lines(gcs_text)}
        for q in lines(qa_text):
            counts["questions"] += 1
            asked = day(q.get("question_date")) or day(week)
            try:
                answer = q["choices"][int(q["answer"][0])]
            except (KeyError, IndexError, ValueError, TypeError):
                counts["left out: no answer"] += 1
                continue
            if UNFINDABLE.search(answer.strip()):
                counts["left out: answer not findable in text"] += 1
                continue
            gold = []
            for r in results.get(q["question_id"], []):
                url, text = r.get("url"), r.get("text") or ""
                if not url or not text.strip():
                    continue
                published = day(r.get("publish_date"))
                articles.setdefault(
                    url,
                    {
                        "id": url,
                        "url": url,
                        "title": (r.get("title") or "").strip() or None,
                        "published": published.isoformat() if published else None,
                        "text": text,
                    },
                )
                if in_window(published, asked) and holds(text, answer):
                    gold.append(url)
            if not gold:
                counts["left out: no gold article"] += 1
                continue
            questions.append(
                {
                    "id": q["question_id"],
                    "question": q["question_sentence"],
                    "answer": answer,
                    "as_of": asked.isoformat() if asked else None,
                    "gold_ids": sorted(set(gold)),
                    "week": week,
                    "source": q.get("question_source"),
                }
            )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "articles.jsonl").open("w") as f:
        for a in articles.values():
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    with (out / "questions.jsonl").open("w") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    counts["articles"] = len(articles)
    counts["questions kept"] = len(questions)
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("repo", type=Path, help="a clone of realtimeqa/realtimeqa_public")
    p.add_argument("--out", type=Path, required=True, help="folder for the two JSONL files")
    p.add_argument(
        "--years", default="2023,2024,2025,2026", help="years of past/ to read (from 2023)"
    )
    args = p.parse_args()
    years = sorted({int(y) for y in args.years.split(",") if y.strip()})
    if not years or years[0] < FIRST_YEAR:
        sys.exit(f"--years: {FIRST_YEAR} onwards only (past/2022 is not used)")
    counts = convert(args.repo, years, args.out)
    for key, n in counts.items():
        print(f"{key:40s} {n:>7,}")
    print(f"\nwritten: {args.out / 'articles.jsonl'}, {args.out / 'questions.jsonl'}")


if __name__ == "__main__":
    main()
