"""The SMS gateway that texts citizens, configured in the admin like any plugin.

``form_builder.sms.send`` asks through the ``sms_requested`` signal; :func:`send_through_gateway`
answers with the agency's own enabled SMS configuration, else the national one (no agency). With
neither it answers False and form_builder uses its settings' sender. Only agency-wide (not
per-service) configurations count: a text message is about the citizen, not one service.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Q

from .exceptions import SmsError
from .models import PluginConfig
from .registry import register


def sms_config(agency=None) -> PluginConfig | None:
    """The enabled SMS gateway configuration for ``agency``: its own, else the national one."""
    plugin_ids = [plugin.id for plugin in register.of_kind("sms")]
    scope = Q(agency__isnull=True) | Q(agency=agency) if agency is not None else Q(agency__isnull=True)
    configs = PluginConfig.objects.filter(scope, plugin_id__in=plugin_ids, service__isnull=True, enabled=True).select_related("agency")
    return min(configs, key=lambda config: (config.agency_id is None, config.pk), default=None)


def send_through_gateway(sender=None, *, phone: str, text: str, agency=None, **kwargs) -> bool:
    """``sms_requested`` receiver: send through the configured gateway; False if there is none."""
    config = sms_config(agency)
    if config is None:
        return False
    plugin = config.plugin
    try:
        options = plugin.clean_options(config.options)
    except ValidationError:
        raise SmsError(f"the options of {config} are invalid") from None
    plugin.send(phone, text, options, agency=config.agency or agency)
    return True


def check_gateway(app_configs=None, databases=None, **kwargs):
    """System check (with ``--database``, and on ``migrate``): without DEBUG, some SMS must go out."""
    if settings.DEBUG or not databases or (settings.TUMEN_CONSENT_SENDER and settings.TUMEN_NOTIFY_SENDER):
        return []
    gateways = PluginConfig.objects.filter(plugin_id__in=[plugin.id for plugin in register.of_kind("sms")], enabled=True)
    try:
        configured = gateways.filter(service__isnull=True).exists()
    except DatabaseError:  # not migrated yet
        return []
    if configured:
        return []
    return [
        checks.Warning(
            "No SMS gateway is configured and TUMEN_CONSENT_SENDER or TUMEN_NOTIFY_SENDER is empty: operators cannot "
            "text consent codes, or citizens get no status messages (the log-only sender works only with DEBUG on).",
            hint="Add an 'sms_http' plugin configuration for all agencies in the admin (Delivery → Plugin "
            "configurations), or name a sender class in those settings.",
            id="plugins.W001",
        )
    ]
