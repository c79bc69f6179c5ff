"""Result snippets: the words that match the query (same stem) marked, the rest escaped.

Shared by both indexes, so a snippet looks the same whichever answered.
"""

import re
from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import mark_safe

from core.mongolian import skeleton, stem

WORD = re.compile(r"[\w-]+", re.UNICODE)


@lru_cache(maxsize=100_000)
def _word_stems(word: str) -> frozenset[str]:
    """Stems of one word of a summary; summaries repeat their words a lot, so cache them."""
    return frozenset(stem(part) for part in skeleton(word).split())


def highlight(text: str, q: str) -> str:
    """``text`` escaped, with the words that match a query word (same stem) in <mark>."""
    if not text:
        return ""
    stems = {stem(token) for token in skeleton(q).split() if token}
    if not stems:
        return escape(text)
    out, last = [], 0
    for match in WORD.finditer(text):
        if stems & _word_stems(match.group()):
            out.append(escape(text[last : match.start()]))
            out.append(f"<mark>{escape(match.group())}</mark>")
            last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))
