"""How much a match in each field of a service counts: the one table of field weights.

Pure Python, no Django. Read by the engine query (``search.query``: the weight of an exact-word
match in that field; stem and typo matches are fractions of it), the embedded index
(``search.embedded``: the weight of a term in that field, fixed at index time) and
``ServicePage.search_fields`` (the boosts of Wagtail's own index, which the admin's page search
uses: ``index_boost``). Titles and place names weigh more than body text; the place weight is
what lets "Хангал иргэний үнэмлэх" put the Khangal soum's service first. Figures:
``bench/search_relevance.py``.
"""

import math

# Logical field → weight.
FIELD_WEIGHTS = {
    "title": 4.0,
    "place": 3.0,
    "keywords": 2.0,
    "title_en": 2.0,
    "agency": 1.0,
    "summary": 0.5,
    "description": 0.3,
}
# The embedded index keeps one weight per page and term and reads the summary and the description
# as one field, "body"; with its length normalisation and IDF, body text weighs this there.
EMBEDDED_BODY_WEIGHT = 1.0


def index_boost(name: str) -> float | None:
    """The boost of a field in Wagtail's index: its weight when above 1, else none (plain text).

    Wagtail copies each boosted field into an ``_all_text_boost_<n>`` field, and its own query
    can only favour fields: a field weighing 1 or less is ordinary text there.
    """
    weight = FIELD_WEIGHTS[name]
    return weight if weight > 1 else None


# Popularity (``search.popularity``): a service's recent clicks in search results and applications
# multiply its relevance score by ``1 + weight * ln(1 + score)``, at most ``popularity_cap(weight)``
# (reached at ~400 clicks: beyond that a service is "popular", not more so). The logarithm and the
# cap keep it a tie-breaker between services that match about equally well. An application counts
# as ``APPLICATION_WEIGHT`` clicks. The weight in use is the setting
# ``TUMEN_SEARCH_POPULARITY_WEIGHT``, by default this one: 0, off. Measured with simulated click
# counts, every weight tried (0.05, 0.01, 0.002) lowered MRR on some query kinds of
# ``bench/search_relevance.py --popularity`` (docs/benchmarks.md, "Search analytics"), so by
# issue #17's rule it is not on until real clicks show it does no harm.
POPULARITY_WEIGHT = 0.0
APPLICATION_WEIGHT = 3.0


def popularity_cap(weight: float = POPULARITY_WEIGHT) -> float:
    """The largest factor popularity may give: ``1 + 6 * weight``."""
    return 1.0 + 6.0 * weight


def popularity_factor(score: float, weight: float = POPULARITY_WEIGHT) -> float:
    """How much a service's popularity score multiplies its relevance (1.0 for none, or weight 0)."""
    if score <= 0 or weight <= 0:
        return 1.0
    return min(popularity_cap(weight), 1.0 + weight * math.log1p(score))
