"""What kind of thing a question asks for, and whether a sentence holds one.

"When did ..." wants a date, "How many ..." a number, "Who ...", "Where ...", "Which ..."
and "What company ..." a name the question does not already say. A sentence that only
restates the question ("Doctor Who has appeared on stage numerous times.") holds none, the
one that answers it ("In the early 1970s, Trevor Martin played the role ...") does.
English questions only; any other gets no expectation, so nothing changes for them.
"""

from __future__ import annotations

import re

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\b|\bcentur", re.I)
_NUMBERS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    "fifty|hundred|thousand|million|billion|dozen|several|half"
)
_NUMBER = re.compile(rf"\d|\b({_NUMBERS})\b", re.I)
# Kinds of things known by their names, as "What ... ?" asks for them
_NAMED = (
    "team|company|country|state|city|town|group|organi[sz]ation|party|film|movie|show|"
    "series|band|brand|airline|bank|agency|person|player|singer|actor|actress|chain|network|"
    "app|carmaker|automaker|university|river|island|nation|province|region|club|league|"
    "court|newspaper|magazine|book|album|song|award|prize|event|storm|hurricane|species"
)
_NAME = re.compile(r"\b[A-Z][\w'-]+")
_WORD = re.compile(r"\w+")

_KINDS = (
    (
        "date",
        re.compile(
            r"^when\b|\bwhen (did|was|were|is|are|does|do|will)\b|"
            r"\b(what|which) (year|decade|century|date|month|day)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much|long|old|far|large|big|tall|high)\b|"
            r"\bwhat (percentage|percent|number|amount|proportion)\b",
            re.I,
        ),
    ),
    (
        "name",
        re.compile(
            r"^(who|whom|whose|where)\b|\b(who|whom|whose|where) "
            r"(is|was|were|are|did|does|do|has|have)\b|"
            # "Which carmaker...", "...to which country?", "What company...": a thing
            # with a name (which year or date were taken above)
            rf"\bwhich\b|\bwhat ({_NAMED})\b",
            re.I,
        ),
    ),
)


def expected(question: str) -> str | None:
    """'date', 'number', 'name', or None when the question's words do not say."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def words_of(question: str) -> frozenset[str]:
    """The question's words, lower-cased: what `holds` compares a sentence's names with."""
    return frozenset(w.lower() for w in _WORD.findall(question))


def holds(kind: str | None, sentence: str, asked: frozenset[str]) -> bool:
    """Whether `sentence` holds a thing of that kind (a name: one not among `asked`, the
    question's `words_of`)."""
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "name":
        # Not the sentence's first word, which is capitalised whatever it is.
        return any(m.group().lower() not in asked for m in _NAME.finditer(sentence, 1))
    return False
