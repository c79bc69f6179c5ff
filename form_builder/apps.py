from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FormBuilderConfig(AppConfig):
    """Forms attached to services and their submissions (see docs/ARCHITECTURE.md)."""

    name = "form_builder"
    verbose_name = _("Forms and submissions")
