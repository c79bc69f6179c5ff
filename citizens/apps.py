from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CitizensConfig(AppConfig):
    """Who the signed-in citizen is, as the national identity service verified it."""

    name = "citizens"
    verbose_name = _("Citizens")
