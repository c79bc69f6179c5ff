"""Retention of citizens' personal data, and its anonymisation when the period is over.

**When.** Each service may set its own period (``ServicePage.retention_days``); empty means the
national default, ``TUMEN_RETENTION_DAYS`` (5 years); no period is shorter than the national floor
``TUMEN_RETENTION_MIN_DAYS`` (90 days; a shorter one saved before the floor counts as the floor).
Only an application that is *closed now* (its current status is final: completed or rejected) is
anonymised, counted from its *last* closing: an open one is still being worked on, however old
(staff close it; the command reports how many wait), and a reopened one counts from when it is
closed again. An application the plugins app still has to deliver (a delivery pending or
retrying) is held back (:data:`form_builder.signals.retention_hold`), so an agency never receives
an anonymised record.

**What goes.** The answers, the citizen's identity block (and the verified identity of a signed-in applicant), the consent proof and the applicant's
register number are replaced by :data:`ANONYMISED`; the operator link is cleared; the uploaded
files are deleted from disk and their rows removed; the staff and public messages of status
changes are blanked; expired drafts and their files are deleted (as ``purge_expired_drafts``
does), and so are uploaded files no draft or submission holds any more. Receivers of
:data:`form_builder.signals.personal_data_purged` (the plugins app) blank what they keep
(delivery errors and attempt logs, which may quote an agency's response).

**What stays** (``statistics`` and the agencies' reports need it): the tracking code, service,
agency, status, stage, channel, office soum, language, dates and each status change's status,
stage, agency and time. The access log is never touched.

**How.** In batches (``batch_size`` submissions per transaction) so a backlog of tens of thousands
is worked through without long locks. Files are removed before their rows, so a crash leaves at
worst a row whose file is gone, which the next run finishes. Anonymised submissions are marked
(``anonymised_at``) and never selected again: running twice is harmless.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import DateTimeField, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from wagtail.models import ModelLogEntry

from service_pages.models import ServicePage

from .models import Draft, StoredFile, Submission, SubmissionEvent
from .signals import personal_data_purged, retention_hold
from .stages import FINAL

ANONYMISED = {"anonymised": True}
CLOSED_STATUSES = FINAL
LOG_ACTION = "tumen.purge_personal_data"
DEFAULT_BATCH_SIZE = 1000


@dataclass
class PurgeReport:
    """What a run anonymised or deleted, per model (``app_label.Model``), and whether it was a dry run."""

    counts: Counter = field(default_factory=Counter)
    dry_run: bool = False

    def add(self, label: str, number: int) -> None:
        if number:
            self.counts[label] += number

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def retention_start():
    """When a closed application's retention period began: its last closing (completed or rejected).

    Only meaningful for applications whose current status is final (``due_submissions`` selects
    those only); ``updated_at`` stands in when the timeline lacks the closing event.
    """
    closed_at = (
        SubmissionEvent.objects.filter(submission=OuterRef("pk"), status__in=CLOSED_STATUSES)
        .order_by()
        .values("submission")
        .annotate(last=Max("created_at"))
        .values("last")
    )
    return Coalesce(Subquery(closed_at), F("updated_at"), output_field=DateTimeField())


def retention_days(days: int | None) -> int:
    """The period that applies: the service's (or else the national default), never below the floor."""
    floor = max(0, settings.TUMEN_RETENTION_MIN_DAYS)
    return max(floor, settings.TUMEN_RETENTION_DAYS if days is None else days)


def _service_periods() -> list[int]:
    periods = ServicePage.objects.exclude(retention_days=None).order_by().values_list("retention_days", flat=True)
    return list(periods.distinct())


def _older_than_period(field: str, now) -> tuple[Q, datetime.datetime]:
    """``field`` lies beyond the application's period; also the latest cut-off (to narrow the scan)."""
    default_days = retention_days(None)
    past = Q(service__retention_days__isnull=True, **{f"{field}__lt": now - datetime.timedelta(days=default_days)})
    periods = _service_periods()
    for days in periods:
        past |= Q(service__retention_days=days, **{f"{field}__lt": now - datetime.timedelta(days=retention_days(days))})
    oldest = now - datetime.timedelta(days=min(retention_days(days) for days in [None, *periods]))
    return past, oldest


def held_back_ids() -> list:
    """What receivers of ``retention_hold`` (deliveries still under way) ask to keep for now."""
    return [response for _receiver, response in retention_hold.send(sender=Submission) if response is not None]


def due_submissions(now=None):
    """Closed submissions whose retention period is over, that still hold personal data and that no
    receiver of ``retention_hold`` holds back."""
    now = now or timezone.now()
    past, oldest = _older_than_period("retention_from", now)
    # A period starts at receipt at the earliest: the indexed submitted_at narrows the scan first.
    due = (
        Submission.objects.filter(anonymised_at__isnull=True, status__in=CLOSED_STATUSES, submitted_at__lt=oldest)
        .alias(retention_from=retention_start())
        .filter(past)
    )
    for held in held_back_ids():
        due = due.exclude(pk__in=held)
    return due


def open_past_retention(now=None):
    """Open applications received longer ago than their period: never purged, staff should close them."""
    now = now or timezone.now()
    past, oldest = _older_than_period("submitted_at", now)
    kept = Submission.objects.filter(anonymised_at__isnull=True, submitted_at__lt=oldest)
    return kept.exclude(status__in=CLOSED_STATUSES).filter(past)


def _delete_files(files) -> int:
    """Remove the files from disk first, then their rows (a crash in between is finished next run)."""
    files = list(files)
    for stored in files:
        if stored.file.name:
            stored.file.storage.delete(stored.file.name)  # a file already gone is not an error
    StoredFile.objects.filter(pk__in=[stored.pk for stored in files]).delete()
    return len(files)


def anonymise_batch(ids: list[int], now=None) -> Counter:
    """Anonymise these submissions (one transaction); return the counts per model."""
    now = now or timezone.now()
    counts = Counter()
    files = StoredFile.objects.filter(submission_id__in=ids).only("pk", "file")
    with transaction.atomic():
        counts["form_builder.StoredFile"] = _delete_files(files)
        counts["form_builder.SubmissionEvent"] = (
            SubmissionEvent.objects.filter(submission_id__in=ids)
            .exclude(message="", public_message="")
            .update(message="", public_message="")
        )
        counts["form_builder.Submission"] = Submission.objects.filter(pk__in=ids, anonymised_at__isnull=True).update(
            data=ANONYMISED, citizen=ANONYMISED, consent=ANONYMISED, verified_identity=ANONYMISED, applicant_register_number="", operator=None, anonymised_at=now
        )
        for _receiver, response in personal_data_purged.send(sender=Submission, submission_ids=ids):
            counts.update(response or {})
    return counts


def _expired_drafts_batch(now, batch_size) -> Counter:
    counts = Counter()
    ids = list(Draft.objects.filter(expires_at__lte=now).order_by("pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return counts
    with transaction.atomic():
        counts["form_builder.StoredFile"] = _delete_files(StoredFile.objects.filter(draft_id__in=ids, submission__isnull=True))
        counts["form_builder.Draft"] = Draft.objects.filter(pk__in=ids).delete()[1].get("form_builder.Draft", 0)
    return counts


def orphan_files(now):
    """Uploads that belong to no submission and no draft any more (e.g. a deleted service's drafts),
    a day after their upload (so an upload being attached right now is left alone)."""
    return StoredFile.objects.filter(submission__isnull=True, draft__isnull=True, created_at__lt=now - datetime.timedelta(days=1))


def purge_personal_data(
    *, now=None, dry_run=False, batch_size=DEFAULT_BATCH_SIZE, progress: Callable[[str, int], None] | None = None
) -> PurgeReport:
    """Anonymise every submission past its retention and delete expired drafts and stray files.

    ``progress(label, number)`` is called after each batch. A dry run only counts.
    """
    now = now or timezone.now()
    batch_size = max(1, int(batch_size))
    report = PurgeReport(dry_run=dry_run)
    if dry_run:
        due = due_submissions(now)
        report.add("form_builder.Submission", due.count())
        report.add("form_builder.StoredFile", StoredFile.objects.filter(submission__in=due).count())
        report.add("form_builder.Draft", Draft.objects.filter(expires_at__lte=now).count())
        report.add("form_builder.StoredFile", StoredFile.objects.filter(draft__expires_at__lte=now, submission__isnull=True).count())
        report.add("form_builder.StoredFile", orphan_files(now).count())
        return report
    while True:
        ids = list(due_submissions(now).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        for label, number in anonymise_batch(ids, now).items():
            report.add(label, number)
        if progress:
            progress("submissions", len(ids))
    while True:
        counts = _expired_drafts_batch(now, batch_size)
        if not counts:
            break
        for label, number in counts.items():
            report.add(label, number)
        if progress:
            progress("drafts", counts["form_builder.Draft"])
    while True:
        files = list(orphan_files(now).order_by("pk")[:batch_size])
        if not files:
            break
        with transaction.atomic():
            report.add("form_builder.StoredFile", _delete_files(files))
        if progress:
            progress("files", len(files))
    if report.total:
        log_purge(report, now)
    return report


def log_purge(report: PurgeReport, now) -> ModelLogEntry:
    """The run in Wagtail's audit log (Reports → Site history): counts per model, no personal data."""
    return ModelLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Submission),
        object_id="0",  # not one submission: all of them (Wagtail resolves ids as the model's pk)
        label="Personal data purge",
        action=LOG_ACTION,
        data={"counts": dict(sorted(report.counts.items())), "default_retention_days": settings.TUMEN_RETENTION_DAYS},
        timestamp=now,
    )
