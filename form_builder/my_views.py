"""My applications: a signed-in citizen's applications, however they were made.

``/my/`` (``/en/my/``) lists every submission whose ``applicant_register_number`` is the signed-in
citizen's verified one (:attr:`citizens.identity.Identity.applicant_register_number`: the
organisation's when they act for one), made online, through the API or by a soum operator;
``/my/<tracking code>/`` shows one with its status timeline (public messages only), stages and
answers, and ``…/receipt/`` downloads its receipt. Anyone else's application is a 404, exactly
like one that does not exist. ``GET /api/v1/my/submissions`` is the same list as JSON.

**Extending the page** (apps above ``form_builder``, e.g. ``documents``, which form_builder never
imports): register Wagtail hooks.

- ``tumen_my_page_sections``: ``fn(request, identity) -> list[str]``, each a rendered HTML
  section (``render_to_string(...)``) shown below the list of applications on ``/my/``, in
  hook order ("My documents", say).
- ``tumen_my_application_sections``: ``fn(request, identity, submission) -> list[str]``, HTML
  sections shown on one application's page (its result documents, say).

The HTML is trusted (it comes from the project's own code) and inserted as it is; a hook must
escape what it puts in it (``render_to_string`` and ``format_html`` do) and must show only what
belongs to ``identity.applicant_register_number``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from wagtail import hooks

from citizens.identity import Identity, organisations, verified_identity
from core.api import api_language, error_response

from .display import answer_rows
from .models import Status, Submission

MY_PAGE_SECTIONS_HOOK = "tumen_my_page_sections"
MY_APPLICATION_SECTIONS_HOOK = "tumen_my_application_sections"
PAGE_SIZE = 25
API_LIMIT = 200


def applications_of(identity: Identity):
    """Every application made for the citizen (or the organisation they act for), newest first."""
    number = identity.applicant_register_number
    if not number:
        return Submission.objects.none()
    return Submission.objects.filter(applicant_register_number=number, anonymised_at__isnull=True).order_by("-submitted_at")


def timeline(submission) -> list[dict]:
    """Each status change with only the message meant for the citizen (never the staff note)."""
    rows = []
    for event in submission.events.all():
        message = event.public_message
        if not message and event.status == Status.REJECTED:
            message = _("The agency rejected the application. Contact the agency to learn why.")
        rows.append({"status": event.status, "label": event.get_status_display(), "at": event.created_at, "message": message})
    return rows


def _sections(hook_name: str, *args) -> list[str]:
    sections = []
    for fn in hooks.get_hooks(hook_name):
        sections.extend(mark_safe(html) for html in (fn(*args) or []))  # noqa: S308 - trusted project code, see the docstring
    return sections


def _signed_in(request):
    identity = verified_identity(request)
    if identity is None:
        return None, redirect(f"{reverse('citizens_signin')}?{urlencode({'next': request.get_full_path()})}")
    return identity, None


def _own_application(identity: Identity, tracking_code: str) -> Submission:
    submission = (
        applications_of(identity).filter(tracking_code=tracking_code).select_related("form_version", "agency").prefetch_related("events").first()
    )
    if submission is None:
        raise Http404
    return submission


@never_cache
def my_applications(request):
    """``/my/``: the signed-in citizen's applications, and what other apps add (hooks)."""
    identity, response = _signed_in(request)
    if response:
        return response
    page = Paginator(applications_of(identity).prefetch_related("events"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "identity": identity,
        "page": page,
        "may_represent": bool(organisations(request)),
        "sections": _sections(MY_PAGE_SECTIONS_HOOK, request, identity),
    }
    return render(request, "form_builder/my/applications.html", context)


@never_cache
def my_application(request, tracking_code):
    """``/my/<tracking code>/``: one of the citizen's applications; anyone else's is a 404."""
    identity, response = _signed_in(request)
    if response:
        return response
    submission = _own_application(identity, tracking_code)
    from .stages import stage_rows

    context = {
        "identity": identity,
        "submission": submission,
        "timeline": timeline(submission),
        "stages": stage_rows(submission),
        "rows": answer_rows(submission.spec, submission.data, translation.get_language()),
        "sections": _sections(MY_APPLICATION_SECTIONS_HOOK, request, identity, submission),
    }
    return render(request, "form_builder/my/application.html", context)


def receipt_text(request, submission) -> str:
    """The receipt as plain text (the one the submitting browser downloads, and My applications)."""
    rows = answer_rows(submission.spec, submission.data, translation.get_language())
    lines = [
        _("Application receipt"),
        "",
        f"{_('Tracking code')}: {submission.tracking_code}",
        f"{_('Service')}: {submission.service_title} ({submission.service_code})",
        f"{_('Agency')}: {submission.agency.name_mn if submission.agency else ''}",
        f"{_('Submitted')}: {timezone.localtime(submission.submitted_at):%Y-%m-%d %H:%M}",
        f"{_('Follow its status at')}: {request.build_absolute_uri(reverse('track_status', args=[submission.tracking_code]))}",
        "",
        *[f"{row.label}: {row.text}" for row in rows],
        "",
    ]
    return "\n".join(lines)


def receipt_response(request, submission) -> HttpResponse:
    response = HttpResponse(receipt_text(request, submission), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{submission.tracking_code}.txt"'
    response["Cache-Control"] = "no-store"
    return response


@never_cache
def my_receipt(request, tracking_code):
    """``/my/<tracking code>/receipt/``: the receipt of one of the citizen's applications."""
    identity, response = _signed_in(request)
    if response:
        return response
    return receipt_response(request, _own_application(identity, tracking_code))


@csrf_exempt  # read-only: another method gets 405 from require_GET, not a CSRF page
@require_GET
@api_language
def api_my_submissions(request):
    """``GET /api/v1/my/submissions``: the signed-in citizen's applications (session cookie)."""
    identity = verified_identity(request)
    if identity is None:
        return error_response(401, "sign_in_required", gettext_lazy("Sign in through the national identity service (ДАН) first."))
    rows = list(applications_of(identity).prefetch_related("events")[:API_LIMIT])
    labels = dict(Status.choices)
    body = {
        "applicant_register_number": identity.applicant_register_number,
        "results": [
            {
                "tracking_code": s.tracking_code,
                "status": s.status,
                "status_label": str(labels.get(s.status, s.status)),
                "service": {"code": s.service_code, "title": s.service_title},
                "channel": s.source,
                "submitted_at": s.submitted_at.isoformat(),
                "timeline": [
                    {"status": row["status"], "label": str(row["label"]), "at": row["at"].isoformat(), "message": str(row["message"])}
                    for row in timeline(s)
                ],
                "receipt_url": request.build_absolute_uri(reverse("my_receipt", args=[s.tracking_code])),
            }
            for s in rows
        ],
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response
