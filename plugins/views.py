"""Agencies push status changes back: ``POST /api/v1/submissions/<tracking_code>/status``.

Authenticated per agency: ``X-Tumen-Key`` names an active :class:`AgencyCredential`, and
``X-Tumen-Signature`` is HMAC-SHA256 over ``"{X-Tumen-Timestamp}.{tracking code}." + body`` with
its secret (5-minute replay window). The agency must be the submission's. The body is read by the
agency's status-callback plugin (default ``tumen_status``: ``{"status", "message"}``).
"""

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from form_builder.api import error_response
from form_builder.models import Status, Submission, normalize_tracking_code
from search.views import api_language

from . import signing
from .models import AgencyCredential, PluginConfig
from .registry import register


def _callback_plugin(agency):
    config = (
        PluginConfig.objects.filter(agency=agency, service__isnull=True, enabled=True)
        .filter(plugin_id__in=[p.id for p in register.of_kind("status_callback")])
        .first()
    )
    return (config.plugin, config.options) if config else (register["tumen_status"], {})


@csrf_exempt
@require_POST
@api_language
def status_callback(request, tracking_code):
    denied = error_response(401, "unauthorized", _("Missing or wrong agency key or signature."))
    credential = AgencyCredential.objects.filter(key_id=request.headers.get("X-Tumen-Key", ""), active=True).select_related("agency").first()
    if credential is None:
        return denied
    code = normalize_tracking_code(tracking_code)
    body = request.body
    if not signing.verify(
        credential.secret, request.headers.get("X-Tumen-Timestamp", ""), [tracking_code], body, request.headers.get("X-Tumen-Signature", "")
    ):
        return denied
    submission = Submission.objects.filter(tracking_code=code, agency=credential.agency).first()
    if submission is None:
        return error_response(404, "submission_not_found", _("No application of this agency has this tracking code."))
    plugin, options = _callback_plugin(credential.agency)
    try:
        update = plugin.parse(body, request.headers, options)
    except (ValueError, UnicodeDecodeError):
        return error_response(400, "invalid_body", _('Send {"status": "...", "message": "..."}.'))
    if update.status not in Status.values:
        return error_response(400, "invalid_status", _("Unknown status. Use one of: %(statuses)s."), statuses=", ".join(Status.values))
    with transaction.atomic():
        event = submission.set_status(update.status, actor=f"agency:{credential.agency.code}", message=update.message)
        AgencyCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return JsonResponse({"tracking_code": submission.tracking_code, "status": submission.status, "at": event.created_at.isoformat()})
