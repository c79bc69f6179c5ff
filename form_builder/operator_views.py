"""Operator mode: a soum operator applies for a citizen, who confirms; the office's queue.

Light pages (no JavaScript needed, a few kilobytes) for slow rural links. An operator starts an
application by identifying the citizen; the normal steps follow (so the same validation and the
same save/resume apply); on "check your answers" the citizen confirms with a code sent to their
phone, or the operator records an in-person confirmation with a reason. The submission keeps both
identities (``citizen`` and ``operator`` + ``office_soum``); deliveries carry both blocks.
"""

from __future__ import annotations

import datetime
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from wagtail import hooks

from core.api import error_response
from search import finder
from search.params import QueryError, parse_query

from . import access_log, consent, drafts, sms, validators
from .models import OperatorProfile, Status
from .submissions import ServiceUnavailable, application_for

OPEN_STATUSES = [s for s in Status.values if s not in (Status.COMPLETED, Status.REJECTED)]


def operator_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        profile = OperatorProfile.objects.select_related("soum__aimag", "aimag").filter(user=request.user).first()
        if profile is None:
            raise PermissionDenied
        request.operator = profile
        return view(request, *args, **kwargs)

    return wrapper


@operator_required
def queue(request):
    """Today's and still-open applications of the operator's office (an aimag's, for supervisors)."""
    profile = request.operator
    today = timezone.localdate()
    start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    submissions = profile.submissions().select_related("office_soum", "operator").prefetch_related("events")
    todays = list(submissions.filter(submitted_at__gte=start))
    open_ = list(submissions.filter(status__in=OPEN_STATUSES, submitted_at__lt=start)[:200])
    access_log.record_operator_lookup(request.user, todays + open_, detail="console")
    from django.db.models import Count

    from .statistics import processing_times

    by_service = profile.submissions().values("service_code", "service_title").annotate(count=Count("pk")).order_by("-count")[:20]
    times = {row.key: row for row in processing_times(submissions=profile.submissions())[0]}
    office_stats = [{**row, "median": times[row["service_code"]].median_days if row["service_code"] in times else None} for row in by_service]
    return render(
        request, "form_builder/operator/queue.html", {"profile": profile, "todays": todays, "open": open_, "office_stats": office_stats}
    )


def operator_api(view):
    """Like ``operator_required``, but an API answers 401/403 in JSON instead of a login page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return error_response(401, "unauthorized", _("Sign in as an operator."))
        profile = OperatorProfile.objects.select_related("soum__aimag", "aimag").filter(user=request.user).first()
        if profile is None:
            return error_response(403, "not_an_operator", _("Only soum operators and aimag supervisors may use this."))
        request.operator = profile
        return view(request, *args, **kwargs)

    return wrapper


@csrf_exempt  # read-only: another method gets 405 (before the sign-in check), not a CSRF page
@require_GET
@operator_api
def api_queue(request):
    """``GET /api/v1/operator/submissions``: the office's (or aimag's) applications as JSON, for
    the console on a tablet; signed-in operators only (session), scoped like the console."""
    from django.http import JsonResponse

    rows = list(request.operator.submissions().select_related("office_soum").order_by("-submitted_at")[:200])
    access_log.record_operator_lookup(request.user, rows, detail="api")
    return JsonResponse(
        {
            "office": request.operator.soum.code if request.operator.soum_id else None,
            "aimag": request.operator.aimag.code if request.operator.aimag_id else None,
            "results": [
                {
                    "tracking_code": s.tracking_code,
                    "service_code": s.service_code,
                    "status": s.status,
                    "stage": s.stage,
                    "citizen": s.citizen,
                    "office_soum": s.office_soum.code if s.office_soum_id else None,
                    "submitted_at": s.submitted_at.isoformat(),
                }
                for s in rows
            ],
        }
    )


@operator_required
def search(request):
    results = None
    rows = []
    if request.GET.get("q"):
        try:
            results = finder.search(parse_query(request.GET))
        except QueryError:
            results = None
    if results:
        rows = [{"page": hit.page, "links": service_links(request, hit.page)} for hit in results.hits]
    return render(request, "form_builder/operator/search.html", {"results": results, "rows": rows, "q": request.GET.get("q", "")})


def service_links(request, service) -> list[tuple[str, str]]:
    """What else an operator may do with a service, from the apps above this one: ``(label, URL)``
    pairs from the ``tumen_operator_service_links`` Wagtail hook (``fn(request, service)``; the
    plugins app adds "Issue the reference" for instant references, which take no application)."""
    links = []
    for fn in hooks.get_hooks("tumen_operator_service_links"):
        links.extend(fn(request, service) or [])
    return links


class CitizenForm(forms.Form):
    register_number = forms.CharField(label=_("Register number"), max_length=64)
    last_name = forms.CharField(label=_("Family name"), max_length=100)
    first_name = forms.CharField(label=_("Given name"), max_length=100)
    phone = forms.CharField(label=_("Phone number"), max_length=64)

    def clean_register_number(self):
        return validators.validate_register_number(self.cleaned_data["register_number"]).normalized

    def clean_phone(self):
        return validators.validate_mongolian_phone(self.cleaned_data["phone"])


@operator_required
def start(request, code):
    """Identify the citizen, then continue with the service's normal steps."""
    service = drafts.service_or_404(code)
    try:
        application = application_for(service, operator=True)
    except ServiceUnavailable as error:
        return drafts.unavailable(request, service, error)
    form = CitizenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        citizen = dict(form.cleaned_data)
        citizen["name"] = f"{citizen['last_name']} {citizen['first_name']}"
        draft = drafts.new_draft(service, application.version)
        draft.operator = request.user
        draft.citizen = citizen
        fields = application.version.spec.fields
        draft.data = {key: citizen[key] for key in ("register_number", "last_name", "first_name", "phone") if key in fields}
        draft.save()
        drafts.remember_draft(request, draft)
        return redirect(drafts.step_url(service, 0))
    return render(request, "form_builder/operator/start.html", {"service": service, "form": form}, status=400 if form.errors else 200)


def consent_proof(request, draft):
    """The consent given on the review page: ``(proof, None)``, or ``(None, message)``.

    A code typed in is checked first; otherwise the in-person record must be complete
    (``consent.InPersonForm``). Its field errors are shown through ``consent_form``.
    """
    if mismatch := consent.identity_mismatch(draft):
        return None, mismatch
    code = request.POST.get("consent_code", "").strip()
    if code:
        try:
            return consent.check_code(draft, code, request.user), None
        except consent.ConsentError as error:
            return None, error.message
    form = consent.InPersonForm(request.POST)
    if consent.InPersonForm.posted(request.POST):
        if form.is_valid():
            return form.proof(request.user), None
        request.consent_form = form
        return None, _("Record the in-person confirmation completely: the reason, the identity document you checked and its number.")
    return None, _("The citizen must confirm: enter the code sent to their phone, or record why they confirmed in person.")


def send_consent_code(request, draft, service):
    """Send the citizen a code; ``None`` when done (sent, or the SMS failure told as a message), else
    the ``ConsentError`` to show on the review page."""
    try:
        masked = consent.send_code(
            draft, service.title, request.user, code_to=request.POST.get("code_to", ""), agency=service.agency
        )
    except consent.ConsentError as error:
        return error
    except sms.SmsNotConfigured:
        messages.error(request, _("SMS is not configured on this site, so no code was sent. Record the citizen's in-person confirmation instead."))  # fmt: skip
        return None
    except sms.SmsFailed:
        messages.error(request, _("The code could not be sent: the SMS service did not accept it. Try again, or record the citizen's in-person confirmation."))  # fmt: skip
        return None
    messages.success(request, _("A confirmation code was sent to %(phone)s.") % {"phone": masked})
    return None


def consent_context(request, draft) -> dict:
    """What the review page shows the operator about the citizen's confirmation."""
    where = consent.destination(draft)
    sent = draft.consent if draft.consent.get("code_hash") else {}
    return {
        "code_sent": bool(sent),
        "code_sent_to": consent.mask_phone(sent.get("phone", "")) if sent else "",
        "code_expires": datetime.datetime.fromisoformat(sent["expires"]) if sent.get("expires") else None,
        "phone_given": consent.mask_phone(where.given),
        "phone_earlier": consent.mask_phone(where.earlier) if where.mismatch else "",
        "consent_form": getattr(request, "consent_form", None) or consent.InPersonForm(),
    }


def validate_operator(request, draft):
    if draft.operator_id != request.user.pk:
        raise PermissionDenied
    profile = OperatorProfile.objects.filter(user=request.user).first()
    if profile is None:
        raise PermissionDenied
    return profile

