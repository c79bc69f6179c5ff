"""How much a match in each field of a service counts: the one table of field weights.

Pure Python, no Django. Read by the engine query (``search.query``: the weight of an exact-word
match in that field; stem and typo matches are fractions of it), the embedded index
(``search.embedded``: the weight of a term in that field, fixed at index time) and
``ServicePage.search_fields`` (the boosts of Wagtail's own index, which the admin's page search
uses: ``index_boost``). Titles and place names weigh more than body text; the place weight is
what lets "Хангал иргэний үнэмлэх" put the Khangal soum's service first. Figures:
``bench/search_relevance.py``.
"""

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
