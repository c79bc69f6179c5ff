"""Delivery out of the box: an imported agency with an endpoint gets its signed webhook target.

``import_agencies --endpoint-base URL`` (and ``load_demo_catalog --endpoint-base URL``) send
``service_pages.catalog.agencies_imported``; :func:`provision_webhook_targets` answers it inside
the import's transaction. Each agency with an ``endpoint_url`` and no delivery target of its own
(nor one for every agency) gets a ``webhook`` configuration named ``default`` with a generated
signing secret and no URL of its own, so it follows the agency's ``endpoint_url``. The secret is
returned once, for the command to print (it is stored encrypted and never shown again); an
agency that already has a target keeps it untouched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from .models import PluginConfig
from .registry import register

WEBHOOK = "webhook"
TARGET_NAME = "default"


@dataclass
class ProvisionedTarget:
    agency_code: str
    config_id: int
    created: bool
    secret: str = ""  # only when created: the one time it can be read
    url: str = ""

    @property
    def admin_url(self) -> str:
        base = getattr(settings, "WAGTAILADMIN_BASE_URL", "").rstrip("/")
        return base + reverse("plugin_configs:inspect", args=[self.config_id])


def existing_target(agency) -> PluginConfig | None:
    """A delivery configuration that already applies to the agency's services as a whole."""
    delivery_ids = [plugin.id for plugin in register.of_kind("delivery")]
    return (
        PluginConfig.objects.filter(
            Q(agency=agency) | Q(agency__isnull=True), service__isnull=True, plugin_id__in=delivery_ids
        )
        .order_by("agency_id", "pk")
        .first()
    )


def provision_webhook_targets(sender=None, agencies=(), **kwargs) -> list[ProvisionedTarget]:
    result = []
    for agency in agencies:
        if not agency.endpoint_url:
            continue
        found = existing_target(agency)
        if found is not None:
            result.append(ProvisionedTarget(agency.code, found.pk, created=False, url=agency.endpoint_url))
            continue
        secret = secrets.token_urlsafe(32)
        config = PluginConfig(plugin_id=WEBHOOK, name=TARGET_NAME, agency=agency, options={"secret": secret})
        config.full_clean()  # the plugin's own validation of the options
        config.save()
        result.append(ProvisionedTarget(agency.code, config.pk, created=True, secret=secret, url=agency.endpoint_url))
    return result
