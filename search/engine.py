"""The search-engine path: our own query on Wagtail's OpenSearch/Elasticsearch index.

Wagtail's backend owns the index (mapping, Mongolian analysis from
``core.analysis``, incremental updates on publish, ``update_index``). Its
query API cannot return facet counts for every value, highlights or scores we
control, so we send the request body ourselves through the backend's client,
using the index column names Wagtail's mapping gives our fields.
"""

import json
import logging
from functools import lru_cache

from django.conf import settings
from wagtail.search import index as search_index
from wagtail.search.backends import get_search_backend

from search import embedded, popularity
from search.editorial import synonym_alternatives
from search.failover import EngineUnavailable
from search.highlight import highlight
from search.params import FACET_NAMES, Query
from search.query import autocomplete_query, engine_query, with_popularity
from search.results import HIT_RELATED, Hit, Results, Window
from search.summary import facet_values
from service_pages.channels import CHANNEL_FIELDS, CHANNELS
from service_pages.models import ServicePage

logger = logging.getLogger(__name__)

FACET_SIZE = 1000  # every agency, aimag and soum: no top-10 cap
LOGICAL_FIELDS = {
    "title": "search_title",
    "title_en": "title_en",
    "keywords": "keywords",
    "place": "search_place",
    "agency": "search_agency",
    "summary": "summary",
    "description": "description",
}
FILTER_FIELDS = (
    "agency", "category", "aimag", "soum", *CHANNEL_FIELDS, "stages", "live", "search_restricted", "search_popularity",
)  # fmt: skip


@lru_cache(maxsize=1)
def columns() -> tuple[dict, dict]:
    """(text columns by logical name, filter columns by field name) of ServicePage in the index."""
    mapping = get_search_backend().mapping_class(ServicePage)
    text, filters = {}, {}
    for field in ServicePage.get_search_fields():
        if isinstance(field, search_index.FilterField) and field.field_name in FILTER_FIELDS:
            filters[field.field_name] = mapping.get_field_column_name(field)
        elif isinstance(field, search_index.AutocompleteField) and field.field_name == "title":
            text["title_autocomplete"] = mapping.get_field_column_name(field)
        elif type(field) is search_index.SearchField:
            for logical, name in LOGICAL_FIELDS.items():
                if field.field_name == name:
                    text[logical] = mapping.get_field_column_name(field)
    return text, filters


_backends: dict[str, object] = {}


def _backend():
    """Wagtail's engine backend, one per process and configuration.

    ``get_search_backend()`` builds a new client, with a new connection pool, on
    every call: a fresh TCP connection per search. Keeping one lets the client
    reuse its keep-alive connections.
    """
    config = settings.WAGTAILSEARCH_BACKENDS["default"]
    key = json.dumps(config, sort_keys=True, default=str)
    if key not in _backends:
        _backends[key] = get_search_backend()
    return _backends[key]


def _client_and_index():
    backend = _backend()
    return backend.es, backend.get_index_for_model(ServicePage).name


def _filter_clauses(query: Query) -> list[dict]:
    _text, cols = columns()
    clauses = [
        {"term": {"_django_content_type": ServicePage._meta.app_label + "." + ServicePage.__name__}},
        {"term": {cols["live"]: True}},
        # A page under a view restriction stays in Wagtail's index (the admin's page search) but
        # is never a public result. "Not true" rather than "false": a page indexed before the
        # field existed has none, and must not vanish until the next update_index.
        {"bool": {"must_not": {"term": {cols["search_restricted"]: True}}}},
    ]
    for name, pk in query.ids.items():
        clauses.append({"term": {cols[name]: pk}})
    if query.channel:
        clauses.append({"term": {cols[CHANNELS[query.channel].field]: True}})
    if query.stages == "single":
        clauses.append({"term": {cols["stages"]: 1}})
    elif query.stages == "multi":
        clauses.append({"range": {cols["stages"]: {"gt": 1}}})
    return clauses


def _aggregations() -> dict:
    _text, cols = columns()
    aggs = {name: {"terms": {"field": cols[name], "size": FACET_SIZE}} for name in ("agency", "category", "aimag", "soum")}
    for key, channel in CHANNELS.items():
        aggs[f"channel_{key}"] = {"filter": {"term": {cols[channel.field]: True}}}
    aggs["stages_single"] = {"filter": {"term": {cols["stages"]: 1}}}
    aggs["stages_multi"] = {"filter": {"range": {cols["stages"]: {"gt": 1}}}}
    return aggs


def _query_clause(q: str, strict: bool) -> dict:
    text, _cols = columns()
    if not q:
        return {"match_all": {}}
    fuzzy = not embedded.all_words_known(q)
    alternatives = synonym_alternatives(q)
    if not alternatives:
        return engine_query(q, text, strict, fuzzy)
    should = [engine_query(q, text, strict, fuzzy)]
    should += [{"bool": {"must": [engine_query(alt, text, strict, fuzzy)], "boost": 0.8}} for alt in alternatives]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def search(query: Query, window: Window) -> Results:
    """Most words must match (fast, precise); if nothing does, any word may (see query.STRICT_MATCH)."""
    response = _search_request(query, window, strict=True)
    if query.q and response["hits"]["total"]["value"] == 0:
        response = _search_request(query, window, strict=False)
    return _results(query, response)


def _search_request(query: Query, window: Window, strict: bool) -> dict:
    client, index_name = _client_and_index()
    _text, cols = columns()
    boolean = {"must": [_query_clause(query.q, strict)], "filter": _filter_clauses(query)}
    if window.exclude_ids:  # best bets, shown before these results
        boolean["must_not"] = [{"ids": {"values": [str(page_id) for page_id in window.exclude_ids]}}]
    ranked = {"bool": boolean}
    if query.q and cols.get("search_popularity"):
        ranked = with_popularity(ranked, cols["search_popularity"], popularity.weight())
    body = {
        "query": ranked,
        "aggs": _aggregations(),
        "from": window.offset,
        "size": window.size,
        "track_total_hits": True,
        "_source": False,
        "stored_fields": ["pk"],
    }
    if not query.q:
        body["sort"] = [{"_doc": "asc"}]
    return _send(client, index_name, body)


def _send(client, index_name: str, body: dict) -> dict:
    """Send a search; raise ``EngineUnavailable`` when the engine does not answer it.

    A node that times out is not the cluster: while a killed node's copy is being recovered, or
    under a burst, one busy node can pass ``SEARCH_QUERY_TIMEOUT`` while the others answer. With
    several nodes a timed-out query is therefore asked once more, and the client's round robin
    sends it to the next node; only when that one times out too is the engine taken as down
    (answers from the embedded index for a few seconds). One node: no second try, since it would
    only wait on the same busy node again. A refused connection is the client's own business: it
    retries on another node by itself and leaves the dead one aside.
    """
    attempts = 2 if len(_backend().hosts) > 1 else 1
    for attempt in range(1, attempts + 1):
        try:
            return client.search(index=index_name, body=body, request_timeout=settings.SEARCH_QUERY_TIMEOUT)
        except Exception as error:  # connection refused, timeout, missing index, bad gateway ...
            if attempt < attempts and _timed_out(error):
                logger.info("search timed out on one node, asking another: %s", error)
                continue
            status = getattr(error, "status_code", None)
            refused_request = isinstance(status, int) and 400 <= status < 500 and status != 404
            raise EngineUnavailable(f"{error.__class__.__name__}: {error}", engine_down=not refused_request) from error
    raise AssertionError("unreachable: the last attempt returns or raises")


def _timed_out(error: Exception) -> bool:
    """The request reached no answer in time (both clients name this exception ``ConnectionTimeout``)."""
    return any(cls.__name__ == "ConnectionTimeout" for cls in type(error).__mro__)


def _results(query: Query, response: dict) -> Results:
    hits = response["hits"]["hits"]
    ids = [int(hit["fields"]["pk"][0]) for hit in hits]
    pages = ServicePage.objects.live().public().select_related(*HIT_RELATED).in_bulk(ids)
    results = Results(query=query, count=response["hits"]["total"]["value"], source="engine")
    results.hits = [
        Hit(page=pages[page_id], score=round(hit["_score"] or 0.0, 3),
            snippet=highlight(pages[page_id].summary, query.q))  # fmt: skip
        for page_id, hit in zip(ids, hits, strict=False)
        if page_id in pages
    ]
    results.facets = _facets(response["aggregations"], query)
    return results


def _facets(aggregations: dict, query: Query) -> dict:
    from collections import Counter

    counters = {name: Counter() for name in FACET_NAMES}
    for name in ("agency", "category", "aimag", "soum"):
        for bucket in aggregations[name]["buckets"]:
            counters[name][int(bucket["key"])] = bucket["doc_count"]
    for channel in CHANNELS:
        counters["channel"][channel] = aggregations[f"channel_{channel}"]["doc_count"]
    for stages in ("single", "multi"):
        counters["stages"][stages] = aggregations[f"stages_{stages}"]["doc_count"]
    for name in ("channel", "stages"):
        counters[name] = Counter({key: count for key, count in counters[name].items() if count})
    return facet_values(counters, query)


def autocomplete(prefix: str, limit: int = 8) -> list[ServicePage]:
    client, index_name = _client_and_index()
    text, _cols = columns()
    body = {
        "query": {"bool": {"must": [autocomplete_query(prefix, text)], "filter": _filter_clauses(Query())}},
        "size": limit,
        "_source": False,
        "stored_fields": ["pk"],
    }
    response = _send(client, index_name, body)
    ids = [int(hit["fields"]["pk"][0]) for hit in response["hits"]["hits"]]
    pages = ServicePage.objects.live().public().in_bulk(ids)
    return [pages[page_id] for page_id in ids if page_id in pages]
