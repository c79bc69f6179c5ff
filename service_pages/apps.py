from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicePagesConfig(AppConfig):
    """Service pages, agencies, categories, places and catalog import/export."""

    name = "service_pages"
    verbose_name = _("Service catalog")

    def ready(self):
        from . import signals  # noqa: F401  (translations follow their originals)
