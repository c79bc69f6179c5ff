"""Catalog search: one entry point for the search page, the JSON API and the benchmarks.

``search(query)`` asks the search engine (OpenSearch / Elasticsearch through
Wagtail's backend and index) when one is configured and answering, and the
embedded index (``search.embedded``, plain database tables) otherwise, so the
site keeps answering when the engine is down. Both paths apply the same
editorial rules: synonyms widen the query, best bets pin services on top.
"""

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cms.languages import bilingual, translations_in
from search import embedded
from search.backends import DATABASE_BACKEND
from search.mongolian import skeleton, stem
from service_pages.channels import CHANNEL_FIELDS, CHANNELS
from service_pages.models import Agency, Aimag, Category, ServicePage, Soum

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200
# The engines' default result window (index.max_result_window): deeper pages are refused.
MAX_RESULTS = 10_000
# After a failed engine call, answer from the embedded index for this long before retrying.
ENGINE_RETRY_SECONDS = 10
STAGES = {"single": gettext_lazy("Single-stage"), "multi": gettext_lazy("Multi-stage")}
FACET_NAMES = ("agency", "category", "aimag", "soum", "channel", "stages")
# Loaded with every hit: results show the agency and place, the API their codes.
HIT_RELATED = ("agency", "category", "aimag", "soum")


class QueryError(ValueError):
    """A search parameter is invalid; ``field`` names it for the 400 answer."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Query:
    q: str = ""
    agency: str = ""  # agency code
    category: str = ""  # category slug
    aimag: str = ""  # aimag code
    soum: str = ""  # soum code
    channel: str = ""  # online | operator | in_person
    stages: str = ""  # single | multi
    page: int = 1
    page_size: int = 20
    # Database ids of the agency/category/aimag/soum filters, resolved once by parse_query().
    ids: dict = field(default_factory=dict)

    def filters(self) -> dict:
        """The facet filters that are set, by facet name."""
        return {name: getattr(self, name) for name in FACET_NAMES if getattr(self, name)}


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False
    url: str = ""  # the search page link that toggles this value (set by the view)


@dataclass
class Hit:
    page: ServicePage  # the original (Mongolian) page: only originals are indexed
    score: float
    snippet: str = ""
    best_bet: bool = False
    translation: ServicePage | None = None  # its page in the reader's language, set by localize()

    @property
    def shown(self) -> ServicePage:
        """The page to link to and title with: the translation when there is one."""
        return self.translation or self.page


@dataclass
class Results:
    query: Query
    count: int = 0
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    source: str = "embedded"  # "engine" or "embedded"
    degraded: bool = False  # an engine is configured but did not answer
    suggestions: list[str] = field(default_factory=list)
    took_ms: float = 0.0

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.query.page_size))


def parse_query(params) -> Query:
    """Validate request parameters (a QueryDict or dict) into a ``Query``; ``QueryError`` if bad."""
    query = Query()
    for name in params:
        if "\x00" in (params.get(name) or ""):
            raise QueryError(name, _("%(name)s contains a character that is not allowed.") % {"name": name})
    query.q = (params.get("q") or "").strip()
    if len(query.q) > MAX_QUERY_LENGTH:
        raise QueryError("q", _("The search text is too long (at most %(max)s characters).") % {"max": MAX_QUERY_LENGTH})
    for name in ("page", "page_size"):
        raw = params.get(name)
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise QueryError(name, _("%(name)s must be a whole number.") % {"name": name}) from None
        if value < 1:
            raise QueryError(name, _("%(name)s must be 1 or more.") % {"name": name})
        setattr(query, name, value)
    if query.page_size > MAX_PAGE_SIZE:
        raise QueryError("page_size", _("page_size must be at most %(max)s.") % {"max": MAX_PAGE_SIZE})
    if query.page * query.page_size > MAX_RESULTS:
        raise QueryError(
            "page", _("Only the first %(max)s results can be paged through; narrow the search.") % {"max": MAX_RESULTS}
        )
    lookups = {
        "agency": (Agency, "code"),
        "category": (Category, "slug"),
        "aimag": (Aimag, "code"),
        "soum": (Soum, "code"),
    }
    for name, (model, key) in lookups.items():
        value = (params.get(name) or "").strip()
        if value:
            pk = model.objects.filter(**{key: value}).values_list("pk", flat=True).first()
            if pk is None:
                raise QueryError(name, _("Unknown %(name)s: %(value)s") % {"name": name, "value": value})
            query.ids[name] = pk
        setattr(query, name, value)
    for name, allowed in (("channel", CHANNELS), ("stages", STAGES)):
        value = (params.get(name) or "").strip()
        if value and value not in allowed:
            raise QueryError(
                name,
                _("%(name)s must be one of: %(choices)s") % {"name": name, "choices": ", ".join(allowed)},
            )
        setattr(query, name, value)
    return query


# --- the two engines ----------------------------------------------------------------


class EngineUnavailable(Exception):
    """The search engine did not answer this query.

    ``engine_down``: it is unreachable or failing (connection refused, timeout,
    5xx), so skip it for a while; False when it refused this one request (4xx),
    which says nothing about the next.
    """

    def __init__(self, message: str, engine_down: bool = True):
        super().__init__(message)
        self.engine_down = engine_down


_engine_down_until = 0.0


def engine_configured() -> bool:
    return settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"] != DATABASE_BACKEND


def search(query: Query) -> Results:
    """Run ``query``: on the engine when possible, else on the embedded index.

    Best bets come first, then the ranked results without them; pagination runs
    over that combined list, so no result is lost or shown twice.
    """
    global _engine_down_until
    started = time.monotonic()
    pinned = best_bets_for(query)
    start = (query.page - 1) * query.page_size
    pinned_window = pinned[start : start + query.page_size]
    window = Window(
        exclude_ids=[page.pk for page in pinned],
        offset=max(0, start - len(pinned)),
        size=query.page_size - len(pinned_window),
    )
    results = None
    degraded = False
    if engine_configured():
        if time.monotonic() >= _engine_down_until:
            try:
                from search import engine

                results = engine.search(query, window)
            except EngineUnavailable as error:
                logger.warning("search engine unavailable, answering from the database: %s", error)
                if error.engine_down:
                    _engine_down_until = time.monotonic() + ENGINE_RETRY_SECONDS
        degraded = results is None
    if results is None:
        results = embedded_search(query, window)
    results.degraded = degraded
    bets = [Hit(page=page, score=0.0, snippet=highlight(page.summary, query.q), best_bet=True) for page in pinned_window]
    results.hits = bets + results.hits
    results.count += len(pinned)
    if not results.hits and query.q:
        results.suggestions = embedded.suggest(query.q)
    results.took_ms = round((time.monotonic() - started) * 1000, 1)
    return results


def localize(hits: list[Hit], language: str) -> None:
    """Point each hit at its service's live page in ``language``, one query for all of them.

    Search runs on the originals (each service once); a reader of the English site gets
    links to the English pages where they exist, and to the Mongolian page otherwise.
    """
    translations = translations_in([hit.page for hit in hits], language, ServicePage)
    for hit in hits:
        hit.translation = translations.get(hit.page.pk)


@dataclass
class Window:
    """Which ranked results one page shows, once the pinned best bets are set aside."""

    exclude_ids: list[int]
    offset: int
    size: int


def autocomplete(prefix: str, limit: int = 8) -> list[ServicePage]:
    """Service titles for what the user has typed so far (engine, or embedded index)."""
    global _engine_down_until
    if engine_configured() and time.monotonic() >= _engine_down_until:
        try:
            from search import engine

            return engine.autocomplete(prefix, limit)
        except EngineUnavailable:
            _engine_down_until = time.monotonic() + ENGINE_RETRY_SECONDS
    ranked = embedded.search_ids(prefix, None, limit=limit)
    pages = ServicePage.objects.live().public().in_bulk([page_id for page_id, _score in ranked])
    return [pages[page_id] for page_id, _score in ranked if page_id in pages]


def reset_engine_state():
    """Forget a recent engine failure and cached labels (tests, and after an operator fixed the engine)."""
    global _engine_down_until, _labels
    _engine_down_until = 0.0
    _labels = None


def embedded_search(query: Query, window: Window) -> Results:
    """Search the embedded index and compute facets from a cached catalog summary."""
    filters = embedded_filters(query)
    if query.q:
        ranked = {}
        for text in [query.q, *synonym_alternatives(query.q)]:
            weight = 1.0 if text == query.q else 0.8
            for page_id, score in embedded.search_ids(text, filters, limit=20000):
                ranked[page_id] = max(ranked.get(page_id, 0.0), score * weight)
        ordered = sorted(ranked.items(), key=lambda item: -item[1])
    else:
        ordered = [(page_id, 0.0) for page_id in catalog_summary().filtered_ids(filters)]
    excluded = set(window.exclude_ids)
    ordered = [(page_id, score) for page_id, score in ordered if page_id not in excluded]
    results = Results(query=query, count=len(ordered), source="embedded")
    results.facets = catalog_summary().facets([page_id for page_id, _score in ordered], query)
    shown = ordered[window.offset : window.offset + window.size]
    pages = ServicePage.objects.live().public().select_related(*HIT_RELATED).in_bulk([page_id for page_id, _score in shown])
    results.hits = [
        Hit(page=pages[page_id], score=round(score, 3), snippet=highlight(pages[page_id].summary, query.q))
        for page_id, score in shown
        if page_id in pages
    ]
    return results


def embedded_filters(query: Query) -> dict:
    """The query's facet filters in the form ``embedded.search_ids`` takes (ids, not codes)."""
    filters = {f"{name}_id": pk for name, pk in query.ids.items()}
    if query.channel:
        filters["channel"] = query.channel
    if query.stages:
        filters["stages"] = query.stages
    return filters


# --- facets ---------------------------------------------------------------------------


@dataclass
class CatalogSummary:
    """Facet attributes of every live, public service, cached per process until the catalog changes.

    Counting facets over a list of matched ids in Python takes a few ms for the
    whole catalog, and saves one GROUP BY query per facet per search.
    """

    version: str | None
    rows: dict  # page_id -> (agency_id, category_id, aimag_id, soum_id, online, operator, in_person, stages)

    def filtered_ids(self, filters: dict) -> list[int]:
        return [page_id for page_id in sorted(self.rows) if self._matches(self.rows[page_id], filters)]

    @staticmethod
    def _matches(row, filters) -> bool:
        keys = {"agency_id": 0, "category_id": 1, "aimag_id": 2, "soum_id": 3}
        for key, position in keys.items():
            if key in filters and row[position] != filters[key]:
                return False
        if "channel" in filters and not row[4 + list(CHANNELS).index(filters["channel"])]:
            return False
        if "stages" in filters and (row[-1] > 1) != (filters["stages"] == "multi"):
            return False
        return True

    def facets(self, page_ids: list[int], query: Query) -> dict[str, list[FacetValue]]:
        counters = {name: Counter() for name in FACET_NAMES}
        for page_id in page_ids:
            row = self.rows.get(page_id)
            if row is None:
                continue
            counters["agency"][row[0]] += 1
            counters["category"][row[1]] += 1
            counters["aimag"][row[2]] += 1
            counters["soum"][row[3]] += 1
            for position, channel in enumerate(CHANNELS):
                if row[4 + position]:
                    counters["channel"][channel] += 1
            counters["stages"]["multi" if row[-1] > 1 else "single"] += 1
        return facet_values(counters, query)


_summary: CatalogSummary | None = None


def catalog_version() -> str | None:
    """The embedded index's change token: every change to a live service changes it."""
    return embedded.state_token()


def catalog_summary() -> CatalogSummary:
    global _summary
    version = catalog_version()
    if _summary is None or _summary.version != version:
        fields = ("pk", "agency_id", "category_id", "aimag_id", "soum_id", *CHANNEL_FIELDS, "stages")
        rows = {row[0]: row[1:] for row in ServicePage.objects.live().public().canonical().values_list(*fields)}
        _summary = CatalogSummary(version=version, rows=rows)
    return _summary


LABEL_SECONDS = 60
_labels: tuple[float, dict] | None = None


def facet_labels() -> dict:
    """(value, label) of every agency, category, aimag and soum by id, cached per process for a minute.

    Hundreds of rows that change a few times a year: reading them on every
    search cost more than the search itself. A renamed agency shows its new
    name within a minute.
    """
    global _labels
    now = time.monotonic()
    if _labels is None or now - _labels[0] > LABEL_SECONDS:
        tables = {"agency": (Agency, "code"), "category": (Category, "slug"), "aimag": (Aimag, "code"),
                  "soum": (Soum, "code")}  # fmt: skip
        # Both names: the label is picked in the reader's language (facet_values).
        labels = {
            name: {
                pk: (key, (name_mn, name_en))
                for pk, key, name_mn, name_en in model.objects.values_list("pk", key_field, "name_mn", "name_en")
            }
            for name, (model, key_field) in tables.items()
        }
        labels["channel"] = {key: (key, channel.label) for key, channel in CHANNELS.items()}
        labels["stages"] = dict((key, (key, label)) for key, label in STAGES.items())
        _labels = (now, labels)
    return _labels[1]


def facet_values(counters: dict[str, Counter], query: Query) -> dict[str, list[FacetValue]]:
    """Turn id counters into labelled facet values, every value (no top-10 cap), biggest first."""
    labels = facet_labels()
    facets = {}
    for name in FACET_NAMES:
        values = []
        for key, count in counters[name].items():
            if key is None or key not in labels[name]:
                continue
            value, label = labels[name][key]
            label = bilingual(*label) if isinstance(label, tuple) else str(label)
            values.append(FacetValue(value=value, label=label, count=count, selected=getattr(query, name) == value))
        values.sort(key=lambda item: (-item.count, item.label))
        facets[name] = values
    return facets


# --- editorial rules ------------------------------------------------------------------


def synonym_alternatives(q: str) -> list[str]:
    """The query rewritten with each matching synonym group's other terms."""
    from search.editorial import Synonym

    return Synonym.alternatives(q)


def best_bets_for(query: Query) -> list[ServicePage]:
    """The editors' pinned services for this search text (not when filtering by facets)."""
    from search.editorial import BestBet

    if not query.q or query.filters():
        return []
    return BestBet.pages_for(query.q)


# --- snippets -------------------------------------------------------------------------

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
