"""Question sets as articles and questions, and the seeded left-out split.

Two formats: SQuAD (v1.1/v2.0 JSON; each title one article, its paragraphs in order, each
question's gold the article of its paragraph) and news (`load_news`): a JSON Lines file of
articles, as `qa ingest` reads it, and one of questions naming their gold articles and the
date each was asked.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from index.errors import QAError
from index.records import Article
from index.textnorm import fold

PARAGRAPH_BREAK = "\n\n"  # between a title's paragraphs in its article text


class EvalFileError(QAError):
    """The evaluation file is not SQuAD-format JSON."""


@dataclass(frozen=True)
class EvalQuestion:
    """One question of the set; `answers` are the gold texts (empty when impossible),
    `gold_ids` the articles it was written from, `as_of` the ISO date it was asked."""

    id: str
    gold_ids: tuple[str, ...]
    text: str
    answers: tuple[str, ...]
    impossible: bool = False
    as_of: str | None = None

    @property
    def article_id(self) -> str:
        """The first gold article, to name in messages."""
        return self.gold_ids[0] if self.gold_ids else ""


@dataclass(frozen=True)
class EvalSet:
    """The articles of a SQuAD file (one per title) and every question on them."""

    name: str
    version: str
    articles: tuple[Article, ...]
    questions: tuple[EvalQuestion, ...]

    @cached_property
    def by_id(self) -> dict[str, Article]:
        return {a.id: a for a in self.articles}


def fold_answer(text: str) -> str:
    """Case, whitespace and script variants folded: how answers and passages are compared."""
    return " ".join(fold(text).split())


def contains_answer(text: str, answers: tuple[str, ...]) -> bool:
    """True when `text` holds one of the gold answers (folded)."""
    folded = fold_answer(text)
    return any(a and a in folded for a in (fold_answer(x) for x in answers))


def load_squad(path: Path) -> EvalSet:
    """Read a SQuAD v1.1 or v2.0 file; a title seen twice is one article, paragraphs in order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalFileError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalFileError(f"{path} is not UTF-8 JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise EvalFileError(f"{path} has no top-level 'data' list; expected SQuAD format")
    paragraphs: dict[str, list[str]] = {}
    pending: list[tuple[str, int, dict[str, Any]]] = []  # (title, paragraph index, qa)
    for n, entry in enumerate(data["data"]):
        title = _field(entry, "title", str, path, f"data[{n}]")
        paras = _field(entry, "paragraphs", list, path, f"data[{n}]")
        texts = paragraphs.setdefault(title, [])
        for m, para in enumerate(paras):
            where = f"data[{n}].paragraphs[{m}]"
            texts.append(_field(para, "context", str, path, where))
            for qa in _field(para, "qas", list, path, where):
                pending.append((title, len(texts) - 1, qa))
    articles = {
        title: Article(
            id=f"squad:{title}",
            title=title.replace("_", " "),
            text=PARAGRAPH_BREAK.join(p.strip() for p in texts),
            source=path.name,
        )
        for title, texts in paragraphs.items()
        if any(p.strip() for p in texts)
    }
    questions = []
    for n, (title, _, qa) in enumerate(pending):
        if title not in articles:
            continue
        impossible = bool(qa.get("is_impossible", False))
        answers = tuple(
            str(a["text"]) for a in qa.get("answers") or [] if isinstance(a, dict) and "text" in a
        )
        if not impossible and not answers:
            impossible = True  # no gold text to look for: it can only be judged as unanswerable
        questions.append(
            EvalQuestion(
                id=str(qa.get("id", n)),
                gold_ids=(articles[title].id,),
                text=str(qa.get("question", "")),
                answers=() if impossible else answers,
                impossible=impossible,
            )
        )
    return EvalSet(
        name=path.name,
        version=str(data.get("version", "")),
        articles=tuple(articles.values()),
        questions=tuple(q for q in questions if q.text.strip()),
    )


def load_news(questions_path: Path, articles_path: Path) -> EvalSet:
    """A news set: articles as `qa ingest` reads a JSON Lines file (id, url, title,
    published, text, ...), and questions, one JSON object a line: `question`, `answer` (a
    text or a list of them), `gold_ids` (the ids of the articles it was written from),
    optionally `id` and `as_of` (the date it was asked, read as `qa ask --as-of` reads it).

    A line that cannot be used is named with its file and line; an article file with any
    such line is refused whole, so the index is never built from part of it.
    """
    from index.formats.jsonl import parse_jsonl
    from index.records import ReadFailure

    raw = _read_text(articles_path)
    articles: dict[str, Article] = {}
    for item in parse_jsonl(raw, path=str(articles_path)):
        if isinstance(item, ReadFailure):
            raise EvalFileError(str(item))
        articles.setdefault(item.id, item)
    questions = []
    for n, line in enumerate(_read_text(questions_path).split("\n"), 1):
        if not line.strip():
            continue
        where = f"{questions_path}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalFileError(f"{where}: invalid JSON: {e.msg}") from None
        questions.append(_news_question(record, where, n, articles))
    return EvalSet(
        name=questions_path.name,
        version="news",
        articles=tuple(articles.values()),
        questions=tuple(questions),
    )


def _news_question(record: Any, where: str, n: int, articles: dict[str, Article]) -> EvalQuestion:
    if not isinstance(record, dict):
        raise EvalFileError(f"{where}: expected an object")
    text, answer, gold = record.get("question"), record.get("answer"), record.get("gold_ids")
    if not isinstance(text, str) or not text.strip():
        raise EvalFileError(f"{where}: no 'question' text")
    answers = (answer,) if isinstance(answer, str) else answer
    if not isinstance(answers, list | tuple) or not all(isinstance(a, str) for a in answers):
        raise EvalFileError(f"{where}: 'answer' must be a text or a list of texts")
    if not isinstance(gold, list) or not gold or not all(isinstance(g, str) for g in gold):
        raise EvalFileError(f"{where}: 'gold_ids' must be a list of article ids")
    missing = [g for g in gold if g not in articles]
    if missing:
        raise EvalFileError(f"{where}: gold article {missing[0]!r} is not in the articles")
    as_of = record.get("as_of")
    if as_of is not None:
        from index.dates import to_iso

        as_of = to_iso(str(as_of)) if isinstance(as_of, str) else None
        if as_of is None:
            raise EvalFileError(f"{where}: 'as_of' is not a date: {record.get('as_of')!r}")
    return EvalQuestion(
        id=str(record.get("id", n)),
        gold_ids=tuple(gold),
        text=text.strip(),
        answers=tuple(a for a in answers if a.strip()),
        impossible=not any(a.strip() for a in answers),
        as_of=as_of[:10] if as_of else None,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise EvalFileError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise EvalFileError(f"{path} is not UTF-8: {e}") from None


def leave_out(evalset: EvalSet, fraction: float, seed: int) -> frozenset[str]:
    """The ids of round(fraction * articles) articles, drawn reproducibly from `seed`."""
    if not 0.0 <= fraction < 1.0:
        raise EvalFileError(f"--unanswerable must be at least 0 and under 1, got {fraction}")
    ids = sorted(a.id for a in evalset.articles)
    n = round(fraction * len(ids))
    if fraction > 0 and n == 0 and len(ids) > 1:
        n = 1
    return frozenset(random.Random(seed).sample(ids, min(n, len(ids) - 1)))


def _field(obj: Any, key: str, kind: type, path: Path, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise EvalFileError(f"{path}: {where} has no {kind.__name__} '{key}'; expected SQuAD")
    return value
