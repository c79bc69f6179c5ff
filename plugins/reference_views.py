"""The pages that issue an instant reference: the signed-in citizen's, and the soum operator's.

- ``/references/<code>/``: a signed-in citizen (``citizens.identity.verified_identity``) clicks
  "Get the reference"; an anonymous visitor is sent to sign in (``citizens_signin``) with ``next``
  back here.
- ``/operator/references/<code>/``: a soum operator records the citizen present at the office
  (register number, name) and how they checked who it is (the identity document, a reason), and
  prints the reference.

Each page's form carries a random ``request_token``: submitting the same form twice (a double
click, "retry" after an error) is the same request, which issues at most one document
(``plugins.references.get_reference`` and ``documents.issuing``). After issuing, the browser
is redirected to the document's page (POST/redirect/GET), where it is downloaded or printed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from citizens.identity import verified_identity
from documents import issuing
from documents.access import may_download
from documents.models import IssuedDocument
from form_builder import ratelimit, validators
from form_builder.consent import ID_DOCUMENTS, InPersonForm
from form_builder.operator_views import operator_required
from service_pages.models import ServicePage

from .references import ReferenceFailed, get_reference

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Without a usable token, requests of the same person and service within this window are one.
FALLBACK_WINDOW_SECONDS = 60


def _service(code: str) -> ServicePage:
    service = ServicePage.objects.select_related("agency").by_code(code)
    if service is None or not service.live or not service.instant_reference:
        raise Http404
    return service


def sign_in_url(next_url: str) -> str:
    """The citizen sign-in page (``citizens_signin``, the national identity service) with ``next``."""
    base = reverse("citizens_signin")
    return f"{base}?{urlencode({'next': next_url})}"


def request_token(post) -> str:
    token = str(post.get("request_token", ""))
    return token if TOKEN.fullmatch(token) else f"window:{int(time.time() // FALLBACK_WINDOW_SECONDS)}"


def _limited(key: str, request_key: str):
    """The per-person limit's refusal, or None; a request already answered (a retry) is not counted."""
    rate = ratelimit.Rate.parse(getattr(settings, "TUMEN_RATE_REFERENCES", ""))
    if rate is None or issuing.existing(request_key) is not None:
        return None
    verdict = ratelimit.hit(key, rate)
    return None if verdict.allowed else verdict


def _throttled(request, verdict):
    response = render(request, "form_builder/throttled.html", {"seconds": verdict.retry_after}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def _failed(request, template, context, failure: ReferenceFailed):
    context = {**context, "error": failure.message, "error_code": failure.code, "request_token": secrets.token_urlsafe(18)}
    return render(request, template, context, status=failure.status)


@never_cache
@require_http_methods(["GET", "POST"])
def citizen_reference(request, code):
    service = _service(code)
    identity = verified_identity(request)
    if identity is None:
        return HttpResponseRedirect(sign_in_url(request.get_full_path()))
    context = {"service": service, "identity": identity}
    if request.method == "GET":
        return render(request, "plugins/reference_request.html", {**context, "request_token": secrets.token_urlsafe(18)})
    holder = identity.applicant_register_number
    key = issuing.idempotency_key("citizen", holder, service.pk, request_token(request.POST))
    holder_key = hashlib.sha256(holder.encode()).hexdigest()[:32]  # no register numbers in counter keys
    if verdict := _limited(f"reference:holder:{holder_key}", key):
        return _throttled(request, verdict)
    if identity.represents:
        name = ""  # the organisation's name is not in the identity; its register number is
        last_name = first_name = ""
    else:
        name, last_name, first_name = identity.full_name, identity.last_name, identity.first_name
    try:
        document, _created = get_reference(
            service, issuing.Holder(holder, name), last_name=last_name, first_name=first_name, key=key,
        )  # fmt: skip
    except ReferenceFailed as failure:
        return _failed(request, "plugins/reference_request.html", context, failure)
    return HttpResponseRedirect(reverse("reference_issued", args=[service.code, document.verification_code]))


@never_cache
def reference_issued(request, code, document_code):
    """The issued reference: download, print, and how anyone can check it."""
    document = IssuedDocument.objects.select_related("agency", "service").filter(verification_code=document_code).first()
    if document is None or document.service is None or document.service.code != code or not may_download(request, document):
        raise Http404
    return render(request, "plugins/reference_issued.html", {"document": document, "verify_url": issuing.verify_url(document.verification_code)})


# -- operator mode -----------------------------------------------------------------------------------

REFERENCE_REASONS = [
    ("cannot_sign_in", _("The citizen cannot sign in online (no phone or e-signature)")),
    ("asked_at_office", _("The citizen asked for the reference at the office")),
    ("other", _("Another reason (explain in the note)")),
]


class OperatorReferenceForm(InPersonForm):
    """The citizen at the office, and how the operator checked who they are (``consent.InPersonForm``'s rules)."""

    use_required_attribute = True

    register_number = forms.CharField(label=_("Register number"), max_length=64)
    last_name = forms.CharField(label=_("Family name"), max_length=100)
    first_name = forms.CharField(label=_("Given name"), max_length=100)
    in_person_reason = forms.ChoiceField(label=_("Why at the office"), choices=[("", "—"), *REFERENCE_REASONS])
    id_document_type = forms.ChoiceField(label=_("Identity document checked"), choices=[("", "—"), *ID_DOCUMENTS])
    in_person_checked = forms.BooleanField(
        label=_("I saw the citizen and the identity document in person, and the citizen asked for this reference.")
    )

    field_order = ["register_number", "last_name", "first_name", "in_person_reason", "id_document_type",
                   "id_document_number", "in_person_note", "in_person_checked"]  # fmt: skip

    def clean_register_number(self):
        return validators.validate_register_number(self.cleaned_data["register_number"]).normalized

    def proof(self, operator) -> dict:
        proof = super().proof(operator)
        proof["method"] = "in_person_reference"
        return proof


def _office(profile) -> str:
    place = profile.soum or profile.aimag
    return profile.office_name or (place.name_mn if place else "")


@never_cache
@require_http_methods(["GET", "POST"])
@operator_required
def operator_reference(request, code):
    service = _service(code)
    form = OperatorReferenceForm(request.POST or None)
    context = {"service": service, "form": form}
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "plugins/operator_reference.html", {**context, "request_token": secrets.token_urlsafe(18)}, status=status)
    data = form.cleaned_data
    register_number = data["register_number"]
    key = issuing.idempotency_key("operator", request.user.pk, register_number, service.pk, request_token(request.POST))
    if verdict := _limited(f"reference:operator:{request.user.pk}", key):
        return _throttled(request, verdict)
    profile = request.operator
    office = _office(profile)
    operator_name = request.user.get_full_name() or request.user.get_username()
    try:
        document, _created = get_reference(
            service, issuing.Holder(register_number, f"{data['last_name']} {data['first_name']}"),
            last_name=data["last_name"], first_name=data["first_name"], key=key, operator=request.user,
            in_person={**form.proof(request.user), "office": office},
            operator_block={"username": request.user.get_username(), "name": operator_name, "office": office},
            operator_line=f"Олгосон: {office}, оператор {operator_name} / Issued at {office} by operator {operator_name}",
        )  # fmt: skip
    except ReferenceFailed as failure:
        return _failed(request, "plugins/operator_reference.html", context, failure)
    return HttpResponseRedirect(reverse("reference_issued", args=[service.code, document.verification_code]))
