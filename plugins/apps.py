from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PluginsConfig(AppConfig):
    """Plugin API, registry and delivery outbox (see docs/ARCHITECTURE.md)."""

    name = "plugins"
    verbose_name = _("Plugins and delivery")
