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

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from core.progress import Progress

from . import page_writer
from .catalog import Lookups, RowError, ensure_agency_page, service_fields, unique_slug
from .models import ServicePage
from .translations import sync_existing_translations

# What the audit log says made the pages (``PageLogEntry.data["source"]``).
SOURCE = "bulk import"

# Sent after the bulk writer created or changed service pages. It bypasses Wagtail's page signals
# (one signal per page would cost more than the write), so the search app, a layer above, learns
# of the pages here: ``page_ids``, and ``progress_stream`` for its progress line. Receivers return
# how many pages they indexed.
pages_written = Signal()
# Fields compared to decide whether an existing page changed.
COMPARED_FIELDS = [
    "title", "title_en", "summary", "description", "agency_id", "category_id", "required_documents",
    "fee_mnt", "processing_days", "channel_online", "channel_operator", "channel_in_person", "stages",
    "stage_agencies", "legal_basis", "aimag_id", "soum_id", "xyp_code", "instant_reference", "keywords",
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
    responses = pages_written.send(ServicePage, page_ids=created_ids + updated_ids, progress_stream=progress_stream)
    report.indexed = max((indexed for _receiver, indexed in responses), default=0)
    if updated_ids:
        report.translations_updated = sync_existing_translations(
            [values["code"] for _page, values in to_update], user=user
        )
    report.seconds = time.monotonic() - started
    return report


def _create_pages(items: list[dict], user, progress: Progress) -> list[int]:
    if not items:
        return []
    service_ct, _page_ct = page_writer.content_types()
    now = timezone.now()
    by_agency = defaultdict(list)
    for values in items:
        by_agency[values["agency"].pk].append(values)

    pages: list[ServicePage] = []
    for group in by_agency.values():
        parent = ensure_agency_page(group[0]["agency"])
        step = page_writer.next_free_step(parent)
        taken = set(parent.get_children().values_list("slug", flat=True))
        for values in group:
            step += 1
            slug = unique_slug(values["code"], taken)
            pages.append(
                page_writer.published_child(
                    parent, step, slug, content_type=service_ct, now=now, user=user, translation_key=uuid.uuid4(), **values
                )
            )
        page_writer.reserve_children(parent, len(group))
    return page_writer.insert_pages(pages, user=user, now=now, source=SOURCE, progress=progress.update)


def _update_pages(items: list[tuple[ServicePage, dict]], user, progress: Progress, offset: int) -> list[int]:
    if not items:
        return []
    ids = [page.pk for page, _values in items]
    full_pages = ServicePage.objects.in_bulk(ids)
    pages = []
    for page, values in items:
        full = full_pages[page.pk]
        for name, value in values.items():
            setattr(full, name, value)
        full.draft_title = full.title
        pages.append(full)
    fields = [name for name in items[0][1] if name != "code"] + ["draft_title"]
    old_agencies = {page.pk: page.agency_id for page, _values in items}
    page_writer.update_published(
        pages, fields, user=user, source=SOURCE, progress=lambda done: progress.update(offset + done)
    )
    _move_to_agency(pages, old_agencies, user)
    return ids


def _move_to_agency(pages: list[ServicePage], old_agencies: dict[int, int], user) -> None:
    """Pages whose agency changed move under the new agency's page (URL and permissions follow)."""
    for page in pages:
        if old_agencies[page.pk] != page.agency_id:
            target = ensure_agency_page(page.agency)
            ServicePage.objects.get(pk=page.pk).move(target, pos="last-child", user=user)
