"""Background tasks of search (django-tasks; ``manage.py db_worker`` runs them)."""

from __future__ import annotations

import logging

from django_tasks import task
from wagtail.search.backends import get_search_backends

from service_pages.models import ServicePage

logger = logging.getLogger(__name__)
BATCH_SIZE = 500


@task()
def reindex_engine_pages(page_ids: list[int]) -> int:
    """Write these original service pages again to every auto-updated Wagtail search backend.

    For changes that send no signal for each page (a view restriction on a section, a move): the
    indexed ``search_restricted`` value of every page below changes. A backend that fails is
    logged and skipped, like Wagtail's own index updates; ``update_index`` repairs it.
    """
    written = 0
    for backend in get_search_backends(with_auto_update=True):
        index = backend.get_index_for_model(ServicePage)
        try:
            for start in range(0, len(page_ids), BATCH_SIZE):
                pages = list(ServicePage.get_indexed_objects().filter(pk__in=page_ids[start : start + BATCH_SIZE]))
                index.add_items(ServicePage, pages)
                written += len(pages)
        except Exception:
            logger.exception("could not re-index %s service pages in the search backend %r", len(page_ids), backend)
    return written


@task()
def reindex_popular_pages(page_ids: list[int]) -> int:
    """Write services whose popularity changed (``search.popularity.refresh``) again to the engine.

    This process's copy of the scores is dropped first: the worker may have read them seconds
    before the refresh committed.
    """
    from search import popularity  # which imports this module, for the task

    popularity.forget()
    written = reindex_engine_pages.call(page_ids)
    for backend in get_search_backends(with_auto_update=True):
        index = backend.get_index_for_model(ServicePage)
        if hasattr(index, "refresh"):  # searchable now rather than within the engine's refresh interval
            index.refresh()
    return written
