"""Telegram HTML: escaped text, tags and links, measured as Telegram counts, packed into messages.

Every message is built from `Fragment`s, which carry the HTML and the plain text side by side,
so the length Telegram counts is known exactly (UTF-16 code units of the text after parsing)
and the plain-text fallback is the same message without markup. Article text only ever enters
through `text()`, which escapes it; tags come only from this module.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MESSAGE_LIMIT = 4096  # characters of a message after entity parsing (UTF-16 code units)
MAX_ENTITIES = 100  # Telegram drops formatting beyond this many entities in one message
NUMBER_RESERVE = 12  # room for "(12/12) " when an answer is split


def tg_len(s: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts two)."""
    return len(s.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Fragment:
    """A piece of a message: its HTML, its plain text, and how many entities it holds.

    `plain` shows a link's URL after its label, so it is never shorter than the text
    Telegram displays for `html`; limits are checked against it.
    """

    html: str = ""
    plain: str = ""
    entities: int = 0

    def __add__(self, other: Fragment) -> Fragment:
        return Fragment(
            self.html + other.html, self.plain + other.plain, self.entities + other.entities
        )

    @property
    def length(self) -> int:
        return tg_len(self.plain)


def text(s: str) -> Fragment:
    """Untrusted text, escaped: `<`, `>` and `&` can never open markup."""
    return Fragment(html.escape(s, quote=False), s)


def join(parts: Sequence[Fragment], sep: str = "") -> Fragment:
    out = Fragment()
    for i, p in enumerate(parts):
        out = out + (text(sep) + p if i else p)
    return out


def _wrap(tag: str, inner: Fragment, attrs: str = "") -> Fragment:
    if not inner.plain:
        return inner  # Telegram rejects or drops empty entities
    return Fragment(f"<{tag}{attrs}>{inner.html}</{tag}>", inner.plain, inner.entities + 1)


def bold(inner: Fragment) -> Fragment:
    return _wrap("b", inner)


def italic(inner: Fragment) -> Fragment:
    return _wrap("i", inner)


def blockquote(inner: Fragment) -> Fragment:
    return _wrap("blockquote", inner)


def safe_url(url: str | None) -> str | None:
    """The URL when Telegram will accept it as a link (http or https with a host), else None."""
    if not url or len(url) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def link(url: str, label: Fragment) -> Fragment:
    """An <a> for a safe URL (see `safe_url`); the label alone otherwise."""
    if safe_url(url) is None or not label.plain:
        return label
    return Fragment(
        f'<a href="{html.escape(url, quote=True)}">{label.html}</a>',
        f"{label.plain} ({url})",
        label.entities + 1,
    )


def pack(blocks: Sequence[Fragment], limit: int = MESSAGE_LIMIT) -> list[Fragment]:
    """Blocks into as few messages as fit, never splitting a block; numbered '(i/n)' if split.

    Each block must fit in `limit - NUMBER_RESERVE` (the block builders ensure it).
    """
    room = limit - NUMBER_RESERVE
    messages: list[list[Fragment]] = []
    size = entities = 0
    for block in blocks:
        sep = 2 if messages and messages[-1] else 0
        if (
            not messages
            or size + sep + block.length > room
            or entities + block.entities > MAX_ENTITIES
        ):
            messages.append([block])
            size, entities = block.length, block.entities
        else:
            messages[-1].append(block)
            size += sep + block.length
            entities += block.entities
    joined = [join(m, "\n\n") for m in messages]
    if len(joined) == 1:
        return joined
    return [text(f"({i}/{len(joined)})\n") + m for i, m in enumerate(joined, 1)]
