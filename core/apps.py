from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The bottom layer (see ``core/__init__.py``): imports no other app of the project."""

    name = "core"
    verbose_name = _("Core")
