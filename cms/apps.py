from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    """The project app: home page, base templates, health endpoint."""

    name = "cms"
    verbose_name = _("Site")

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy checks)
        from .page_cache import connect_signals

        connect_signals()
