"""Agencies push status changes back: ``POST /api/v1/submissions/<tracking_code>/status``.

Authenticated per agency: ``X-Tumen-Key`` names an active :class:`AgencyCredential`, and
``X-Tumen-Signature`` is HMAC-SHA256 over ``"{X-Tumen-Timestamp}.{tracking code}." + body`` with
its secret (5-minute replay window). The agency must be the one handling the submission's current
stage. The body is read by the agency's status-callback plugin (default ``tumen_status``:
``{"status", "message", "public_message"}``); ``completed`` of a non-final stage starts the next
stage (``form_builder.stages``), ``rejected`` ends the flow. ``message`` is a note for staff only;
``public_message`` (optional) is what the citizen reads on the tracking page.

Retries are safe: a report with the same status and messages as the agency's last one, when nothing
but Tumen's own steps came after it, is answered 200 with the event already recorded, not
recorded twice (an agency retries when it did not get the answer). What runs after the commit (the
citizen's SMS) never fails the callback.
"""

import json

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api import api_language, error_response
from form_builder.models import Status, Submission, SubmissionEvent, normalize_tracking_code
from form_builder.stages import StatusRefused, apply_status, may_report
from service_pages.governance import submission_agency_codes

from . import result_documents, signing
from .models import AgencyCredential, PluginConfig, SeenCallback
from .registry import register

REPORTABLE = [status for status in Status.values if status not in (Status.STAGE_COMPLETED, Status.AWAITING_PAYMENT, Status.PAID)]


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
    submission = Submission.objects.filter(tracking_code=code).select_related("agency").first()
    agency_code = credential.agency.code
    if submission is None:
        return error_response(404, "submission_not_found", _("No application of this agency has this tracking code."))
    plugin, options = _callback_plugin(credential.agency)
    try:
        update = plugin.parse(body, request.headers, options)
    except (ValueError, UnicodeDecodeError, RecursionError, TypeError, AttributeError):
        update = None
    if not may_report(submission, agency_code) and (update is None or repeated_report(submission, agency_code, update) is None):
        return error_response(404, "submission_not_found", _("No application of this agency has this tracking code."))
    if update is None:
        return error_response(400, "invalid_body", _('Send {"status": "...", "message": "..."}.'))
    if update.status not in Status.values or update.status == Status.STAGE_COMPLETED:
        return error_response(400, "invalid_status", _("Unknown status. Use one of: %(statuses)s."), statuses=", ".join(REPORTABLE))
    document = None
    if getattr(update, "document", None) is not None:
        try:
            document = result_documents.read_result_document(update.document)
        except result_documents.DocumentRefused as refused:
            return error_response(400, "invalid_document", refused.message)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    SeenCallback.objects.create(signature=request.headers.get("X-Tumen-Signature", "")[:100])
            except IntegrityError:
                return error_response(409, "replayed", _("This request was already received."))
            locked = Submission.objects.select_for_update(of=("self",)).get(pk=submission.pk)
            event = repeated_report(locked, agency_code, update)
            if event is None and not may_report(locked, agency_code):  # another report came first
                return error_response(404, "submission_not_found", _("No application of this agency has this tracking code."))
            if event is None:
                submission = apply_status(
                    submission, update.status, agency_code=agency_code, actor=f"agency:{agency_code}", message=update.message,
                    public_message=getattr(update, "public_message", ""),
                )
                event = submission.events.order_by("-created_at", "-pk").first()
            else:
                submission = locked
            AgencyCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    except StatusRefused as refused:
        return error_response(409, refused.code, refused.message)
    answer = {"tracking_code": submission.tracking_code, "status": submission.status, "stage": submission.stage, "at": event.created_at.isoformat()}
    if document is not None:
        key = result_documents.result_key(submission, credential.agency, request.headers.get("Idempotency-Key", ""), update.document)
        try:
            issued, _created = result_documents.attach(submission, credential.agency, document, key)
        except result_documents.DocumentRefused as refused:  # the status is recorded; the agency sends the document again
            return error_response(400, "invalid_document", refused.message)
        answer["document"] = result_documents.describe(issued)
    return JsonResponse(answer)


@csrf_exempt
@require_POST
@api_language
def attach_document(request, tracking_code):
    """``POST /api/v1/submissions/<tracking code>/documents``: an agency attaches a result document
    to an application it works on (signed like the status callback). Another agency's application
    is a 404, as an unknown one."""
    denied = error_response(401, "unauthorized", _("Missing or wrong agency key or signature."))
    credential = AgencyCredential.objects.filter(key_id=request.headers.get("X-Tumen-Key", ""), active=True).select_related("agency").first()
    if credential is None:
        return denied
    body = request.body
    if not signing.verify(
        credential.secret, request.headers.get("X-Tumen-Timestamp", ""), [tracking_code], body, request.headers.get("X-Tumen-Signature", "")
    ):
        return denied
    not_found = error_response(404, "submission_not_found", _("No application of this agency has this tracking code."))
    submission = Submission.objects.filter(tracking_code=normalize_tracking_code(tracking_code)).select_related("agency", "service").first()
    if submission is None or credential.agency.code not in submission_agency_codes(submission):
        return not_found
    if submission.anonymised_at is not None:
        return error_response(409, "anonymised", _("This application's personal data was deleted; no document can be attached."))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return error_response(400, "invalid_body", _("Send the document as a JSON object."))
    try:
        document = result_documents.read_result_document(payload)
        key = result_documents.result_key(submission, credential.agency, request.headers.get("Idempotency-Key", ""), payload)
        issued, created = result_documents.attach(submission, credential.agency, document, key)
    except result_documents.DocumentRefused as refused:
        return error_response(400, "invalid_document", refused.message)
    AgencyCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return JsonResponse({"tracking_code": submission.tracking_code, **result_documents.describe(issued)}, status=201 if created else 200)


def repeated_report(submission, agency_code: str, update) -> SubmissionEvent | None:
    """The event an identical earlier report of this agency recorded, if it is still the last
    report (only Tumen's own steps since, such as the next stage starting); else None."""
    last = submission.events.exclude(actor="tumen").order_by("-created_at", "-pk").first()
    if last is None or last.actor != f"agency:{agency_code}" or last.message != (update.message or ""):
        return None
    if last.public_message != (getattr(update, "public_message", "") or ""):
        return None
    same = last.status == update.status or (update.status == Status.COMPLETED and last.status == Status.STAGE_COMPLETED)
    return last if same else None
