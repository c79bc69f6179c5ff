"""Paying the fee: the citizen's ``/pay/<tracking code>/`` step and the operator's office payment.

After "check your answers" an application of a fee-charging service is stored (so nothing is
lost if paying fails) and waits in "awaiting payment"; the citizen is sent here. The page shows
the fee; "Pay" makes the invoice (once: a double click finds the same one) and shows its QR code
(segno, inline SVG) and bank-app links. It is resumable by tracking code while the invoice is
valid, and offers a new invoice once it expired. "I have paid" asks the provider at once (the
callback normally comes first). The page holds no personal data: the tracking code is enough,
rate limited like the tracking page.

The soum operator (``/operator/pay/<tracking code>/``, their office's applications only) records
cash or a card-terminal payment with its receipt number, or shows the citizen the QR code.
"""

from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.api import api_language, error_response

from . import payments, ratelimit
from .models import Status, Submission, normalize_tracking_code
from .operator_views import operator_required
from .payments import PaymentMethod, PaymentState


def _submission_or_404(tracking_code, queryset=None) -> Submission:
    code = normalize_tracking_code(tracking_code)
    submission = (queryset if queryset is not None else Submission.objects).filter(tracking_code=code).select_related("agency").first() if code else None
    if submission is None:
        raise Http404
    return submission


def qr_svg(text: str):
    """The invoice's QR code as inline SVG (no image request, no script: the strict CSP holds)."""
    if not text:
        return ""
    # segno draws the code as paths; the only text is our own title (no markup in it).
    return mark_safe(segno.make(text, error="m").svg_inline(scale=5, title=_("QR code of the invoice")))  # noqa: S308


def _payment_context(submission) -> dict:
    payments_ = list(submission.payments.all())
    paid = next((p for p in payments_ if p.state == PaymentState.PAID), None)
    open_ = next((p for p in payments_ if p.is_open), None)
    expired = not open_ and not paid and any(p.state in (PaymentState.EXPIRED, PaymentState.PENDING) for p in payments_)
    return {
        "submission": submission,
        "paid": paid,
        "invoice": open_,
        "expired": expired,
        "qr": qr_svg(open_.qr_text) if open_ else "",
        "awaiting": submission.status == Status.AWAITING_PAYMENT,
    }


def _act(request, submission):
    """"Pay" (make or find the invoice) and "I have paid" (ask the provider); ``None`` or an error."""
    action = request.POST.get("action")
    try:
        if action == "pay":
            payments.start_payment(submission)
        elif action == "check":
            invoice = submission.payments.filter(state=PaymentState.PENDING).first()
            if invoice is not None:
                invoice = payments.check_with_provider(invoice)
                if invoice.state != PaymentState.PAID:
                    messages.info(request, _("The payment has not arrived yet. If you have paid, wait a minute and check again."))
        else:
            return _("Unknown action."), 400
    except payments.PaymentUnavailable as error:
        return str(error.message), 503
    except payments.PaymentRefused:
        return _("The payment does not match the invoice. Staff were told; contact the agency."), 409
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request, tracking_code):
    verdict = ratelimit.check_lookup(request, "track")
    if not verdict.allowed:
        response = render(request, "form_builder/throttled.html", {"seconds": verdict.retry_after}, status=429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    submission = _submission_or_404(tracking_code)
    if not submission.fee_mnt or not (submission.status == Status.AWAITING_PAYMENT or submission.payments.exists()):
        return redirect("track_status", tracking_code=submission.tracking_code)
    error, status = None, 200
    if request.method == "POST":
        refused = _act(request, submission)
        if refused is None:
            return redirect("form_pay", tracking_code=submission.tracking_code)
        error, status = refused
        submission.refresh_from_db()
    return render(request, "form_builder/pay.html", {**_payment_context(submission), "error": error}, status=status)


# -- the soum operator -------------------------------------------------------------------------


class OfficePaymentForm(forms.Form):
    method = forms.ChoiceField(
        label=gettext_lazy("How the citizen paid"), choices=[(PaymentMethod.CASH, PaymentMethod.CASH.label), (PaymentMethod.CARD, PaymentMethod.CARD.label)],
        widget=forms.RadioSelect,
    )  # fmt: skip
    receipt_number = forms.RegexField(
        label=gettext_lazy("Receipt number"), max_length=64, regex=r"^[0-9A-Za-zА-Яа-яӨөҮүЁё\-/ ]{3,64}$",
        error_messages={"invalid": gettext_lazy("Enter the receipt number as printed (letters, digits, - and /).")},
    )  # fmt: skip


@never_cache
@operator_required
@require_http_methods(["GET", "POST"])
def operator_pay(request, tracking_code):
    """Only the operator's office's applications (another office's: 404)."""
    submission = _submission_or_404(tracking_code, request.operator.submissions())
    error, status = None, 200
    form = OfficePaymentForm()
    if request.method == "POST" and request.POST.get("action") == "record":
        form = OfficePaymentForm(request.POST)
        if not form.is_valid():
            status = 400
        elif submission.status != Status.AWAITING_PAYMENT:
            error, status = _("This application is not waiting for a payment."), 409
        else:
            payments.record_office_payment(
                submission, method=form.cleaned_data["method"], receipt_number=form.cleaned_data["receipt_number"].strip(), operator=request.user
            )
            messages.success(request, _("The payment was recorded; the application goes to the agency."))
            return redirect("operator_pay", tracking_code=submission.tracking_code)
    elif request.method == "POST":
        refused = _act(request, submission)
        if refused is None:
            return redirect("operator_pay", tracking_code=submission.tracking_code)
        error, status = refused
    submission.refresh_from_db()
    context = {**_payment_context(submission), "form": form, "error": error, "operator_mode": True}
    return render(request, "form_builder/operator/pay.html", context, status=status)


# -- the API (mobile apps, kiosks) -------------------------------------------------------------


def payment_payload(submission) -> dict:
    """What the tracking code alone may reveal of the payment: the fee, the state, the open
    invoice (QR text, bank-app links, expiry) or the confirmed payment."""
    context = _payment_context(submission)
    invoice, paid = context["invoice"], context["paid"]
    return {
        "tracking_code": submission.tracking_code,
        "fee_mnt": submission.fee_mnt,
        "currency": payments.CURRENCY,
        "state": "paid" if paid else "invoice_open" if invoice else "expired" if context["expired"] else "awaiting_payment" if context["awaiting"] else "none",
        "invoice": {"reference": invoice.reference, "qr_text": invoice.qr_text, "links": invoice.links,
                    "expires_at": invoice.expires_at.isoformat() if invoice.expires_at else None} if invoice else None,
        "paid": {"amount": paid.amount, "method": paid.method, "reference": paid.reference,
                 "paid_at": paid.paid_at.isoformat() if paid.paid_at else None} if paid else None,
    }  # fmt: skip


@csrf_exempt  # no session or cookie speaks here: the tracking code is the only key, as for GET
@require_http_methods(["GET", "POST"])
@api_language
def api_payment(request, tracking_code):
    """``GET /api/v1/submissions/<code>/payment``: the payment; ``POST``: make (or find) the invoice."""
    verdict = ratelimit.check_lookup(request, "track")
    if not verdict.allowed:
        response = error_response(429, "rate_limited", gettext_lazy("Too many requests. Try again in %(seconds)s seconds."), seconds=verdict.retry_after)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    code = normalize_tracking_code(tracking_code)
    submission = Submission.objects.filter(tracking_code=code).first() if code else None
    if submission is None:
        return error_response(404, "submission_not_found", gettext_lazy("No application has this tracking code."))
    status = 200
    if request.method == "POST":
        if submission.status != Status.AWAITING_PAYMENT:
            return error_response(409, "nothing_to_pay", gettext_lazy("This application is not waiting for a payment."))
        try:
            payments.start_payment(submission)
        except payments.PaymentUnavailable:
            return error_response(503, "provider_unavailable", payments.PaymentUnavailable.message)
        status = 201
    response = JsonResponse(payment_payload(submission), status=status)
    response["Cache-Control"] = "no-store"
    return response
