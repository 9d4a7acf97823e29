"""Words that say nothing about what is asked (English and Persian), after folding.

Keyword search leaves them out of its query (their posting lists are the longest in the index),
and lexical evidence (qa.quotes) counts the other words of a question. Folded forms: Persian
yeh and keheh, no diacritics, as index.textnorm.fold writes them.
"""

from __future__ import annotations

from index.textnorm import fold

_ENGLISH = """
a an the and or but of to in on at for from by with about as into over after before
is are was were be been being am do does did done has have had having will would shall
should can could may might must not no nor so than too very s t just it its this that
these those there here what which who whom whose when where why how i me my we our you
your he him his she her they them their wo won't don't doesn't didn't isn't aren't wasn't
weren't also one any some many much more most other such own same then only if
"""

# Question words, particles and the most frequent function words of Persian.
_PERSIAN = """
و در به از که این آن را با است بود برای تا یا هم نیز اما ولی اگر چه چی چرا کی کجا کدام
چند چگونه چطور آیا کسی چیزی هست نیست شد شده شود می هر یک بر ای های ها هایی ان اند
ام ای ایم اید بوده باشد باشند دارد دارند داشت کرد کرده کند کنند خود او وی ما شما آنها
ایشان همه پس نه
"""

STOPWORDS = frozenset(fold(w) for w in (_ENGLISH + _PERSIAN).split())
