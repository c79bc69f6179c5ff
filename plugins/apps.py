from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PluginsConfig(AppConfig):
    """Plugin API, registry and delivery outbox (see docs/ARCHITECTURE.md and docs/plugins.md)."""

    name = "plugins"
    verbose_name = _("Plugins and delivery")

    def ready(self):
        from django.core import checks

        from form_builder.signals import (
            payment_gateway_requested,
            personal_data_purged,
            retention_hold,
            sms_requested,
            stage_started,
            submission_checking,
            submission_paid,
            submission_received,
        )
        from service_pages.catalog import agencies_imported
        from service_pages.governance import agency_groups_synced

        from . import contrib  # noqa: F401  (registers the built-in plugins)
        from .access import grant_role_permissions
        from .checks import run_pre_submit_checks
        from .delivery import deliveries_in_flight, forget_personal_data, plan_deliveries
        from .payments import gateway_for_submission
        from .provisioning import provision_webhook_targets
        from .registry import register
        from .secrets import check_secrets_readable
        from .sms import check_gateway, send_through_gateway

        register.discover()
        submission_received.connect(plan_deliveries, dispatch_uid="tumen_plan_deliveries")
        stage_started.connect(plan_deliveries, dispatch_uid="tumen_plan_stage_deliveries")
        payment_gateway_requested.connect(gateway_for_submission, dispatch_uid="tumen_payment_gateway")
        submission_paid.connect(plan_deliveries, dispatch_uid="tumen_plan_paid_deliveries")
        submission_checking.connect(run_pre_submit_checks, dispatch_uid="tumen_pre_submit_checks")
        personal_data_purged.connect(forget_personal_data, dispatch_uid="tumen_forget_delivery_data")
        retention_hold.connect(deliveries_in_flight, dispatch_uid="tumen_hold_undelivered")
        sms_requested.connect(send_through_gateway, dispatch_uid="tumen_sms_gateway")
        agency_groups_synced.connect(grant_role_permissions, dispatch_uid="tumen_plugin_roles")
        agencies_imported.connect(provision_webhook_targets, dispatch_uid="tumen_provision_webhook_targets")
        checks.register(check_gateway, checks.Tags.database)
        checks.register(check_secrets_readable, checks.Tags.database)
