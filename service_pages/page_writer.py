"""The bulk page writer: the one module that writes Wagtail's page tables by hand.

The catalog import (``service_pages.bulk``) and ``translate_catalog`` (``service_pages.translations``)
write thousands of service pages. Stock ``parent.add_child()`` + ``save_revision().publish()``
costs ~15 ms a page (several queries, signals, a search-index task each), so these writers insert
the rows Wagtail itself would write, in batches. That leans on Wagtail's and treebeard's
internals, which this module fences in:

- treebeard's materialised paths (``Page._get_path``, ``steplen``, ``alphabet``) and ``numchild``;
- the model manager's ``_insert`` for the multi-table insert (``wagtailcore_page`` rows first,
  ids back through ``RETURNING``, then ``service_pages_servicepage``);
- ``latest_revision`` and ``live_revision`` set by hand, with one published ``Revision`` and the
  "create"/"edit" and "publish" ``PageLogEntry`` rows per page.

``tests/test_page_writer.py`` checks the result through Wagtail's and treebeard's own API (tree
problems, parents, URLs, revisions, adding and publishing a page after a bulk write), so a Wagtail
upgrade that changes any of these internals fails there first, not in an import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import CharField, F, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from modelcluster.models import get_all_child_relations, get_serializable_data_for_fields
from wagtail.models import Page, PageLogEntry, Revision

from .models import ServicePage

BATCH_SIZE = 500


def content_types() -> tuple[ContentType, ContentType]:
    """(the service page's, the base page's) content types, as revisions and log entries need them."""
    return ContentType.objects.get_for_model(ServicePage), ContentType.objects.get_for_model(Page)


def next_free_step(parent: Page) -> int:
    """The sibling number after ``parent``'s last child (0 when it has none), read fresh."""
    parent.refresh_from_db(fields=["path", "depth", "numchild", "url_path", "locale"])
    last_child = parent.get_last_child()
    return int(last_child.path[-ServicePage.steplen :], len(ServicePage.alphabet)) if last_child else 0


def reserve_children(parent: Page, count: int) -> None:
    """Count ``count`` new children of ``parent`` in its ``numchild`` (before inserting them)."""
    Page.objects.filter(pk=parent.pk).update(numchild=F("numchild") + count)


def parent_path(page: Page) -> str:
    """The tree path of ``page``'s parent (no query)."""
    return page.path[: -ServicePage.steplen]


def is_child_of(page: Page, parent: Page) -> bool:
    """Whether ``page`` sits directly below ``parent`` (from the paths, no query)."""
    return parent_path(page) == parent.path


def published_child(parent, step: int, slug: str, *, content_type, now, user, **values) -> ServicePage:
    """An unsaved, published ``ServicePage`` at position ``step`` below ``parent``: the tree and
    publication fields Wagtail's ``add_child`` + ``publish`` would set (:func:`insert_pages` writes it)."""
    return ServicePage(
        **values,
        slug=slug,
        draft_title=values["title"],
        path=ServicePage._get_path(parent.path, parent.depth + 1, step),
        depth=parent.depth + 1,
        numchild=0,
        url_path=f"{parent.url_path}{slug}/",
        content_type=content_type,
        locale_id=parent.locale_id,
        page_locale_id=parent.locale_id,
        live=True,
        has_unpublished_changes=False,
        first_published_at=now,
        last_published_at=now,
        latest_revision_created_at=now,
        owner=user,
    )


def insert_pages(
    pages: Sequence[ServicePage], *, user, now, source: str, progress: Callable[[int], None] | None = None
) -> list[int]:
    """Insert pages made by :func:`published_child` (their parents' ``numchild`` already counts
    them, :func:`reserve_children`), each with its published revision and log; return their ids.

    ``progress(done)`` is called after each batch.
    """
    page_fields = [f for f in Page._meta.concrete_fields if not f.primary_key]
    own_fields = ServicePage._meta.local_concrete_fields
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        returned = Page._base_manager._insert(
            batch, fields=page_fields, returning_fields=[Page._meta.pk], using=connection.alias
        )
        for page, (page_id,) in zip(batch, returned, strict=True):
            page.id = page.page_ptr_id = page_id
        ServicePage._base_manager._insert(batch, fields=own_fields, using=connection.alias)
        publish_revisions(batch, user=user, now=now, created=True, source=source)
        if progress:
            progress(start + len(batch))
    return [page.id for page in pages]


def update_published(
    pages: Sequence[ServicePage], fields: list[str], *, user, now=None, source: str,
    progress: Callable[[int], None] | None = None,
) -> None:  # fmt: skip
    """Save changed ``fields`` of live pages (whole rows, new values set) with a new published
    revision and log each, as an edit and publish in the admin would."""
    now = now or timezone.now()
    for page in pages:
        page.last_published_at = page.latest_revision_created_at = now
        page.has_unpublished_changes = False
    fields = [*fields, "last_published_at", "latest_revision_created_at", "has_unpublished_changes"]
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        ServicePage.objects.bulk_update(batch, fields)
        publish_revisions(batch, user=user, now=now, created=False, source=source)
        if progress:
            progress(start + len(batch))


def publish_revisions(pages, *, user, now, created: bool, source: str) -> None:
    """One published revision and the audit-log entries per page, in bulk (``source`` goes in the log)."""
    service_ct, page_ct = content_types()
    revisions = [
        Revision(
            content_type=service_ct,
            base_content_type=page_ct,
            object_id=str(page.pk),
            created_at=now,
            user=user,
            object_str=page.title,
            content=_new_page_content(page) if created else page.serializable_data(),
        )
        for page in pages
    ]
    Revision.objects.bulk_create(revisions)
    for page, revision in zip(pages, revisions, strict=True):
        page.latest_revision_id = page.live_revision_id = revision.pk
    # Point each page at its new revision with one UPDATE (a correlated subquery on the
    # revision's indexed object_id) instead of a CASE WHEN per row.
    revision_ids = [revision.pk for revision in revisions]
    own_revision = Subquery(
        Revision.objects.filter(
            base_content_type=page_ct,
            object_id=Cast(OuterRef("pk"), CharField()),
            pk__gte=min(revision_ids),
            pk__lte=max(revision_ids),
        ).values("pk")[:1]
    )
    Page.objects.filter(pk__in=[page.pk for page in pages]).update(
        latest_revision_id=own_revision, live_revision_id=own_revision
    )
    first_action = "wagtail.create" if created else "wagtail.edit"
    PageLogEntry.objects.bulk_create(
        PageLogEntry(
            content_type=service_ct,
            label=page.title,
            action=action,
            data={"source": source},
            timestamp=now,
            user=user,
            page_id=page.pk,
            revision=revision,
            content_changed=True,
        )
        for page, revision in zip(pages, revisions, strict=True)
        for action in (first_action, "wagtail.publish")
    )


def _new_page_content(page: ServicePage) -> dict:
    """Revision content of a page that was just inserted: its fields, and no children.

    ``serializable_data()`` would run one query per child relation (comments, ...)
    for every page, only to find them empty.
    """
    content = get_serializable_data_for_fields(page)
    for relation in get_all_child_relations(page):
        content[relation.get_accessor_name()] = []
    return content
