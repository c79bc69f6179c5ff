"""Admin URLs and the menu item of the catalog import/export (see ``service_pages.views``); translations
following their originals in the admin."""

from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.models import Page

from cms.languages import default_language

from . import views
from .models import AgencyPage, ServicePage

catalog_urls = [
    path("", views.catalog_home, name="home"),
    path("export/<str:what>/<str:fmt>/", views.export_catalog, name="export"),
    path("import/<str:token>/", views.import_preview, name="preview"),
]


@hooks.register("register_admin_urls")
def register_catalog_urls():
    # Wagtail wraps these in its admin-access check: anonymous users go to the login page.
    return [path("catalog/", include((catalog_urls, "service_pages_catalog")))]


class CatalogMenuItem(MenuItem):
    def is_shown(self, request):
        return views.can_manage_catalog(request.user)


@hooks.register("register_settings_menu_item")
def register_catalog_menu_item():
    return CatalogMenuItem(
        _("Catalog import/export"), reverse("service_pages_catalog:home"), icon_name="table", order=150
    )


@hooks.register("construct_translated_pages_to_cascade_actions")
def cascade_to_translations(pages, action: str):
    """Unpublishing, deleting or moving an original catalog page does the same to its translations.

    A suspended or withdrawn service must not live on under /en/, and a service moved to another
    agency moves in every language (so that agency's editors have it everywhere). Actions on a
    translation stay on the translation. Wagtail's own version of this hook only acts when
    WAGTAILSIMPLETRANSLATION_SYNC_PAGE_TREE is on, which would also create aliases.
    """
    if action not in ("unpublish", "delete", "move"):
        return None
    return {
        page: Page.objects.translation_of(page, inclusive=False).filter(alias_of__isnull=True)
        for page in pages
        if page.specific_class in (ServicePage, AgencyPage) and page.locale.language_code == default_language()
    }
