"""Index the pages the bulk writer wrote (``service_pages.bulk``), in bulk, in every backend.

The bulk import writes pages without Wagtail's page signals; it sends
``service_pages.bulk.pages_written`` instead, and :func:`on_pages_written` indexes the pages:
the embedded index first, then each auto-updated Wagtail backend in batches.
"""

from wagtail.search.backends import get_search_backends

from core.progress import Progress
from search import embedded
from search.tasks import BATCH_SIZE
from service_pages.models import ServicePage


def index_pages(page_ids: list[int], progress_stream=None) -> int:
    """Index the given service pages in every auto-updated search backend, in bulk."""
    if not page_ids:
        return 0
    # The embedded index (SQLite mode, and the fallback when the engine is down).
    embedded.index_pages(page_ids)
    backends = list(get_search_backends(with_auto_update=True))
    progress = Progress("indexing", len(page_ids) * len(backends), progress_stream)
    done = 0
    for backend in backends:
        index = backend.get_index_for_model(ServicePage)
        if hasattr(index, "exists") and not index.exists():
            # An engine index that was never built: create it with our mapping rather
            # than let the engine guess one from the first document.
            index.put()
            index.add_model(ServicePage)
        for start in range(0, len(page_ids), BATCH_SIZE):
            # Originals only (see ServicePage.get_indexed_objects).
            chunk = list(ServicePage.get_indexed_objects().filter(pk__in=page_ids[start : start + BATCH_SIZE]))
            index.add_items(ServicePage, chunk)
            done += len(chunk)
            progress.update(done)
        if hasattr(index, "refresh"):
            index.refresh()
    return len(page_ids)


def on_pages_written(sender, page_ids, progress_stream=None, **kwargs) -> int:
    return index_pages(page_ids, progress_stream)
