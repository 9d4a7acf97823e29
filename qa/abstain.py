"""Abstention: say "nothing in the index answers this" instead of quoting noise.

The decision reads the evidence of the best candidate sentence (qa.quotes): its cosine to
the question plus the rarity-weighted share of the question's words it holds. A question
about something the index lacks loses on both at once: no sentence is close in meaning,
and its rarest words (a name, a place) are in none of them. The threshold was measured
with `qa eval --unanswerable 0.2` (docs/quality.md), not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.quotes import Sentence


@dataclass(frozen=True)
class AbstentionSettings:
    # Below this support (cosine + lexical_weight * coverage) the best sentence does not
    # answer. Measured with `qa eval xquad.en.json --unanswerable 0.2` on seeds 0-3
    # (docs/quality.md): at 0.58 false abstention is 1.0-1.9% and 0.886-0.937 of the
    # left-out articles' questions abstain. Higher buys more abstention with more wrongly
    # silent answers (0.62: 2.0-2.5% false, 0.911-0.951 abstained).
    min_support: float = 0.58


@dataclass(frozen=True)
class Decision:
    abstained: bool
    support: float  # of the best sentence; 0 when there was none


def decide(scored: Sequence[Sentence], settings: AbstentionSettings | None = None) -> Decision:
    """Abstain when no sentence was found or the best one's support is under the threshold."""
    s = settings or AbstentionSettings()
    support = max((c.support for c in scored), default=0.0)
    return Decision(abstained=not scored or support < s.min_support, support=support)
