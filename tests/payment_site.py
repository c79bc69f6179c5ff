"""What the payment browser tests (tests/test_browser_payments.py) need on the live site.

``python -m tests.payment_site seed <provider url> <agency url>`` (with the live site's
environment) picks an online service of an agency that has no plugin configuration yet, gives it a
fee, and switches on the fake provider (``tests/payment_provider.py``) and a webhook to the
stand-in agency for that service only; prints ``{"service": code}`` as JSON.
``python -m tests.payment_site drain <tracking code>`` runs the delivery worker once and prints
the application's status, as JSON.
"""

from __future__ import annotations

import json
import sys

FEE = 7000


def seed(provider_url: str, agency_url: str) -> dict:
    from plugins.models import PluginConfig
    from service_pages.models import ServicePage
    from tests.payment_provider import MERCHANT, SECRET

    configured = PluginConfig.objects.exclude(agency__isnull=True).values_list("agency_id", flat=True)
    services = ServicePage.objects.live().canonical().filter(channel_online=True, stages__lte=1).exclude(code="DEMO-00001")
    service = services.exclude(agency_id__in=configured).order_by("-code").first()
    ServicePage.objects.filter(pk=service.pk).update(fee_mnt=FEE)
    options = {"url": provider_url, "merchant": MERCHANT, "secret": SECRET, "timeout": 5, "expiry_minutes": 30}
    PluginConfig.objects.update_or_create(plugin_id="qpay", name="browser", agency=service.agency, service=service, defaults={"options": options})
    PluginConfig.objects.update_or_create(
        plugin_id="webhook", name="browser", agency=service.agency, service=service,
        defaults={"options": {"url": agency_url, "secret": "browser-payments-secret-0123"}},
    )  # fmt: skip
    return {"service": service.code, "fee": FEE}


def drain(tracking_code: str) -> dict:
    from form_builder.models import Submission
    from plugins.delivery import drain as drain_due

    drain_due()
    return {"status": Submission.objects.get(tracking_code=tracking_code).status}


if __name__ == "__main__":
    import django

    django.setup()
    command, *args = sys.argv[1:]
    print(json.dumps(seed(*args) if command == "seed" else drain(*args)))
