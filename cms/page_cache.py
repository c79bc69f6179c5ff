"""The page cache: anonymous readers of a public service page get a stored copy.

A service page is read far more often than it changes, and rendering it costs several queries
and a template. ``PageCacheMiddleware`` keeps the rendered response in the ``pages`` cache
(files under ``var/cache/pages`` that every gunicorn worker of the machine shares and that outlive
a worker's restart; see ``CACHES`` in the settings) and answers the next anonymous reader of the
same URL with it, before sessions, CSRF, authentication and messages run.

**What is cached** — only what is the same for every anonymous reader:

- a ``GET`` with no query string, no ``Authorization`` header and no session or messages cookie
  (a signed-in citizen, a staff member, anybody with a flash message or a password-restricted
  page passed is always served fresh);
- of a page type in ``CACHED_PAGE_TYPES`` with no view restriction on it or above it (Wagtail's
  ``before_serve_page`` hook below marks the request; nothing else is ever stored);
- answered ``200`` in the URL's own language (``Content-Language``), without setting a cookie,
  without a CSRF token (Django sets the cookie whenever a template used one), without a
  per-request CSP nonce and without ``Cache-Control: private/no-cache/no-store``.

The key is scheme, host, path and language, so ``/…`` (Mongolian) and ``/en/…`` never share an
entry, and neither do two host names; and the release (``release()``: the static files' manifest,
whether sign-in is on), so a deploy never serves a page of the previous one.

**Purge** — every key carries the catalog's *generation*: the newest ``PageLogEntry`` id (every
publication, unpublication, move, deletion and bulk import or translation writes one) and
``PageCacheGeneration``, bumped here after the commit of any change to a page row, an agency, a
category, an aimag or soum, a view restriction, a site or a locale. Both live in the database
and are read with one query per request, so a change is visible at once in every worker and on
every app node. ``TUMEN_PAGE_CACHE_SECONDS`` (default 300) bounds how long an entry lives even
if a change came by a path that sends no signal (raw SQL, ``QuerySet.update``); ``0`` turns the
cache off.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.utils import translation
from wagtail.models import Locale, Page, PageLogEntry, PageViewRestriction, Site

from citizens import oidc
from cms.models import PageCacheGeneration
from service_pages.models import Agency, Aimag, Category, ServicePage, Soum

CACHE_ALIAS = "pages"
# Page types whose HTML depends only on the URL and the database for an anonymous reader.
CACHED_PAGE_TYPES = (ServicePage,)
# Models a cached page shows (names, links) that are not page rows: a change bumps the generation.
SHOWN_MODELS = (Agency, Category, Aimag, Soum, PageViewRestriction, Site, Locale)
# Response headers a cached copy never carries (per-response, or about the client).
DROPPED_HEADERS = {"set-cookie", "x-tumen-page-cache"}


def is_enabled() -> bool:
    return settings.TUMEN_PAGE_CACHE_SECONDS > 0


def mark_cacheable(page, request, serve_args, serve_kwargs) -> None:
    """``before_serve_page`` hook: this request shows a public page of a cached type.

    The view-restriction check is our own (Wagtail's runs after the hooks): a restricted page is
    never marked, whoever asks.
    """
    if isinstance(page, CACHED_PAGE_TYPES) and not page.get_view_restrictions().exists():
        request.tumen_page_cacheable = True


def generation() -> tuple[int, int]:
    """(``PageCacheGeneration.value``, newest ``PageLogEntry`` id): one query, both shared."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT value FROM {PageCacheGeneration._meta.db_table} WHERE id = 1), "
            f"(SELECT MAX(id) FROM {PageLogEntry._meta.db_table})"
        )
        value, log_id = cursor.fetchone()
    return value or 0, log_id or 0


@functools.cache
def release() -> str:
    """What a deploy can change in every page besides the database: the hashed static file names
    (WhiteNoise's manifest: a stored page must not point at a style sheet the new release no longer
    has) and whether citizens can sign in (the header's link). Read once per worker."""
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    static = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else ""
    return f"{static}|{oidc.configured()}"


def purge() -> None:
    """Every cached page is stale from now on, in every worker (after the current transaction)."""
    transaction.on_commit(bump_generation)


def bump_generation() -> None:
    if not PageCacheGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        PageCacheGeneration.objects.update_or_create(pk=1, defaults={"value": 1})


def on_change(sender, instance=None, **kwargs) -> None:
    """``post_save``/``post_delete`` receiver: a page row or a model pages show changed."""
    if isinstance(instance, (Page, *SHOWN_MODELS)):
        purge()


def connect_signals() -> None:
    """Purge on any change to a page row (publish, draft, move, delete, translation) or to what
    a page shows; bulk writes are covered by their ``PageLogEntry`` rows."""
    for signal in (post_save, post_delete):
        signal.connect(on_change, dispatch_uid=f"tumen_page_cache_{signal is post_save}")


def request_key(request) -> str | None:
    """The cache key of an anonymous, cookie-free GET of a public URL, else ``None``."""
    if request.method != "GET" or request.META.get("QUERY_STRING") or "HTTP_AUTHORIZATION" in request.META:
        return None
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies or "messages" in cookies:
        return None
    try:
        host = request.get_host()
    except Exception:  # DisallowedHost: let CommonMiddleware answer it
        return None
    language = translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE
    return f"{request.scheme}://{host}{request.path}|{language}"


def storable(request, response, language: str) -> bool:
    """The response is the same for every anonymous reader of this URL in this language."""
    if not getattr(request, "tumen_page_cacheable", False) or response.status_code != 200 or response.streaming:
        return False
    if response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False
    if response.get("Content-Language") != language:
        return False
    policy = response.get("Content-Security-Policy", "") + response.get("Content-Security-Policy-Report-Only", "")
    if "'nonce-" in policy:
        return False
    cache_control = response.get("Cache-Control", "")
    return not any(word in cache_control for word in ("private", "no-cache", "no-store"))


class PageCacheMiddleware:
    """Answers anonymous GETs of public pages from the ``pages`` cache, and fills it (module docstring).

    Sits above the security-header, session, locale, CSRF, auth and messages middleware, so a hit
    costs one small query and one file read; the stored response already carries the headers
    those middlewares added.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request_key(request) if is_enabled() else None
        if key is None:
            return self.get_response(request)
        cache = caches[CACHE_ALIAS]
        value, log_id = generation()
        full_key = hashlib.sha256(f"{value}|{log_id}|{release()}|{key}".encode()).hexdigest()
        stored = cache.get(full_key)
        if stored is not None:
            return rebuild(stored, "hit")
        response = self.get_response(request)
        if storable(request, response, key.rsplit("|", 1)[1]):
            headers = [(name, value) for name, value in response.items() if name.lower() not in DROPPED_HEADERS]
            cache.set(full_key, (response.status_code, headers, response.content), settings.TUMEN_PAGE_CACHE_SECONDS)
            response["X-Tumen-Page-Cache"] = "miss"
        return response


def rebuild(stored: tuple, state: str) -> HttpResponse:
    status, headers, content = stored
    response = HttpResponse(content, status=status)
    for name, value in headers:
        response[name] = value
    response["X-Tumen-Page-Cache"] = state
    return response
