from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    """Search backends, Mongolian analysis, search views and API."""

    name = "search"
    label = "tumen_search"
    verbose_name = _("Search")

    def ready(self):
        from search import signals

        signals.connect()
