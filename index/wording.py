"""How a count reads in a message: '1 article', '2 articles', '1,204 chunks'.

In index/ so that every layer's messages share it (qa and bot import it too).
"""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`n` and the noun, plural unless n is 1 (`nouns` where adding 's' is wrong: 'stories')."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"
