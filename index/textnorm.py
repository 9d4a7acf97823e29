"""Folding text for keyword search, so that spelling variants meet."""

from __future__ import annotations

import re
import unicodedata

# Arabic-script letters that Persian writes differently, marks and joiners that do not change
# a word, and Persian and Arabic digits: each replaced by what it folds to.
_VARIANTS = {
    "ي": "ی",  # Arabic yeh -> Persian yeh
    "ى": "ی",  # alef maksura
    "ك": "ک",  # Arabic kaf -> Persian keheh
    "ة": "ه",  # teh marbuta
    "ۀ": "ه",
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ؤ": "و",
    "ئ": "ی",
    "\u0640": "",  # tatweel
    "\u200c": " ",  # zero-width non-joiner separates the parts of a word
    "\u200d": "",
    "\u200b": " ",
    "\u00ad": "",  # soft hyphen
    **dict(zip("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789", strict=True)),
}
# One regular expression finds them: str.translate with a table of non-ASCII characters looks
# up every character of the text, 9x slower on news articles (benchmarks/ingest profile).
_VARIANT = re.compile("[" + "".join(map(re.escape, _VARIANTS)) + "]")
_MARKS = re.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED]")  # harakat and Quranic marks
_TOKEN = re.compile(r"\w+")


def fold(text: str) -> str:
    """NFKC, case-folded, Arabic/Persian variants unified, joiners turned into spaces.

    The store indexes folded text and folds every query the same way. Changing this
    function changes the index format (FORMAT_VERSION in index.store).
    """
    text = _VARIANT.sub(_variant, unicodedata.normalize("NFKC", text))
    return _MARKS.sub("", text).casefold()


def _variant(match: re.Match[str]) -> str:
    return _VARIANTS[match.group()]


def terms(text: str) -> list[str]:
    """The folded words of `text`; Persian punctuation (؟ ، ۔ ؛) separates like any other."""
    return words(fold(text))


def words(folded: str) -> list[str]:
    """The words of text already folded (`terms` of the unfolded text)."""
    return _TOKEN.findall(folded)
