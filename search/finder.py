"""Catalog search: one entry point for the search page, the JSON API, operator mode and the benchmarks.

``search(query)`` asks the search engine (OpenSearch / Elasticsearch through
Wagtail's backend and index, ``search.engine``) when one is configured and
answering (``search.failover``), and the embedded index (``search.embedded``,
plain database tables) otherwise, so the site keeps answering when the engine
is down. Both paths apply the same editorial rules (``search.editorial``):
synonyms widen the query, best bets pin services on top.
"""

import logging
import time

from search import embedded, engine, failover, popularity
from search.editorial import best_bets_for, synonym_alternatives
from search.failover import EngineUnavailable, engine_configured
from search.highlight import highlight
from search.params import Query
from search.results import HIT_RELATED, Hit, Results, Window
from search.summary import catalog_summary, forget_labels
from service_pages.models import ServicePage

logger = logging.getLogger(__name__)


def search(query: Query) -> Results:
    """Run ``query``: on the engine when possible, else on the embedded index.

    Best bets come first, then the ranked results without them; pagination runs
    over that combined list, so no result is lost or shown twice.
    """
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
        if not failover.engine_skipped():
            try:
                results = engine.search(query, window)
            except EngineUnavailable as error:
                logger.warning("search engine unavailable, answering from the database: %s", error)
                if error.engine_down:
                    failover.mark_engine_down()
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


def autocomplete(prefix: str, limit: int = 8) -> list[ServicePage]:
    """Service titles for what the user has typed so far (engine, or embedded index)."""
    if engine_configured() and not failover.engine_skipped():
        try:
            return engine.autocomplete(prefix, limit)
        except EngineUnavailable:
            failover.mark_engine_down()
    ranked = embedded.search_ids(prefix, None, limit=limit)
    pages = ServicePage.objects.live().public().in_bulk([page_id for page_id, _score in ranked])
    return [pages[page_id] for page_id, _score in ranked if page_id in pages]


def reset_engine_state():
    """Forget a recent engine failure and cached labels (tests, and after an operator fixed the engine)."""
    failover.forget_engine_failure()
    forget_labels()
    popularity.forget()


def embedded_search(query: Query, window: Window) -> Results:
    """Search the embedded index and compute facets from a cached catalog summary."""
    filters = embedded_filters(query)
    if query.q:
        ranked = {}
        for text in [query.q, *synonym_alternatives(query.q)]:
            weight = 1.0 if text == query.q else 0.8
            for page_id, score in embedded.search_ids(text, filters, limit=20000):
                ranked[page_id] = max(ranked.get(page_id, 0.0), score * weight)
        ordered = popularity.rerank(sorted(ranked.items(), key=lambda item: -item[1]))
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
