"""The open catalog API: ``/api/v1/services``, ``/api/v1/services/<code>``, agencies, categories,
and the whole catalog as CSV and JSON files (docs/openapi.yaml).

Read-only and public: only live, public services (``open_catalog.public_services``); a
restricted or unpublished service answers 404 like an unknown code. Every answer carries an
``ETag`` and ``Last-Modified`` from the catalog state and ``Cache-Control``; a conditional
request (``If-None-Match`` / ``If-Modified-Since``) for an unchanged catalog gets 304 before any
service is read. Bad parameters get 400 with a stable ``code``, the ``field`` and the message in
Mongolian and English (``core.api``), never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import wraps

from django.http import FileResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import http_date, quote_etag
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.api import api_language, bilingual, error_response

from . import open_catalog, open_data
from .channels import CHANNELS
from .models import Agency, Aimag, Category, Soum

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_AGE = 300  # seconds a client or proxy may reuse an answer without asking again
STAGES = ("single", "multi")
LOOKUPS = {"agency": (Agency, "code"), "category": (Category, "slug"), "aimag": (Aimag, "code"), "soum": (Soum, "code")}


class BadParameter(ValueError):
    """A query parameter is invalid; answered 400 with ``code``, ``field`` and the message."""

    def __init__(self, field: str, code: str, message, **params):
        super().__init__(field)
        self.field, self.code, self.message, self.params = field, code, message, params

    def response(self) -> JsonResponse:
        error = {"code": self.code, "field": self.field, "message": bilingual(self.message, **self.params)}
        return JsonResponse({"error": error}, status=400)


def catalog_api(view):
    """Read-only, cacheable: ETag/Last-Modified from the catalog state, 304 when unchanged."""

    @csrf_exempt  # read-only; other methods get require_GET's 405, not the site's CSRF page
    @require_GET
    @api_language
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            check_characters(request.GET)
        except BadParameter as error:
            return error.response()
        state = open_catalog.catalog_state()
        key = f"{state.token}|{get_language()}|{request.get_full_path()}"
        etag = quote_etag(hashlib.sha256(key.encode()).hexdigest()[:32])
        not_modified = get_conditional_response(request, etag=etag, last_modified=_timestamp(state.last_modified))
        if not_modified is None:
            response = view(request, state, *args, **kwargs)
        else:
            response = not_modified
        if response.status_code in (200, 304):
            response["ETag"] = etag
            if state.last_modified:
                response["Last-Modified"] = http_date(_timestamp(state.last_modified))
            patch_cache_control(response, public=True, max_age=MAX_AGE)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response

    return wrapper


def _timestamp(moment: dt.datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def check_characters(params) -> None:
    for name in params:
        if "\x00" in (params.get(name) or ""):
            raise BadParameter(name, "invalid_parameter", _("%(name)s contains a character that is not allowed."), name=name)


def parse_limit(params) -> int:
    raw = (params.get("limit") or "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadParameter("limit", "invalid_parameter", _("%(name)s must be a whole number."), name="limit") from None
    if limit < 1:
        raise BadParameter("limit", "invalid_parameter", _("%(name)s must be 1 or more."), name="limit")
    if limit > MAX_LIMIT:
        raise BadParameter("limit", "invalid_parameter", _("%(name)s must be at most %(max)s."), name="limit", max=MAX_LIMIT)
    return limit


def parse_since(params) -> dt.datetime | None:
    """``updated_since``: an ISO 8601 date (midnight UTC) or date and time (UTC unless it says)."""
    raw = (params.get("updated_since") or "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(raw.replace(" ", "+"))  # a "+" unescaped in a query string arrives as a space
        if moment is None and (day := parse_date(raw)) is not None:
            moment = dt.datetime.combine(day, dt.time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise BadParameter(
            "updated_since",
            "invalid_date",
            _("updated_since must be an ISO 8601 date or date and time, e.g. 2026-12-01 or 2026-12-01T08:00:00Z."),
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def filtered(queryset, params):
    """The listing's filters, named as in the search API (docs/openapi.yaml)."""
    for name, (model, key) in LOOKUPS.items():
        value = (params.get(name) or "").strip()
        if not value:
            continue
        pk = model.objects.filter(**{key: value}).values_list("pk", flat=True).first()
        if pk is None:
            raise BadParameter(name, "unknown_value", _("Unknown %(name)s: %(value)s"), name=name, value=value)
        queryset = queryset.filter(**{f"{name}_id": pk})
    for name, allowed in (("channel", tuple(CHANNELS)), ("stages", STAGES)):
        value = (params.get(name) or "").strip()
        if value and value not in allowed:
            raise BadParameter(
                name, "unknown_value", _("%(name)s must be one of: %(choices)s"), name=name, choices=", ".join(allowed)
            )
    if channel := (params.get("channel") or "").strip():
        queryset = queryset.filter(**{CHANNELS[channel].field: True})
    stages = (params.get("stages") or "").strip()
    if stages == "single":
        queryset = queryset.filter(stages__lte=1)
    elif stages == "multi":
        queryset = queryset.filter(stages__gt=1)
    if (since := parse_since(params)) is not None:
        queryset = queryset.filter(updated__gte=since)
    return queryset


def parse_cursor(params):
    raw = (params.get("cursor") or "").strip()
    if not raw:
        return None
    try:
        return open_catalog.decode_cursor(raw)
    except open_catalog.BadCursor:
        raise BadParameter(
            "cursor", "invalid_cursor", _("This cursor was not given out by this API; start again without it.")
        ) from None


@catalog_api
def services(request, state):
    """``GET /api/v1/services``: every public service, a page at a time, by (updated, id)."""
    try:
        limit, cursor = parse_limit(request.GET), parse_cursor(request.GET)
        queryset = filtered(open_catalog.public_services(), request.GET)
    except BadParameter as error:
        return error.response()
    rows = open_catalog.service_rows(open_catalog.after_cursor(queryset, cursor)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = open_catalog.encode_cursor(rows[-1]["updated"], rows[-1]["id"]) if more else None
    next_url = None
    if next_cursor:
        params = request.GET.copy()
        params["cursor"] = next_cursor
        next_url = f"{request.path}?{params.urlencode()}"
    return JsonResponse(
        {
            "results": open_catalog.serialise(rows, state.token),
            "next_cursor": next_cursor,
            "next": next_url,
            "links": catalog_links(),
        },
        json_dumps_params={"ensure_ascii": False},
    )


@catalog_api
def service(request, state, code):
    """``GET /api/v1/services/<code>``: every public fact of one public service."""
    item = open_catalog.service_by_code(code, state.token)
    if item is None:
        return error_response(404, "service_not_found", _("There is no service with this code."))
    return JsonResponse(item, json_dumps_params={"ensure_ascii": False})


@catalog_api
def agencies(request, state):
    """``GET /api/v1/agencies``: every agency, with its number of public services."""
    counts = open_catalog.count_by("agency__code")
    return JsonResponse(
        {
            "results": [
                {
                    "code": agency.code,
                    "name": open_catalog.bilingual_name(agency.name_mn, agency.name_en),
                    "kind": agency.kind,
                    "parent": agency.parent.code if agency.parent_id else None,
                    "website": agency.website or None,
                    "services": counts.get(agency.code, 0),
                    "services_url": f"{reverse('api_catalog_services')}?agency={agency.code}",
                }
                for agency in Agency.objects.select_related("parent").order_by("code")
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )


@catalog_api
def categories(request, state):
    """``GET /api/v1/categories``: the life-event categories, with their number of public services."""
    counts = open_catalog.count_by("category__slug")
    return JsonResponse(
        {
            "results": [
                {
                    "slug": category.slug,
                    "name": open_catalog.bilingual_name(category.name_mn, category.name_en),
                    "services": counts.get(category.slug, 0),
                    "services_url": f"{reverse('api_catalog_services')}?category={category.slug}",
                }
                for category in Category.objects.all()
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )


def download(fmt: str):
    @catalog_api
    def view(request, state):
        """The whole public catalog as one file, built once per catalog state and streamed."""
        path = open_data.catalog_file(state.token, fmt)
        response = FileResponse(path.open("rb"), content_type=open_data.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="tumen-catalog.{fmt}"'
        return response

    view.__name__ = f"download_{fmt}"
    return view


download_csv = download("csv")
download_json = download("json")


def catalog_links() -> dict:
    """Where the rest of the open catalog is (in every listing)."""
    return {
        "agencies": reverse("api_catalog_agencies"),
        "categories": reverse("api_catalog_categories"),
        "statistics": reverse("api_statistics") if _has_route("api_statistics") else None,
        "csv": reverse("api_catalog_csv"),
        "json": reverse("api_catalog_json"),
        "search": reverse("api_search") if _has_route("api_search") else None,
    }


def _has_route(name: str) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True
