"""Keep the embedded index (``search.embedded``) current as pages are published.

Wagtail's own search backends are updated by its index tasks; the embedded
index is not a Wagtail backend, so it follows the page signals here: one page
is re-indexed (a few ms) inside the publishing transaction, no rebuild. The
bulk import sends no page signals but one ``service_pages.bulk.pages_written`` for all its pages,
which ``search.indexing`` answers.

Translations (English pages) are not indexed, so their signals are ignored: a translator
publishing does not make every process reload its vocabulary.

A view restriction (``PageViewRestriction``, password or groups) hides a page and everything
below it from public search. Adding, changing or removing one, or moving pages into or out of a
restricted section, sends no page signal for the pages below, so those are re-indexed here: in
the embedded index at once, in Wagtail's backends by a queued task (``search.tasks``).
"""

from django.db.models.signals import post_delete, post_save
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from core.languages import is_original
from search import embedded
from search.indexing import on_pages_written
from search.tasks import reindex_engine_pages
from service_pages.bulk import pages_written
from service_pages.models import ServicePage


def _is_original(page) -> bool:
    return page.locale_id is None or is_original(page)


def on_published(sender, instance, **kwargs):
    if _is_original(instance):
        embedded.index_pages([instance.pk])


def on_unpublished(sender, instance, **kwargs):
    if _is_original(instance):
        embedded.remove_pages([instance.pk])


def on_deleted(sender, instance, **kwargs):
    # The rows already went with the page (foreign-key cascade); this tells the
    # other processes that their cached vocabulary is stale.
    if _is_original(instance):
        embedded.remove_pages([instance.pk])


def reindex_section(page) -> None:
    """Re-index the original services at or below ``page``: whether each is public may have changed."""
    ids = list(ServicePage.objects.canonical().descendant_of(page, inclusive=True).values_list("pk", flat=True))
    if ids:
        embedded.index_pages(ids)
        reindex_engine_pages.enqueue(ids)


def on_view_restriction_changed(sender, instance, **kwargs):
    page = Page.objects.filter(pk=instance.page_id).first()  # gone when the page itself is being deleted
    if page is not None:
        reindex_section(page)


def on_moved(sender, instance, parent_page_before, parent_page_after, **kwargs):
    if parent_page_before.pk != parent_page_after.pk:
        reindex_section(Page.objects.get(pk=instance.pk))  # its path after the move


def connect():
    page_published.connect(on_published, sender=ServicePage, dispatch_uid="tumen_embedded_published")
    page_unpublished.connect(on_unpublished, sender=ServicePage, dispatch_uid="tumen_embedded_unpublished")
    post_delete.connect(on_deleted, sender=ServicePage, dispatch_uid="tumen_embedded_deleted")
    post_save.connect(on_view_restriction_changed, sender=PageViewRestriction, dispatch_uid="tumen_search_restricted")
    post_delete.connect(on_view_restriction_changed, sender=PageViewRestriction, dispatch_uid="tumen_search_unrestricted")
    post_page_move.connect(on_moved, dispatch_uid="tumen_search_moved")
    pages_written.connect(on_pages_written, dispatch_uid="tumen_search_bulk_written")
