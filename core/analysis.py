"""Mongolian analysis for the search engine's index (OpenSearch / Elasticsearch).

``index_settings()`` is the value of ``WAGTAILSEARCH_BACKENDS["default"]
["INDEX_SETTINGS"]``; modelsearch deep-merges it into its own defaults
(``modelsearch/backends/elasticsearchbase.py``, ``settings``). Which analyzer
Wagtail's mapping uses where:

- text ``SearchField`` columns (and ``_all_text``) have no analyzer of their own,
  so they use the index's ``default`` analyzer, at index and at query time;
- edge n-gram columns (``title_edgengrams``, ``_edgengrams``) use
  ``edgengram_analyzer`` to index and ``standard`` to search. A custom analyzer
  named ``standard`` replaces the built-in one inside this index, so typed
  prefixes get the same skeleton as the indexed words;
- ``STEM_SUBFIELD`` (an ``es_extra`` of our SearchFields) adds a ``<field>.stem``
  sub-field analysed with ``mn_stem``.

Every analyzer starts from the same char filter, ``core.mongolian.skeleton()``
in engine form (its rule table ``CHAR_MAPPINGS``), then the standard tokenizer,
lowercase and asciifolding. So "Зөвшөөрөл", "zuvshuurul" and "зовшоорол" are
one term in the index. ``default`` then drops stop words (``STOPWORDS``);
``mn_stem`` also collapses vowel runs and cuts words to ``STEM_LENGTH`` letters,
which is ``core.mongolian.stem()``. tests/test_mongolian.py checks the engine
against the Python functions with ``_analyze``.
"""

from core.mongolian import CHAR_MAPPINGS, COLLAPSE_PATTERN, COLLAPSE_REPLACEMENT, STEM_LENGTH, STOPWORDS

# es_extra for SearchFields: a suffix-tolerant "<field>.stem" sub-field.
STEM_SUBFIELD = {"fields": {"stem": {"type": "text", "analyzer": "mn_stem"}}}

CHAR_FILTERS = ["mn_skeleton"]
# Longest prefix the as-you-type index keeps; skeleton words are rarely longer.
EDGENGRAM_MAX = 20


def _analyzer(*filters: str) -> dict:
    return {
        "type": "custom",
        "char_filter": list(CHAR_FILTERS),
        "tokenizer": "standard",
        # asciifolding after lowercase: letters the table does not know (é, ñ ...)
        # lose their accents, as in skeleton().
        "filter": ["lowercase", "asciifolding", *filters],
    }


def index_settings() -> dict:
    """Analysis settings for Wagtail's engine backends (see the module docstring)."""
    return {
        "settings": {
            "analysis": {
                "char_filter": {
                    "mn_skeleton": {"type": "mapping", "mappings": list(CHAR_MAPPINGS)},
                },
                "filter": {
                    "mn_stop": {"type": "stop", "stopwords": sorted(STOPWORDS), "ignore_case": False},
                    "mn_collapse": {
                        "type": "pattern_replace",
                        "pattern": COLLAPSE_PATTERN,
                        "replacement": COLLAPSE_REPLACEMENT,
                    },
                    "mn_stem": {"type": "truncate", "length": STEM_LENGTH},
                    "mn_edgengram": {"type": "edge_ngram", "min_gram": 1, "max_gram": EDGENGRAM_MAX},
                },
                "analyzer": {
                    # Full words, stop words removed: every text column and _all_text.
                    "default": _analyzer("mn_stop"),
                    # Search side of the edge n-gram columns: the words typed so far.
                    # Stop words stay, since "ба" may be the start of "барилга".
                    "standard": _analyzer(),
                    "edgengram_analyzer": _analyzer("mn_edgengram"),
                    # "<field>.stem": words cut to their first letters (core.mongolian.stem).
                    "mn_stem": _analyzer("mn_stop", "mn_collapse", "mn_stem"),
                },
            }
        }
    }
