"""Bulk import of service pages: thousands of pages in seconds, tree kept valid.

Stock ``parent.add_child()`` + ``save_revision().publish()`` costs ~15 ms a
page (several queries, signals, one search-index task each): 11,250 services
take minutes. django-import-export's bulk mode refuses Wagtail's multi-table
pages. This module writes the same rows Wagtail would, in batches:

1. validate every row first (``catalog.service_fields``); bad rows are
   reported with row number and column and never written;
2. in one transaction: new pages get treebeard paths computed from their
   agency page's last child, the ``wagtailcore_page`` rows and the
   ``service_pages_servicepage`` rows are inserted in bulk, then one published
   revision and two audit-log entries (create, publish) per page; changed
   pages are updated in bulk with a new revision and an "edit"/"publish" log;
   unchanged pages are not touched;
3. after the commit, one bulk pass through the embedded index and every search
   backend indexes what was created or changed (no per-page signals or tasks);
4. the English translations of changed services get the new facts (fee, agency,
   channels, ...) and any text no translator has edited
   (``translations.sync_existing_translations``, the same code as ``translate_catalog``).

A failure inside step 2 rolls the whole batch back: no half-imported rows.
"""

import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import CharField, F, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from modelcluster.models import get_all_child_relations, get_serializable_data_for_fields
from wagtail.models import Page, PageLogEntry, Revision
from wagtail.search.backends import get_search_backends

from search import embedded

from .catalog import Lookups, RowError, ensure_agency_page, service_fields, unique_slug
from .models import ServicePage

BATCH_SIZE = 500
# Fields compared to decide whether an existing page changed.
COMPARED_FIELDS = [
    "title", "title_en", "summary", "description", "agency_id", "category_id", "required_documents",
    "fee_mnt", "processing_days", "channel_online", "channel_operator", "channel_in_person", "stages",
    "stage_agencies", "legal_basis", "aimag_id", "soum_id", "xyp_code", "keywords",
]  # fmt: skip


@dataclass
class RowProblem:
    row: int  # spreadsheet row number: the header is row 1
    column: str
    message: str

    def __str__(self):
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    seconds: float = 0.0
    indexed: int = 0
    # Translations brought in line with their changed originals (step 4).
    translations_updated: int = 0

    @property
    def error_rows(self) -> int:
        return len({problem.row for problem in self.problems})

    def summary(self) -> str:
        return (
            f"created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"errors={self.error_rows} seconds={self.seconds:.1f}"
        )


class Progress:
    """A one-line progress counter on a terminal; silent otherwise (logs, CI)."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() and total > 0
        self.last = 0.0

    def update(self, done: int):
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or done >= self.total):
            self.last = now
            width = 30
            filled = int(width * done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


def _diff_values(page: ServicePage, values: dict) -> dict:
    """The field values that differ from the page (foreign keys compared by id)."""
    changes = {}
    for name in COMPARED_FIELDS:
        if name.endswith("_id"):
            related = values[name[:-3]]
            new = related.pk if related is not None else None
        else:
            new = values[name]
        if getattr(page, name) != new:
            changes[name] = new
    return changes


def validate_rows(rows: list[dict], lookups: Lookups, report: ImportReport) -> list[tuple[int, dict]]:
    """Rows that can be imported, as (row number, field values); problems go to ``report``."""
    valid = []
    first_seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        code = (row.get("code") or "").strip()
        if code and code in first_seen:
            from django.utils.translation import gettext as _

            report.problems.append(
                RowProblem(number, "code", _("duplicate code %(code)s, first on row %(row)s") % {
                    "code": code, "row": first_seen[code]})  # fmt: skip
            )
            continue
        if code:
            first_seen[code] = number
        try:
            valid.append((number, service_fields(row, lookups)))
        except RowError as error:
            report.problems.extend(RowProblem(number, column, message) for column, message in error.errors.items())
    return valid


@dataclass
class ImportPlan:
    """What an import would do: rows to create, rows to update (with their changed fields)."""

    report: ImportReport
    to_create: list[tuple[int, dict]] = field(default_factory=list)  # (row number, field values)
    to_update: list[tuple[int, ServicePage, dict, dict]] = field(default_factory=list)  # (row, page, values, changes)


def plan_import(rows: list[dict]) -> ImportPlan:
    """Validate ``rows`` and compare them with the existing pages; writes nothing."""
    plan = ImportPlan(report=ImportReport())
    valid = validate_rows(rows, Lookups.load(), plan.report)
    existing = {page.code: page for page in ServicePage.objects.canonical().only("id", "code", *COMPARED_FIELDS)}
    for number, values in valid:
        page = existing.get(values["code"])
        if page is None:
            plan.to_create.append((number, values))
        elif changes := _diff_values(page, values):
            plan.to_update.append((number, page, values, changes))
        else:
            plan.report.unchanged += 1
    plan.report.created, plan.report.updated = len(plan.to_create), len(plan.to_update)
    return plan


def import_service_rows(rows: list[dict], *, dry_run=False, atomic=False, user=None, progress_stream=None):
    """Create or update service pages from catalog rows; returns an ``ImportReport``.

    ``atomic``: any bad row means nothing is written. ``dry_run``: validate and
    count, write nothing.
    """
    started = time.monotonic()
    plan = plan_import(rows)
    report = plan.report
    if dry_run or (atomic and report.problems):
        report.seconds = time.monotonic() - started
        return report

    to_create = [values for _number, values in plan.to_create]
    to_update = [(page, values) for _number, page, values, _changes in plan.to_update]
    progress = Progress("importing", len(to_create) + len(to_update), progress_stream)
    with transaction.atomic():
        created_ids = _create_pages(to_create, user, progress)
        updated_ids = _update_pages(to_update, user, progress, offset=len(to_create))
    report.indexed = index_pages(created_ids + updated_ids, progress_stream)
    if updated_ids:
        from .translations import sync_existing_translations  # it builds on this module

        report.translations_updated = sync_existing_translations(
            [values["code"] for _page, values in to_update], user=user
        )
    report.seconds = time.monotonic() - started
    return report


def _content_types():
    return ContentType.objects.get_for_model(ServicePage), ContentType.objects.get_for_model(Page)


def published_child(parent, step: int, slug: str, *, content_type, now, user, **values) -> ServicePage:
    """An unsaved, published ``ServicePage`` at position ``step`` below ``parent``: the tree and
    publication fields Wagtail's ``add_child`` + ``publish`` would set (the caller bulk-inserts it)."""
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


def _create_pages(items: list[dict], user, progress: Progress) -> list[int]:
    if not items:
        return []
    service_ct, page_ct = _content_types()
    now = timezone.now()
    by_agency = defaultdict(list)
    for values in items:
        by_agency[values["agency"].pk].append(values)

    pages: list[ServicePage] = []
    for group in by_agency.values():
        parent = ensure_agency_page(group[0]["agency"])
        parent.refresh_from_db(fields=["path", "depth", "numchild", "url_path", "locale"])
        last_child = parent.get_last_child()
        step = _step_of(last_child.path) if last_child else 0
        taken = set(parent.get_children().values_list("slug", flat=True))
        for values in group:
            step += 1
            slug = unique_slug(values["code"], taken)
            pages.append(
                published_child(parent, step, slug, content_type=service_ct, now=now, user=user, translation_key=uuid.uuid4(), **values)
            )
        Page.objects.filter(pk=parent.pk).update(numchild=F("numchild") + len(group))

    page_fields = [f for f in Page._meta.concrete_fields if not f.primary_key]
    service_fields_ = ServicePage._meta.local_concrete_fields
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        # Multi-table insert by hand: the wagtailcore_page rows first, read straight off
        # the ServicePage objects (ids come back via RETURNING), then the page's own table.
        returned = Page._base_manager._insert(
            batch, fields=page_fields, returning_fields=[Page._meta.pk], using=connection.alias
        )
        for page, (page_id,) in zip(batch, returned, strict=False):
            page.id = page.page_ptr_id = page_id
        ServicePage._base_manager._insert(batch, fields=service_fields_, using=connection.alias)
        _publish_revisions(batch, service_ct, page_ct, user, now, created=True)
        progress.update(start + len(batch))
    return [page.id for page in pages]


def _update_pages(items: list[tuple[ServicePage, dict]], user, progress: Progress, offset: int) -> list[int]:
    if not items:
        return []
    service_ct, page_ct = _content_types()
    now = timezone.now()
    ids = [page.pk for page, _values in items]
    full_pages = ServicePage.objects.in_bulk(ids)
    pages = []
    for page, values in items:
        full = full_pages[page.pk]
        for name, value in values.items():
            setattr(full, name, value)
        full.draft_title = full.title
        full.last_published_at = now
        full.latest_revision_created_at = now
        full.has_unpublished_changes = False
        pages.append(full)
    fields = list(items[0][1].keys()) + ["draft_title", "last_published_at", "latest_revision_created_at",
                                         "has_unpublished_changes"]  # fmt: skip
    fields.remove("code")
    old_agencies = {page.pk: page.agency_id for page, _values in items}
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        ServicePage.objects.bulk_update(batch, fields)
        _publish_revisions(batch, service_ct, page_ct, user, now, created=False)
        progress.update(offset + start + len(batch))
    _move_to_agency(pages, old_agencies, user)
    return ids


def _publish_revisions(pages, service_ct, page_ct, user, now, created: bool, source: str = "bulk import"):
    """One published revision and the audit-log entries per page, in bulk (``source`` goes in the log)."""
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
    for page, revision in zip(pages, revisions, strict=False):
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
    entries = []
    for page, revision in zip(pages, revisions, strict=False):
        for action in (first_action, "wagtail.publish"):
            entries.append(
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
            )
    PageLogEntry.objects.bulk_create(entries)


def _new_page_content(page: ServicePage) -> dict:
    """Revision content of a page that was just inserted: its fields, and no children.

    ``serializable_data()`` would run one query per child relation (comments, ...)
    for every page, only to find them empty.
    """
    content = get_serializable_data_for_fields(page)
    for relation in get_all_child_relations(page):
        content[relation.get_accessor_name()] = []
    return content


def _move_to_agency(pages: list[ServicePage], old_agencies: dict[int, int], user) -> None:
    """Pages whose agency changed move under the new agency's page (URL and permissions follow)."""
    for page in pages:
        if old_agencies[page.pk] != page.agency_id:
            target = ensure_agency_page(page.agency)
            ServicePage.objects.get(pk=page.pk).move(target, pos="last-child", user=user)


def _step_of(path: str) -> int:
    """The sibling number encoded in the last step of a treebeard path."""
    return int(path[-ServicePage.steplen :], len(ServicePage.alphabet))


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
