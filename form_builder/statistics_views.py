"""``/statistics/`` (HTML) and ``GET /api/v1/statistics`` (JSON): read the precomputed snapshot.

Neither computes anything: a request costs one query for the snapshot (and, at most once a minute
per process while the snapshot is missing or stale, one more to restart the periodic refresh).
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.api import error_response

from . import statistics
from .tasks import ensure_refresh_scheduled

PAGE_SERVICE_ROWS = 200
RETRY_AFTER_SECONDS = 60


def _snapshot():
    snapshot = statistics.current_snapshot()
    if statistics.is_stale(snapshot):
        ensure_refresh_scheduled()
    return snapshot


@require_GET
def processing_statistics(request):
    """Public page: real processing times per service and per agency (transparency)."""
    snapshot = _snapshot()
    context = {"snapshot": snapshot}
    if snapshot is not None:
        context.update(services=snapshot.data["services"][:PAGE_SERVICE_ROWS], agencies=snapshot.data["agencies"])
    return render(request, "form_builder/statistics.html", context)


@csrf_exempt  # read-only: any other method gets the 405 below, not Django's HTML CSRF page
@require_GET
def api_statistics(request):
    """``GET /api/v1/statistics``: the same figures for programs (docs/openapi.yaml)."""
    snapshot = _snapshot()
    if snapshot is None:
        response = error_response(
            503, "statistics_not_ready", _("The statistics are being prepared. Try again in a minute.")
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(
        {
            "computed_at": snapshot.computed_at.isoformat(),
            "period_days": snapshot.period_days,
            "agencies": snapshot.data["agencies"],
            "services": snapshot.data["services"],
        }
    )
