from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FormBuilderConfig(AppConfig):
    """Forms attached to services and their submissions (see docs/ARCHITECTURE.md)."""

    name = "form_builder"
    verbose_name = _("Forms and submissions")

    def ready(self):
        from django.core import checks
        from django.core.signals import setting_changed
        from django.db.models.signals import pre_delete
        from wagtail.signals import published

        from service_pages.governance import agency_groups_synced

        from .models import Draft, FormDefinition
        from .review import sync_form_review
        from .signals import (
            count_application,
            delete_draft_files,
            freeze_published_form,
            reset_private_storage,
            submission_received,
        )
        from .sms import check_senders

        published.connect(freeze_published_form, sender=FormDefinition, dispatch_uid="tumen_freeze_form")
        setting_changed.connect(reset_private_storage, dispatch_uid="tumen_private_storage")
        pre_delete.connect(delete_draft_files, sender=Draft, dispatch_uid="tumen_draft_files")
        checks.register(check_senders)
        agency_groups_synced.connect(sync_form_review, dispatch_uid="tumen_form_review")
        submission_received.connect(count_application, dispatch_uid="tumen_count_application")
