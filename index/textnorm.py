"""Folding text for keyword search, so that spelling variants meet."""

from __future__ import annotations

import re
import unicodedata

# Arabic-script letters that Persian writes differently, and marks that do not change a word.
_FOLD = str.maketrans(
    {
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
        "\u0640": None,  # tatweel
        "\u200c": " ",  # zero-width non-joiner separates the parts of a word
        "\u200d": None,
        "\u200b": " ",
        "\u00ad": None,  # soft hyphen
    }
)
_MARKS = re.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED]")  # harakat and Quranic marks
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TOKEN = re.compile(r"\w+")


def fold(text: str) -> str:
    """NFKC, case-folded, Arabic/Persian variants unified, joiners turned into spaces.

    The store indexes folded text and folds every query the same way. Changing this
    function changes the index format (FORMAT_VERSION in index.store).
    """
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).translate(_DIGITS)
    return _MARKS.sub("", text).casefold()


def terms(text: str) -> list[str]:
    """The folded words of `text`; Persian punctuation (؟ ، ۔ ؛) separates like any other."""
    return _TOKEN.findall(fold(text))
