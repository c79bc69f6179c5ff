from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    """Documents Tumen issues: instant references and result documents, with public verification."""

    name = "documents"
    verbose_name = _("Issued documents")

    def ready(self):
        from service_pages.governance import agency_groups_synced

        from .access import grant_moderator_permissions

        # The agencies' moderators read and revoke their agency's documents in the admin.
        agency_groups_synced.connect(grant_moderator_permissions, dispatch_uid="tumen_document_moderators")
