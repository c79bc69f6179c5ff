"""Public search page and the JSON search API (same ``search.finder`` underneath)."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.api import api_language
from core.languages import active_language, default_language, translations_in
from core.mongolian import skeleton
from search import analytics, finder
from search.localize import localize
from search.params import MAX_QUERY_LENGTH, Query, QueryError, parse_query
from search.results import Hit, Results
from service_pages.models import ServicePage

AUTOCOMPLETE_LIMIT = 8


def _hit_json(hit: Hit, request) -> dict:
    page, shown = hit.page, hit.shown
    return {
        "code": page.code,
        "title": page.title,
        "url": request.build_absolute_uri(page.get_url(request)),
        # The service's page in the requested language (the Mongolian page while it has no translation).
        "localized": {
            "language": active_language() if hit.translation else default_language(),
            "title": shown.title,
            "url": request.build_absolute_uri(shown.get_url(request)),
        },
        "agency": page.agency.code,
        "category": page.category.slug if page.category_id else None,
        "aimag": page.aimag.code if page.aimag_id else None,
        "soum": page.soum.code if page.soum_id else None,
        "score": hit.score,
        "best_bet": hit.best_bet,
    }


def _error(error: QueryError) -> JsonResponse:
    return JsonResponse({"error": {"field": error.field, "message": error.message}}, status=400)


# The API's read-only endpoints are exempt from CSRF checks (they change nothing, and API clients
# have no token), so another method is answered 405 by require_GET, not with the website's HTML 403.
@csrf_exempt
@require_GET
@api_language
def api_search(request):
    """``GET /api/v1/services/search``: see docs/openapi.yaml."""
    try:
        query = parse_query(request.GET)
    except QueryError as error:
        return _error(error)
    results = finder.search(query)
    localize(results.hits, active_language())
    facets = {
        name: [{"value": v.value, "label": v.label, "count": v.count} for v in values]
        for name, values in results.facets.items()
    }
    response = JsonResponse(
        {
            "count": results.count,
            "page": query.page,
            "page_size": query.page_size,
            "results": [_hit_json(hit, request) for hit in results.hits],
            "facets": facets,
            "suggestions": results.suggestions,
            "source": results.source,
            "degraded": results.degraded,
        }
    )
    response["Cache-Control"] = "public, max-age=60"
    return response


@csrf_exempt
@require_GET
@api_language
def api_autocomplete(request):
    """``GET /api/v1/services/autocomplete?q=``: titles as the user types (Cyrillic or Latin)."""
    prefix = (request.GET.get("q") or "").strip()
    if len(prefix) > MAX_QUERY_LENGTH:
        return _error(QueryError("q", _("The search text is too long.")))
    pages = finder.autocomplete(prefix, AUTOCOMPLETE_LIMIT) if skeleton(prefix) else []
    # Titles and links in the requested language where the service is translated.
    translated = translations_in(pages, active_language(), ServicePage)
    shown = [translated.get(page.pk, page) for page in pages]
    return JsonResponse(
        {
            "results": [
                {"code": page.code, "title": page.title, "url": request.build_absolute_uri(page.url)} for page in shown
            ]
        }
    )


@require_GET
def search_page(request):
    """The citizens' search page: query box, facets, results, pagination."""
    try:
        query = parse_query(request.GET)
    except QueryError as error:
        return render(request, "search/search.html", {"error": error.message, "query": Query()}, status=400)
    results = finder.search(query) if (query.q or query.filters()) else None
    click_token, logged = None, None
    if results:
        click_token, logged = analytics.entry(query, results, active_language())
        localize(results.hits, active_language())
        add_facet_links(request, results)
    context = {
        "query": query,
        "results": results,
        "start_number": (query.page - 1) * query.page_size + 1,
        "click_token": click_token,
    }
    response = render(request, "search/search.html", context)
    analytics.save_after(response, logged)  # written after the page went out
    return response


def add_facet_links(request, results: Results) -> None:
    """Each facet value links to the same search with that filter added (or removed if selected)."""
    for name, values in results.facets.items():
        for value in values:
            params = request.GET.copy()
            params.pop("page", None)
            if value.selected:
                params.pop(name, None)
            else:
                params[name] = value.value
            value.url = "?" + params.urlencode()


@csrf_exempt
@require_POST
def click(request):
    """``POST /search/click/`` (``t``, ``code``): the beacon of ``clicks.js`` when a result is followed.

    Exempt from CSRF: a beacon carries no token, and the signed search token (``t``) is what
    makes a click count (``search.analytics.record_click``). Answers 204, or 400 with a message.
    """
    try:
        analytics.record_click(request.POST.get("t", ""), request.POST.get("code", ""))
    except analytics.ClickError as error:
        message = _("This click cannot be counted: the search link is invalid or too old.")
        return JsonResponse({"error": {"field": str(error), "message": message}}, status=400)
    return HttpResponse(status=204)


@require_GET
def openapi(request):
    """The API description, docs/openapi.yaml, as the running server sees it."""
    text = (settings.BASE_DIR / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    return HttpResponse(text, content_type="application/yaml; charset=utf-8")
