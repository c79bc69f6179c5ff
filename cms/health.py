"""``GET /healthz``: is the database up, and can we reach the search engine?

Load balancers take the site out of rotation on 503, which we answer only when
the database is down: without a search engine the site still serves pages and
(from issue 4 on) falls back to database search, so that state is "degraded".

Anyone gets the status code and ``{"status": "ok" | "degraded" | "down"}``: all a load
balancer needs. The details (database vendor and timing, the search engine's host, product and
version, the task queue, and deliveries: applications no delivery target carries, per agency, and
failing deliveries; ``plugins.delivery.coverage``) are for signed-in staff, or for a monitor that sends the
``X-Health-Token`` header equal to ``TUMEN_HEALTH_TOKEN`` (which works while the database, and
so every session, is down).
"""

import hmac
import time

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from wagtail.search.backends import get_search_backend

from plugins.delivery import coverage
from search.backends import DATABASE_BACKEND, redact_url

ENGINE_TIMEOUT_SECONDS = 2


def check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down", never a 500
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}


def check_search() -> dict:
    config = settings.WAGTAILSEARCH_BACKENDS["default"]
    if config["BACKEND"] == DATABASE_BACKEND:
        return {"ok": True, "backend": "database", "engine": connection.vendor, "reachable": True}
    name = config["BACKEND"].rsplit(".", 1)[-1]
    # Every node of SEARCH_URL; the client asks a live one (and info() is retried like a search).
    result = {"backend": name, "url": ", ".join(redact_url(url) for url in config["URLS"])}
    try:
        client = get_search_backend().es
        info = client.info(request_timeout=ENGINE_TIMEOUT_SECONDS)
    except Exception as exc:  # unreachable, refused, timeout, bad auth
        return {**result, "ok": False, "reachable": False, "error": exc.__class__.__name__}
    version = info.get("version", {})
    return {
        **result,
        "ok": True,
        "reachable": True,
        "engine": version.get("distribution", "elasticsearch"),
        "version": version.get("number"),
    }


def check_tasks() -> dict:
    """Background tasks waiting for a worker and running now (django-tasks' database backend)."""
    try:
        from django_tasks_db.models import DBTaskResult

        counts = {"ready": 0, "running": 0}
        for row in DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).values("status").annotate(n=Count("pk")):
            counts[row["status"].lower()] = row["n"]
        return counts
    except Exception as exc:  # no table, database down: details only, never a 500
        return {"ready": None, "running": None, "error": exc.__class__.__name__}


def check_deliveries() -> dict:
    """Applications waiting with no delivery target (per agency), retrying and dead deliveries.
    Reported, never a reason for "degraded": the site itself serves."""
    try:
        return coverage.summary()
    except Exception as exc:  # database down or not migrated: details only, never a 500
        return {"ok": False, "error": exc.__class__.__name__}


def may_see_details(request) -> bool:
    """Signed-in staff, or the monitoring token header (compared in constant time)."""
    token = getattr(settings, "TUMEN_HEALTH_TOKEN", "")
    sent = request.headers.get("X-Health-Token", "")
    if token and sent and hmac.compare_digest(token.encode(), sent.encode()):
        return True
    try:
        return bool(request.user.is_authenticated and request.user.is_staff)
    except Exception:  # the session cannot be read while the database is down
        return False


@never_cache
@require_GET
def healthz(request):
    database = check_database()
    search = check_search()
    if not database["ok"]:
        status = "down"
    elif not search["ok"]:
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status}
    if may_see_details(request):
        body.update(database=database, search=search, tasks=check_tasks(), deliveries=check_deliveries())
    return JsonResponse(body, status=200 if database["ok"] else 503)
