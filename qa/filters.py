"""Date and source filters written in the question, parsed without a language model.

    "Why won't South Korea arm Ukraine? since:2023-01 source:ava"
    "What did NATO say last week?"      "Floods in 2022"      "since March 2023"

Each phrase found is removed from the question and turned into a `Filters`, which retrieval
applies inside its search; `describe()` shows the user what was applied.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from index.errors import QAError
from index.records import Scope

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d{2}"
# A point in time a phrase can name: "2023", "March 2023", "5 March 2023", "2023-03-05"
_WHEN = (
    rf"(?:\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?|(?:\d{{1,2}}\s+)?(?:{_MONTH})\.?,?\s+{_YEAR}"
    rf"|(?:{_MONTH})\.?\s+\d{{1,2}},?\s+{_YEAR}|{_YEAR})"
)


# Shown with every date that cannot be read: what can be written instead.
DATE_EXAMPLES = (
    "write a date such as 2023, 2023-03, 2023-03-05, March 2023 or 5 March 2023, "
    "or a phrase such as today, yesterday, last week, this month or past 30 days"
)


class FilterError(QAError):
    """A filter in the question or a flag could not be understood, or rules out everything."""


@dataclass(frozen=True)
class Filters:
    """Inclusive ISO date bounds and a source name; None means no limit."""

    since: date | None = None
    until: date | None = None
    source: str | None = None
    # "recently", "lately": no limit, but newer articles favoured (as --recent does).
    recent: bool = False
    # The words of the question that were read as filters ("last week", "source:ava"), as
    # written; None when the filters came from flags alone. Not a limit itself.
    phrase: str | None = None

    def to_dict(self) -> dict[str, str | bool | None]:
        """The JSON `filters` object: ISO dates, the source, the phrase (None: not given)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "source": self.source,
            "recent": self.recent,
            "phrase": self.phrase,
        }

    @property
    def empty(self) -> bool:
        return self.since is None and self.until is None and self.source is None

    def describe(self) -> str:
        """'since 2023-03-01, until 2023-03-31, source ava' (empty when there is none)."""
        parts = []
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        if self.source:
            parts.append(f"source {self.source}")
        return ", ".join(parts)

    def scope(self) -> Scope:
        """The same limits as the store searches with them."""
        return Scope(
            since=self.since.isoformat() if self.since else None,
            until=self.until.isoformat() if self.until else None,
            source=self.source,
        )

    def check(self) -> Filters:
        """These filters, or FilterError when their dates leave no day between them."""
        if self.since and self.until and self.since > self.until:
            raise FilterError(
                f"since {self.since.isoformat()} is after until {self.until.isoformat()}, so "
                "no article can match; swap the two dates"
            )
        return self

    def ending_by(self, day: date | None) -> Filters:
        """These filters with nothing after `day` (None: unchanged): the archive as it stood."""
        if day is None or (self.until is not None and self.until <= day):
            return self
        return replace(self, until=day)

    def merge(self, other: Filters) -> Filters:
        """`other`'s bounds where it has them (flags win over phrases)."""
        return Filters(
            since=other.since or self.since,
            until=other.until or self.until,
            source=other.source or self.source,
            recent=other.recent or self.recent,
        )


def span(text: str) -> tuple[date, date]:
    """The first and last day named by '2023', '2023-03', 'March 2023', '5 March 2023'."""
    t = text.strip().lower().rstrip(",.")
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", t):
        y, mo = int(m[1]), int(m[2])
        if m[3]:
            d = _day(y, mo, int(m[3]), text)
            return d, d
        return _month(y, mo, text)
    if re.fullmatch(_YEAR, t):
        return date(int(t), 1, 1), date(int(t), 12, 31)
    if m := re.fullmatch(rf"(?:(\d{{1,2}})\s+)?({_MONTH})\.?,?\s+({_YEAR})", t):
        y, mo = int(m[3]), MONTHS[m[2]]
        if m[1]:
            d = _day(y, mo, int(m[1]), text)
            return d, d
        return _month(y, mo, text)
    if m := re.fullmatch(rf"({_MONTH})\.?\s+(\d{{1,2}}),?\s+({_YEAR})", t):
        d = _day(int(m[3]), MONTHS[m[1]], int(m[2]), text)
        return d, d
    raise FilterError(f"{text!r} is not a date; {DATE_EXAMPLES}")


def bounds(text: str, today: date) -> tuple[date, date]:
    """The first and last day a flag or a `since:` key names: a date (`span`) or a phrase
    relative to `today` ('yesterday', 'last week', 'past 3 days'), as questions take them."""
    phrase = " ".join(text.lower().split())
    if re.fullmatch(_RELATIVE_PHRASE, phrase):
        return relative(phrase, today)
    return span(text)


def _spans(*texts: str) -> list[tuple[date, date]] | None:
    """The spans of dates written in plain words, or None when one of them is no date."""
    try:
        return [span(t) for t in texts]
    except FilterError:
        return None


def _day(y: int, mo: int, d: int, text: str) -> date:
    try:
        return date(y, mo, d)
    except ValueError:
        raise FilterError(f"{text!r} is not a date; {DATE_EXAMPLES}") from None


def _month(y: int, mo: int, text: str) -> tuple[date, date]:
    if not 1 <= mo <= 12:
        raise FilterError(f"{text!r}: there is no month {mo}; {DATE_EXAMPLES}")
    return date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])


def relative(phrase: str, today: date) -> tuple[date, date]:
    """'last week', 'this month', 'past 3 days', 'yesterday'... as (since, until): 'this
    week' and 'past week' are the seven days before today and today, 'last week' the two
    weeks before today (it covers the calendar week before, whatever the weekday); 'this'
    and 'last' month or year are calendar ones ('this' up to today), 'past' ones 30 or 365
    days back."""
    p = phrase.lower().split()
    if p == ["today"]:
        return today, today
    if p == ["yesterday"]:
        return today - timedelta(days=1), today - timedelta(days=1)
    if len(p) == 3 and p[1].isdigit():  # last|past N days|weeks|months|years
        n = int(p[1])
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[p[2].rstrip("s")]
        return today - timedelta(days=n * days), today
    which, unit = p
    if unit == "week":
        # As people mean it: "this week" is the last seven days (on a Monday, last Monday
        # on), not since Monday; "last week" any day of the calendar week before, whatever
        # weekday it is said on.
        if which in ("this", "past"):
            return today - timedelta(days=7), today
        return today - timedelta(days=14), today - timedelta(days=1)
    if which == "past":  # the past month, the past year: that long back from today
        return today - timedelta(days=30 if unit == "month" else 365), today
    if unit == "month":
        first = today.replace(day=1)
        if which == "this":
            return first, today
        before = first - timedelta(days=1)
        return _month(before.year, before.month, phrase)
    if which == "this":
        return date(today.year, 1, 1), today
    return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)


_KEY = re.compile(r"(?<!\S)(since|until|before|after|from|to|source):(\S+)", re.I)
# A point in time relative to today: "yesterday", "last week", "past 10 days"
_RELATIVE_PHRASE = (
    r"today|yesterday|(?:this|last|past)\s+(?:week|month|year)"
    r"|(?:last|past)\s+\d{1,4}\s+(?:days?|weeks?|months?|years?)"
)
_RELATIVE = re.compile(
    rf"\b(?:(?:in|during|over|from)\s+)?(?:the\s+)?({_RELATIVE_PHRASE})\b",
    re.I,
)
# Words that ask for the newest coverage without naming a span: favoured, not filtered.
_RECENTLY = re.compile(r"\b(?:recently|lately|of late|in recent (?:days|weeks))\b", re.I)
_BETWEEN = re.compile(rf"\bbetween\s+({_WHEN})\s+and\s+({_WHEN})\b", re.I)
_BOUND = re.compile(rf"\b(since|after|from|before|until|till|in|during)\s+({_WHEN})\b", re.I)


def has_keys(question: str) -> bool:
    """Whether the question holds filter syntax (since:, until:, source:...), not only words."""
    return _KEY.search(question) is not None


def parse(question: str, today: date) -> tuple[str, Filters]:
    """The question without its filter phrases, and the filters they name."""
    f = Filters()
    text = question
    for m in list(_KEY.finditer(text)):
        key, value = m[1].lower(), m[2].rstrip(",.;?!")
        if key == "source":
            f = replace(f, source=value)
        elif key in ("since", "after", "from"):
            first, last = bounds(value, today)
            f = replace(f, since=first if key != "after" else last + timedelta(days=1))
        else:
            first, last = bounds(value, today)
            f = replace(f, until=last if key != "before" else first - timedelta(days=1))
    text = _KEY.sub(" ", text)
    if (between := _BETWEEN.search(text)) and (spans := _spans(between[1], between[2])):
        f = replace(f, since=spans[0][0], until=spans[1][1])
        text = text[: between.start()] + " " + text[between.end() :]
    kept = []  # a phrase that names no real date stays words of the question
    for m in list(_BOUND.finditer(text)):
        word = m[1].lower()
        if not (found := _spans(m[2])):
            kept.append(m.group())
            continue
        first, last = found[0]
        if word in ("since", "from"):
            f = replace(f, since=first)
        elif word == "after":
            f = replace(f, since=last + timedelta(days=1))
        elif word == "before":
            f = replace(f, until=first - timedelta(days=1))
        elif word in ("until", "till"):
            f = replace(f, until=last)
        else:  # in, during
            f = replace(f, since=first, until=last)
    text = _BOUND.sub(lambda m: m.group() if m.group() in kept else " ", text)
    if rel := _RELATIVE.search(text):
        since, until = relative(" ".join(rel[1].split()), today)
        f = replace(f, since=since, until=until)
        text = _RELATIVE.sub(" ", text, count=1)
    elif _RECENTLY.search(text):
        f = replace(f, recent=True)
        text = _RECENTLY.sub(" ", text, count=1)
    cleaned = re.sub(r"\s+([?.!,;:])", r"\1", " ".join(text.split())).strip(" ,;")
    return (cleaned or question.strip()), f


def written_phrase(question: str, cleaned: str) -> str | None:
    """The words `parse` took out of `question` to leave `cleaned`, as written (runs of
    words joined by ', '); None when it took none."""
    said, kept = question.split(), cleaned.split()
    bare = [w.strip(",.;:?!").lower() for w in said]
    matcher = difflib.SequenceMatcher(None, bare, [w.strip(",.;:?!").lower() for w in kept])
    runs = [
        " ".join(said[i1:i2]).strip(",.;:?! ")
        for op, i1, i2, _, _ in matcher.get_opcodes()
        if op in ("delete", "replace")
    ]
    runs = [r for r in runs if r]
    return ", ".join(runs) or None
