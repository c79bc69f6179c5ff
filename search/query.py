"""The OpenSearch / Elasticsearch query for a citizen's search words.

Pure Python, no Django: ``search.engine`` sends it with the index column names
of ``ServicePage``'s search fields, and ``bench/search_relevance.py`` measures
it on a scratch index built from the national catalog.

The analysis (``core.analysis``) already makes Cyrillic, о/ө–у/ү confusions
and informal Latin one term, so the query only has to weigh fields and forgive
what analysis cannot:

- **typos**: fuzzy matching on the full words. Short skeleton words must match
  exactly and long ones may differ by two edits (``AUTO:4,7``: skeletons are
  short and, with one vowel class, dense; a 3-letter word one edit away is
  usually another word). ``prefix_length`` 0: a wrong first letter happens too,
  and on 150 generated early typos prefix 0 put the service first for all 35
  first-letter slips (MRR 1.00, vs 0.93 with prefix 1) for ~3 ms more per query;
- **other inflections**: the ``.stem`` sub-fields (``core.mongolian.stem``),
  weighted below exact words;
- **coverage**: a fixed bonus when the title (or the English title) holds all,
  or 75%, of the query's words in any form stem and typo tolerance accept.
  Without it, one rare word matched in many fields wins: "change the details
  of a patent" put "Патент олгох" (Mongolian title, keywords and summary all say
  патент) above "Change the details of a patent"; on the generated queries MRR
  drops from 0.98 to 0.96 without it (English 1.00 → 0.95, morph 0.94 → 0.88);
- **word order and closeness**: a phrase bonus on the title.

The weight of an exact-word match in each field is ``core.weights.FIELD_WEIGHTS``.
Figures: ``bench/search_relevance.py``.
"""

from core.weights import FIELD_WEIGHTS, POPULARITY_WEIGHT, popularity_cap

# Weight of a stem-only match, relative to the exact word in the same field.
STEM_FACTOR = 0.5
TYPO_FACTOR = 0.6
FUZZINESS = "AUTO:4,7"
PREFIX_LENGTH = 0
MAX_EXPANSIONS = 20
PHRASE_BOOST = 2.0
PHRASE_SLOP = 2
# Fixed bonuses for a title (or English title) holding all / most of the query's
# words, in any form the stem and typo tolerance accept: coverage beats one rare
# word matched in many fields.
COVERAGE = {"100%": 50.0, "75%": 25.0}
COVERAGE_FIELDS = ("title", "title_en")
# Strict mode: most of the query's words must match (in some form) for a service to
# match at all. It keeps the matched set (and so facet aggregation and fuzzy
# expansion) small; ``search.engine`` falls back to any-word matching when the
# strict query finds nothing. "2<-34%": up to two words all required, beyond
# that a third of them may be missing.
STRICT_MATCH = "2<-34%"


def _fields(columns: dict[str, str], suffix: str = "", factor: float = 1.0, only=None) -> list[str]:
    names = only or FIELD_WEIGHTS
    return [f"{columns[name]}{suffix}^{FIELD_WEIGHTS[name] * factor:g}" for name in names if columns.get(name)]


def engine_query(q: str, columns: dict[str, str], strict: bool = True, fuzzy: bool = True) -> dict:
    """The ``query`` clause for the words ``q`` over the given index columns.

    ``columns`` maps the logical names of ``FIELD_WEIGHTS`` to index column
    names; missing names are left out. Each text column has a ``.stem``
    sub-field (``core.analysis.STEM_SUBFIELD``). ``strict``: see ``STRICT_MATCH``.
    ``fuzzy=False`` leaves out typo tolerance (most of the engine's time), for
    queries whose words all exist in the catalog.
    """
    extra = {"minimum_should_match": STRICT_MATCH} if strict else {}
    should = [
        # Exact words (after analysis), summed over fields: a service whose
        # title has the words and whose place is the typed soum wins.
        {
            "multi_match": {
                "query": q,
                "type": "most_fields",
                "fields": _fields(columns),
                **extra,
            }
        },
        # Typos (removed below when not fuzzy).
        {
            "multi_match": {
                "query": q,
                "type": "most_fields",
                "fields": _fields(columns, factor=TYPO_FACTOR, only=("title", "place", "keywords", "title_en")),
                "fuzziness": FUZZINESS,
                "prefix_length": PREFIX_LENGTH,
                "max_expansions": MAX_EXPANSIONS,
                **extra,
            }
        },
        # Other inflections of the same words.
        {
            "multi_match": {
                "query": q,
                "type": "most_fields",
                "fields": _fields(columns, suffix=".stem", factor=STEM_FACTOR),
                **extra,
            }
        },
    ]
    if not fuzzy:
        should.pop(1)
    if columns.get("title"):
        should.append({"match_phrase": {columns["title"]: {"query": q, "slop": PHRASE_SLOP, "boost": PHRASE_BOOST}}})
    for name in COVERAGE_FIELDS:
        if not columns.get(name):
            continue
        for share, bonus in COVERAGE.items():
            words = {"query": q, "minimum_should_match": share}
            if fuzzy:
                words |= {"fuzziness": FUZZINESS, "prefix_length": PREFIX_LENGTH, "max_expansions": MAX_EXPANSIONS}
            should.append({"constant_score": {"filter": {"match": {columns[name] + ".stem": words}}, "boost": bonus}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def autocomplete_query(prefix: str, columns: dict[str, str]) -> dict:
    """Titles as you type: every typed word must begin a word of the title.

    Uses the edge n-gram column (``columns["title_autocomplete"]``, Wagtail's
    ``title_edgengrams`` by default), whose search analyzer gives the typed
    letters the same skeleton as the title, so "тэтгэ", "tetge" and "тэтгє"
    all complete "Тэтгэвэр ...". Titles holding the typed words in the typed
    order (the last one as a prefix) rank first.
    """
    column = columns.get("title_autocomplete") or "title_edgengrams"
    query = {"bool": {"must": [{"match": {column: {"query": prefix, "operator": "and"}}}]}}
    if columns.get("title"):
        in_order = {"query": prefix, "max_expansions": 50, "boost": 2.0}
        query["bool"]["should"] = [{"match_phrase_prefix": {columns["title"]: in_order}}]
    return query


def with_popularity(query: dict, column: str, weight: float = POPULARITY_WEIGHT) -> dict:
    """``query`` with each service's score multiplied by its popularity factor.

    The same factor as the embedded path (``core.weights.popularity_factor``):
    ``1 + weight * ln(1 + popularity)``, capped at ``popularity_cap(weight)`` (``max_boost``
    caps the functions' sum). A service without the field (never clicked, or
    indexed before the field existed) keeps its score: ``missing`` 0 gives factor 1. A weight of
    0 leaves the query as it is.
    """
    if weight <= 0:
        return query
    return {
        "function_score": {
            "query": query,
            "functions": [
                {"weight": 1},
                {
                    "field_value_factor": {"field": column, "modifier": "ln1p", "missing": 0},
                    "weight": weight,
                },
            ],
            "score_mode": "sum",
            "boost_mode": "multiply",
            "max_boost": popularity_cap(weight),
        }
    }
