"""Keep the embedded index (``search.embedded``) current as pages are published.

Wagtail's own search backends are updated by its index tasks; the embedded
index is not a Wagtail backend, so it follows the page signals here: one page
is re-indexed (a few ms) inside the publishing transaction, no rebuild. The
bulk import sends no signals and calls ``embedded.index_pages`` itself.

Translations (English pages) are not indexed, so their signals are ignored: a translator
publishing does not make every process reload its vocabulary.
"""

from django.db.models.signals import post_delete
from wagtail.signals import page_published, page_unpublished

from cms.languages import is_original
from search import embedded
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


def connect():
    page_published.connect(on_published, sender=ServicePage, dispatch_uid="tumen_embedded_published")
    page_unpublished.connect(on_unpublished, sender=ServicePage, dispatch_uid="tumen_embedded_unpublished")
    post_delete.connect(on_deleted, sender=ServicePage, dispatch_uid="tumen_embedded_deleted")
