from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    """Documents Tumen issues: instant references and result documents, with public verification."""

    name = "documents"
    verbose_name = _("Issued documents")
