"""Checking a document (``/verify/<code>/``, public), downloading it (holder, issuing operator,
the agency's moderators), and the citizen's "My documents" section of the My applications page.

Verification shows what is needed to trust a paper, never what it says about the person: the
issuing agency, the service, the kind and title of the document, when it was issued, the
SHA-256 of the file and whether it is still valid. An unknown or mistyped code is a 404. Lookups
are rate-limited per client (``TUMEN_RATE_VERIFY``) so codes cannot be guessed in bulk.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.api import api_language, error_response
from form_builder import access_log, ratelimit

from .access import HOLDER, documents_of, download_right
from .models import IssuedDocument, normalize_verification_code

MAX_CHECK_BYTES = 10 * 1024 * 1024


def _throttled(request):
    """The per-client verdict of ``TUMEN_RATE_VERIFY`` (shared by the page and the API)."""
    rate = ratelimit.Rate.parse(getattr(settings, "TUMEN_RATE_VERIFY", ""))
    verdict = ratelimit.hit(f"verify:ip:{ratelimit.client_bucket(request)}", rate)
    return None if verdict.allowed else verdict


def _find(code: str) -> IssuedDocument | None:
    normalized = normalize_verification_code(code)
    if not normalized:
        return None
    return IssuedDocument.objects.select_related("agency", "service").filter(verification_code=normalized).first()


def public_facts(document: IssuedDocument, language: str) -> dict:
    """What anyone may know about a document: no holder, no register number, no data rows."""
    agency = document.agency
    service = document.service
    return {
        "verification_code": document.verification_code,
        "kind": document.kind,
        "title": document.title_in(language),
        "agency": {"code": agency.code, "name": agency.name_en if language == "en" and agency.name_en else agency.name_mn},
        "service": (
            {"code": service.code, "title": service.title_en if language == "en" and service.title_en else service.title}
            if service is not None
            else None
        ),
        "issued_at": document.issued_at.isoformat(),
        "valid_until": document.valid_until.isoformat() if document.valid_until else None,
        "sha256": document.sha256,
        "valid": document.valid,
        "revoked": document.revoked,
        "revoked_at": document.revoked_at.isoformat() if document.revoked_at else None,
        "expired": document.expired,
    }


@never_cache
@require_http_methods(["GET", "POST"])
def verify_page(request, code=""):
    """``/verify/`` (type a code) and ``/verify/<code>/`` (the QR code's link). A POST with a PDF
    compares the file's SHA-256 with the issued one."""
    if not code:
        typed = request.GET.get("code", "")
        if typed:
            normalized = normalize_verification_code(typed)
            if normalized:
                return HttpResponseRedirect(reverse("document_verify", args=[normalized]))
            return render(request, "documents/verify_form.html", {"code": typed, "invalid": True}, status=404)
        return render(request, "documents/verify_form.html", {})
    verdict = _throttled(request)
    if verdict is not None:
        response = render(request, "documents/throttled.html", {"seconds": verdict.retry_after}, status=429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    document = _find(code)
    if document is None:
        return render(request, "documents/verify_form.html", {"code": code, "not_found": True}, status=404)
    if document.verification_code != code:
        return HttpResponseRedirect(reverse("document_verify", args=[document.verification_code]))
    context = {"document": document, "facts": public_facts(document, translation.get_language() or "mn")}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["check_error"] = _("Choose the PDF file to compare.")
            status = 400
        elif upload.size > MAX_CHECK_BYTES:
            context["check_error"] = _("The file is too large to be this document.")
            status = 400
        else:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            context["file_matches"] = digest.hexdigest() == document.sha256
    return render(request, "documents/verify.html", context, status=status)


@csrf_exempt  # read-only: another method gets 405, not a CSRF page
@require_GET
@api_language
def verify_api(request, code):
    """``GET /api/v1/documents/<code>/verify``: the public facts of a document as JSON."""
    verdict = _throttled(request)
    if verdict is not None:
        response = error_response(429, "rate_limited", gettext_lazy("Too many requests. Try again in %(seconds)s seconds."), seconds=verdict.retry_after)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    document = _find(code)
    if document is None:
        return error_response(404, "document_not_found", gettext_lazy("No document has this verification code."))
    return JsonResponse(public_facts(document, translation.get_language() or "mn"))


@never_cache
@require_GET
def download(request, code):
    """The PDF, for those :func:`documents.access.download_right` allows; 404 for everyone else.

    Every download by someone other than the holder (the operator printing what they issued, an
    agency's staff reading a result document) is written to the access log
    (``form_builder.access_log.record_document_download``): who, which document, when, through
    which agency, and whether it was printed. The holder's own downloads are not logged: the log
    watches staff and operators handling citizens' data, and a citizen opening their own document
    is no such access; logging it would only build a record of the citizen's activity, readable
    by the agency's moderators, that serves no oversight.
    """
    document = _find(code)
    right = download_right(request, document) if document is not None and document.verification_code == code else None
    if right is None:
        raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    inline = request.GET.get("print") == "1"
    if right != HOLDER:
        access_log.record_document_download(
            request.user, agency_id=document.agency_id, document_code=document.verification_code,
            submission=document.submission, detail=f"{'print' if inline else 'download'} ({right})",
        )  # fmt: skip
    response = FileResponse(handle, content_type="application/pdf", as_attachment=not inline, filename=f"{code}.pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def my_documents_section(request, identity) -> list[str]:
    """The "My documents" section of the My applications page (``/my/``): a function for the
    ``tumen_my_page_sections`` Wagtail hook (``form_builder.my_views``), called with the signed-in
    citizen's identity; returns the sections to add."""
    return [_documents_section(request, documents_of(identity)[:100], empty=True)]


def my_application_documents_section(request, identity, submission) -> list[str]:
    """The result documents of one of the citizen's applications (``/my/<tracking code>/``): a
    function for the ``tumen_my_application_sections`` hook; nothing when there are none."""
    documents = list(documents_of(identity).filter(submission=submission))
    return [_documents_section(request, documents, empty=False)] if documents else []


def _documents_section(request, documents, *, empty: bool) -> str:
    language = translation.get_language() or "mn"
    rows = [{"document": document, "title": document.title_in(language)} for document in documents]
    return render_to_string("documents/my_documents.html", {"rows": rows, "show_empty": empty}, request=request)
