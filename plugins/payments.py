"""Payment providers: the configured payment plugin of a service, and the providers' callbacks.

``form_builder.payments`` owns payments and their states; it asks for a provider through
``form_builder.signals.payment_gateway_requested``, which :func:`gateway_for_submission` answers
with a :class:`ConfiguredGateway`: the service's (or its agency's) enabled ``payment``
:class:`PluginConfig` with its options, shaped as ``form_builder.payments.Gateway``.

The provider's callback, ``POST /api/v1/payments/<config id>/callback``
(:func:`payment_callback`), is checked by the plugin (its signature) and only says "ask me":
the payment is then confirmed by asking the provider (``check_with_provider``), so a forged,
replayed or duplicated callback never marks anything paid by itself. A wrong signature, amount
or currency is answered 4xx and logged.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api import api_language, error_response
from form_builder import payments
from form_builder.models import Payment
from service_pages.models import Agency

from .base import InvoiceRequest, PluginError
from .models import PluginConfig, configs_for

logger = logging.getLogger("tumen.payments")
MAX_CALLBACK_BYTES = 64 * 1024


def public_url(path: str) -> str:
    base = (getattr(settings, "TUMEN_PUBLIC_URL", "") or settings.WAGTAILADMIN_BASE_URL).rstrip("/")
    return f"{base}{path}"


class ConfiguredGateway:
    """One payment ``PluginConfig`` as ``form_builder.payments.Gateway``."""

    def __init__(self, config: PluginConfig, agency=None):
        self.config = config
        self.plugin = config.plugin
        self.options = config.options or {}
        self.provider = config.plugin_id
        self.config_id = config.pk
        self.refund_on_rejection = bool(self.options.get("refund_on_rejection"))
        self.agency = agency

    def create_invoice(self, payment, *, key: str):
        submission = payment.submission
        request = InvoiceRequest(
            key=key,
            amount=payment.amount,
            currency=payment.currency,
            description=f"{submission.tracking_code} {submission.service_title}"[:255],
            callback_url=public_url(reverse("api_payment_callback", args=[self.config_id])),
            expires_at=timezone.now() + datetime.timedelta(minutes=int(self.options.get("expiry_minutes") or 30)),
        )
        invoice = self.plugin.create_invoice(request, self.options, agency=self.agency)
        if invoice.expires_at is None:
            invoice.expires_at = request.expires_at
        return invoice

    def check(self, payment):
        return self.plugin.check(payment.reference, self.options, agency=self.agency)

    def refund(self, payment):
        return self.plugin.refund(payment.reference, payment.amount, self.options, agency=self.agency)


def gateway_for_submission(sender=None, submission=None, config_id=None, **kwargs):
    """Answer ``payment_gateway_requested``: the configuration that made an invoice, or the
    service's current payment configuration (the first, most specific), or None."""
    agency = submission.agency if submission.agency_id else None
    if config_id is not None:
        config = PluginConfig.objects.filter(pk=config_id).first()
        if config is None or config.kind != "payment":
            return None
        return ConfiguredGateway(config, agency)
    service = submission.service
    if service is None:
        return None
    configs = configs_for(service, "payment", agency=Agency.objects.filter(pk=submission.agency_id).first())
    return ConfiguredGateway(configs[0], agency) if configs else None


@csrf_exempt
@require_POST
@api_language
def payment_callback(request, config_id):
    """A provider says an invoice changed: check its signature, then ask the provider."""
    # Any text in the path reaches here (a JSON 404, not the site's HTML one, for a malformed id).
    well_formed = config_id.isascii() and config_id.isdigit() and len(config_id) < 12
    config = PluginConfig.objects.filter(pk=int(config_id), enabled=True).first() if well_formed else None
    if config is None or config.kind != "payment":
        return error_response(404, "provider_not_found", _("No payment provider is configured under this address."))
    body = request.body
    if len(body) > MAX_CALLBACK_BYTES:
        return error_response(413, "too_large", _("The callback is too large."))
    try:
        claimed = config.plugin.callback_reference(body, request.headers, config.options)
    except (PluginError, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, RecursionError) as error:
        logger.warning("payment callback refused for configuration %s: %s", config.pk, error)
        return error_response(403, "bad_signature", _("The callback's signature is missing or wrong."))
    payment = Payment.objects.filter(config_id=config.pk, reference=str(claimed.get("reference", ""))[:100]).select_related("submission").first()
    if payment is None:
        return error_response(404, "invoice_not_found", _("No invoice of this provider has this reference."))
    if "amount" in claimed and (claimed.get("amount") != payment.amount or str(claimed.get("currency", payment.currency)).upper() != payment.currency):
        logger.warning("payment callback refused for payment %s: it claims %s %s", payment.pk, claimed.get("amount"), claimed.get("currency"))
        return error_response(400, "wrong_amount", _("The amount or currency does not match the invoice."))
    try:
        payment = payments.check_with_provider(payment)
    except payments.PaymentRefused:
        return error_response(400, "wrong_amount", _("The amount or currency does not match the invoice."))
    except payments.PaymentUnavailable:
        return error_response(503, "provider_unavailable", _("The payment provider did not confirm the payment; it will be asked again."))
    return _ok(payment)


def _ok(payment):
    return JsonResponse({"state": payment.state})
