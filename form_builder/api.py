"""Headless API for the mobile app and kiosks: the form as JSON, submissions, their status.

The same :mod:`form_builder.submissions` functions as the HTML steps, so both accept and
refuse the same answers. Documented in docs/openapi.yaml.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.api import api_language, error_response
from service_pages.models import ServicePage

from . import applicant, ratelimit
from .models import Source, Status, Submission, normalize_tracking_code
from .submissions import InvalidSubmission, ServiceUnavailable, application_for, errors_as_json, submit


def _service(code: str):
    """The original (Mongolian) page of the service: submissions always refer to it."""
    return ServicePage.objects.select_related("agency", "category__default_form", "form_definition").by_code(code)


def _unavailable(error: ServiceUnavailable) -> JsonResponse:
    return error_response(409, error.code, error.message)


def _not_found() -> JsonResponse:
    return error_response(404, "service_not_found", _("There is no service with this code."))


def _application(code):
    """``(application, None)`` for a service that takes applications, else ``(None, error response)``."""
    service = _service(code)
    if service is None:
        return None, _not_found()
    try:
        return application_for(service), None
    except ServiceUnavailable as error:
        return None, _unavailable(error)


def _throttled(verdict) -> JsonResponse:
    response = error_response(429, "rate_limited", _("Too many requests. Try again in %(seconds)s seconds."), seconds=verdict.retry_after)
    response["Retry-After"] = str(verdict.retry_after)
    return response


@csrf_exempt  # read-only: another method gets 405 from require_GET, not a CSRF page
@require_GET
@api_language
def service_form(request, code):
    """``GET /api/v1/services/<code>/form``: the current form, its steps, fields and rules."""
    application, error = _application(code)
    if error is not None:
        return error
    service, version = application.service, application.version

    body = {
        "service": {"code": service.code, "title": service.title, "agency": service.agency.code},
        "form": {
            "slug": version.definition.slug,
            "name": version.definition.name,
            "version": version.number,
            **version.spec.describe(translation.get_language()),
        },
        "schema": version.spec.json_schema(),
        "limits": {"max_files": settings.TUMEN_UPLOAD_MAX_FILES, "max_total_mb": settings.TUMEN_UPLOAD_MAX_TOTAL_MB},
        "submit_url": request.build_absolute_uri(reverse("api_submissions", args=[service.code])),
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "public, max-age=60"
    return response


def _payload(request):
    """``(data, files)`` from a JSON body or a multipart form with a ``data`` JSON part."""
    content_type = request.content_type or ""
    is_json = content_type in ("application/json", "")
    if content_type.startswith("multipart/form-data") or content_type == "application/x-www-form-urlencoded":
        raw = request.POST.get("data", "{}")
        files = {key: request.FILES[key] for key in request.FILES}
        multiple = [key for key in request.FILES if len(request.FILES.getlist(key)) > 1]
        if multiple:
            raise ValueError("one file per question")
    elif is_json:
        raw, files = request.body, {}
    else:
        raise ValueError("unsupported content type")
    body = json.loads(raw)
    if is_json:
        if not isinstance(body, dict) or "data" not in body:
            raise ValueError("missing data")
        body = body["data"]
    return body, files


@csrf_exempt
@require_http_methods(["POST"])
@api_language
def create_submission(request, code):
    """``POST /api/v1/services/<code>/submissions``: 201 with the tracking code, or 400 per field.

    The per-address limit counts every request; the per-service one only a request for a real,
    open service with valid answers (``admit``), so nobody can use it up with bad requests.
    """
    verdict = ratelimit.check_client(request)
    if not verdict.allowed:
        return _throttled(verdict)
    application, error = _application(code)
    if error is not None:
        return error
    try:
        data, files = _payload(request)
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        return error_response(413, "too_large", _("The request is too large."))
    # A multipart body Django cannot parse (no boundary, ...) is a bad body like any other, in JSON.
    except (ValueError, UnicodeDecodeError, RecursionError, MultiPartParserError):
        return error_response(
            400,
            "invalid_body",
            _('Send a JSON object {"data": {...}}, or multipart/form-data with a "data" part and one file per question.'),
        )
    service_code = application.service.code
    identity = applicant.applicant_of(request)  # a signed-in citizen's session (the website's own scripts)
    if identity is not None and CsrfViewMiddleware(JsonResponse).process_view(request, None, (), {}) is not None:
        # The session cookie speaks for the citizen: like any form of the site, it needs the CSRF token.
        return error_response(403, "csrf_failed", _("Send the CSRF token (X-CSRFToken) with a signed-in session."))
    if identity is not None and isinstance(data, dict):
        locked = applicant.locked_answers(identity, application.version.spec)
        conflicts = applicant.conflicts(application.version.spec, data, locked)
        if conflicts:
            return JsonResponse({"errors": errors_as_json(conflicts)}, status=400)
        data = {**data, **locked}
    try:
        submission = submit(
            application,
            data,
            files,
            applicant=identity,
            source=Source.API,
            language=translation.get_language(),
            admit=lambda: ratelimit.count_for_service(service_code),
        )
    except InvalidSubmission as invalid:
        return JsonResponse({"errors": errors_as_json(invalid.errors)}, status=400)
    except ratelimit.Throttled as throttled:
        return _throttled(throttled.verdict)
    status_url = request.build_absolute_uri(reverse("api_submission_status", args=[submission.tracking_code]))
    response = JsonResponse(
        {
            "tracking_code": submission.tracking_code,
            "status": submission.status,
            "submitted_at": submission.submitted_at.isoformat(),
            "form_version": application.version.number,
            "status_url": status_url,
            # A fee-charging service: pay through POST .../payment before it is delivered.
            "fee_mnt": submission.fee_mnt,
            "payment_url": request.build_absolute_uri(reverse("api_submission_payment", args=[submission.tracking_code]))
            if submission.status == Status.AWAITING_PAYMENT
            else None,
        },
        status=201,
    )
    response["Location"] = status_url
    return response


def status_payload(submission: Submission) -> dict:
    """What the tracking code alone may reveal: the service and the status timeline, no answers."""
    from .models import Status

    labels = dict(Status.choices)
    return {
        "tracking_code": submission.tracking_code,
        "status": submission.status,
        "status_label": str(labels.get(submission.status, submission.status)),
        "service": {"code": submission.service_code, "title": submission.service_title},
        "submitted_at": submission.submitted_at.isoformat(),
        "timeline": [
            {"status": event.status, "label": str(labels.get(event.status, event.status)), "at": event.created_at.isoformat()}
            for event in submission.events.all()
        ],
    }


def find_submission(code: str) -> Submission | None:
    normalized = normalize_tracking_code(code)
    if not normalized:
        return None
    return Submission.objects.filter(tracking_code=normalized).prefetch_related("events").first()


@csrf_exempt  # read-only: another method gets 405 from require_GET, not a CSRF page
@require_GET
@api_language
def submission_status(request, tracking_code):
    """``GET /api/v1/submissions/<tracking_code>``: the status timeline."""
    verdict = ratelimit.check_lookup(request, "track")
    if not verdict.allowed:
        return _throttled(verdict)
    submission = find_submission(tracking_code)
    if submission is None:
        return error_response(404, "submission_not_found", _("No application has this tracking code."))
    response = JsonResponse(status_payload(submission))
    response["Cache-Control"] = "no-store"
    return response
