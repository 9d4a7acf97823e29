"""SQuAD-format question sets as articles and questions, and the seeded left-out split."""

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
    """One question of the set; `answers` are the gold texts (empty when impossible)."""

    id: str
    article_id: str
    text: str
    answers: tuple[str, ...]
    impossible: bool = False


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
                article_id=articles[title].id,
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
