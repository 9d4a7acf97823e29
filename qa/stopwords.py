"""The stopword list, which lives in index/ because keyword search needs it too."""

from __future__ import annotations

from index.stopwords import STOPWORDS

__all__ = ["STOPWORDS"]
