"""Admin URLs and the menu item of the catalog import/export (see ``service_pages.views``), the
page bulk actions scoped to the user's agencies (``service_pages.bulk_actions``), and the home
page's panel of the pages and forms awaiting the user's review (``service_pages.panels``)."""

from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from . import views
from .bulk_actions import PAGE_BULK_ACTIONS
from .panels import NeedItem, add_panel

REVIEW_ITEMS_SHOWN = 10

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


# Unpublishing, deleting or moving an original does the same to its translations in service_pages/signals.py
# (whatever does it, not only the admin's single-page views), so no construct_translated_pages_to_cascade_actions.


# After Wagtail's own (``order``): the bulk-action registry keeps the last one of a type for a model.
for bulk_action in PAGE_BULK_ACTIONS:
    hooks.register("register_bulk_action", bulk_action, order=1)


@hooks.register("construct_homepage_panels")
def add_review_panel(request, panels):
    """Moderators: each page and form awaiting their review (their agency's only, as the review
    tasks decide), linking to its editor, where it is approved or rejected."""
    from wagtail.admin.admin_url_finder import AdminURLFinder
    from wagtail.models import Page, TaskState

    states = TaskState.objects.reviewable_by(request.user).select_related("revision").order_by("-started_at")
    finder = AdminURLFinder(request.user)
    items = []
    for state in states[:REVIEW_ITEMS_SHOWN]:
        obj = state.revision.content_object if state.revision_id else None
        url = finder.get_edit_url(obj) if obj is not None else None
        if not url:
            continue
        kind = _("Page") if isinstance(obj, Page) else _("Form")
        items.append(NeedItem(f"{kind}: {obj}", url, detail=_("awaiting your review since %(date)s") % {"date": state.started_at.date()}))
    add_panel(panels, "tumen-review", _("Awaiting your review"), items, order=80)
