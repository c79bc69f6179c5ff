"""A QPay-style payment provider: an invoice with a QR code and bank-app links, a signed callback.

The shape follows QPay's (invoice, QR text, bank deep links, callback, payment check, refund),
but the field names, paths and the signature are **modelled, not QPay's real contract**: an
agency's integration with the real QPay (or a bank) is a plugin of its own on the same kind.

- ``POST {url}/v2/invoice`` ``{"invoice_code", "sender_invoice_no", "amount", "currency",
  "invoice_description", "callback_url", "expires_at"}`` → ``{"invoice_id", "qr_text",
  "urls": [{"name", "link"}], "expires_at"}``; ``sender_invoice_no`` is the idempotency key;
- ``GET {url}/v2/payment/check/{invoice_id}`` → ``{"paid", "amount", "currency", "paid_at",
  "payment_id"}``;
- ``POST {url}/v2/payment/refund/{invoice_id}`` → ``{"refund_id"}``;
- the callback to Tumen: ``{"invoice_id", "payment_id", "amount", "currency"}``.

Every request and the callback carry ``X-QPay-Timestamp`` and ``X-QPay-Signature``
(``plugins.signing``: HMAC-SHA256 with the merchant's secret over
``"{timestamp}.{merchant}." + body`` for Tumen's requests, ``"{timestamp}.{invoice id}." + body``
for the provider's callback, 5-minute window). Requests go through ``plugins.http``.
"""

from __future__ import annotations

import datetime
import json

from django import forms
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from form_builder.payments import Invoice, ProviderStatus
from plugins import http, signing
from plugins.base import CheckResult, PaymentOptions, PaymentPlugin, PluginError, PluginUnavailable
from plugins.registry import register

TIMESTAMP, SIGNATURE = "X-QPay-Timestamp", "X-QPay-Signature"


class QPayOptions(PaymentOptions):
    url = forms.URLField(label=_("provider URL"), max_length=500, assume_scheme="https")
    merchant = forms.CharField(label=_("merchant (invoice code)"), max_length=100)
    secret = forms.CharField(label=_("signing secret"), max_length=500, widget=forms.PasswordInput, help_text=_("Given by the provider; never shown again."))
    timeout = forms.FloatField(label=_("timeout (seconds)"), min_value=0.5, max_value=15, initial=5)


def _call(method: str, options: dict, path: str, payload: dict | None, *, agency=None) -> dict:
    body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
    headers = {"Content-Type": "application/json", **_headers(options, body)}
    try:
        response = http.request(method, options["url"].rstrip("/") + path, body=body, headers=headers,
                                timeout=options.get("timeout") or 5, allow_private=bool(agency and agency.allow_private_endpoints))  # fmt: skip
    except http.BlockedURL as error:
        raise PluginError(f"the provider URL is not allowed: {error}") from None
    except http.HTTPFailure as error:
        raise PluginUnavailable(f"the provider did not answer: {error}") from None
    if not 200 <= response.status < 300:
        raise PluginUnavailable(f"the provider answered HTTP {response.status}")
    try:
        answer = json.loads(response.body)
    except ValueError:
        raise PluginUnavailable("the provider's answer is not JSON") from None
    if not isinstance(answer, dict):
        raise PluginUnavailable("the provider's answer is not an object")
    return answer


def _headers(options: dict, body: bytes) -> dict:
    signed = signing.signed_headers(options["secret"], [options["merchant"]], body)
    return {TIMESTAMP: signed["X-Tumen-Timestamp"], SIGNATURE: signed["X-Tumen-Signature"]}


def _when(value):
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


@register("qpay")
class QPayPlugin(PaymentPlugin):
    label = _("QPay-style invoice (QR code and bank apps)")
    version = "1.0"
    options_form = QPayOptions

    def create_invoice(self, request, options, *, agency=None):
        answer = _call("POST", options, "/v2/invoice", {
            "invoice_code": options["merchant"], "sender_invoice_no": request.key, "amount": request.amount,
            "currency": request.currency, "invoice_description": request.description,
            "callback_url": request.callback_url, "expires_at": request.expires_at.isoformat(),
        }, agency=agency)  # fmt: skip
        if not isinstance(answer.get("invoice_id"), str) or not answer["invoice_id"]:
            raise PluginUnavailable("the provider's invoice has no id")
        links = [
            {"name": str(item.get("name", ""))[:100], "link": str(item.get("link", ""))[:1000]}
            for item in answer.get("urls") or [] if isinstance(item, dict) and item.get("link")
        ]  # fmt: skip
        return Invoice(reference=answer["invoice_id"], qr_text=str(answer.get("qr_text", ""))[:2000], links=links[:20],
                       expires_at=_when(answer.get("expires_at")) or request.expires_at)  # fmt: skip

    def check(self, reference, options, *, agency=None):
        answer = _call("GET", options, f"/v2/payment/check/{reference}", None, agency=agency)
        amount = answer.get("amount")
        return ProviderStatus(
            paid=answer.get("paid") is True, amount=amount if isinstance(amount, int) else -1,
            currency=str(answer.get("currency", "")), paid_at=_when(answer.get("paid_at")),
            payment_id=str(answer.get("payment_id", "")),
        )  # fmt: skip

    def refund(self, reference, amount, options, *, agency=None):
        answer = _call("POST", options, f"/v2/payment/refund/{reference}", {"amount": amount}, agency=agency)
        return str(answer.get("refund_id", ""))

    def callback_reference(self, body, headers, options):
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("invoice_id"), str):
            raise PluginError("the callback names no invoice")
        if not signing.verify(options["secret"], headers.get(TIMESTAMP, ""), [data["invoice_id"]], body, headers.get(SIGNATURE, "")):
            raise PluginError("wrong or missing signature")
        return {"reference": data["invoice_id"], "amount": data.get("amount"), "currency": data.get("currency", "MNT")}

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        try:
            http.check_url(options["url"], allow_private=bool(agency and agency.allow_private_endpoints))
        except (http.BlockedURL, http.HTTPFailure) as error:
            return CheckResult(False, str(error))
        return CheckResult(True, "the provider URL is allowed (no invoice was made)")
