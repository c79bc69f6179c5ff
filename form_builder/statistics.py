"""Processing-time transparency: how long applications really take, per service and per agency.

For completed applications: the median and the 90th percentile (nearest rank) of the days from
submission to completion, and the share completed within the service's promised processing days.
Computed from the status timeline, so it needs no extra bookkeeping.

The database does the work: it computes each application's duration, ranks them per service (or
agency) with window functions and returns only the rows at the median and 90th-percentile ranks,
with each group's counts. Python never holds a year of applications.

A year of the national catalog is still too much to compute per request, so the public page and
the API read a snapshot (:class:`~form_builder.models.StatisticsSnapshot`, one database row that
every web worker on every machine shares) written by :func:`refresh_snapshot`, which the
``refresh_statistics`` task runs every ``TUMEN_STATISTICS_REFRESH_SECONDS`` (``tasks.py``).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Case, Count, Exists, F, FloatField, Func, IntegerField, OuterRef, Q, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from service_pages.models import ServicePage

from .models import StatisticsSnapshot, Status, SubmissionEvent

SNAPSHOT_NAME = "processing_times"
PERIOD_DAYS = 365
SECONDS_PER_DAY = 86400


@dataclass
class Row:
    key: str
    label: str
    count: int
    median_days: float
    p90_days: float
    within_promise: float | None  # share 0..1, None when no promise is known


class SecondsBetween(Func):
    """``end - start`` in seconds (a float), on SQLite and PostgreSQL.

    Rounded to the millisecond on SQLite, whose ``julianday`` is a float, so that exactly three
    days stays 259200.0 and compares equal to a three-day promise.
    """

    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def _compiled(self, compiler):
        end, start = self.get_source_expressions()
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        return end_sql, start_sql, [*end_params, *start_params]

    def as_sql(self, compiler, connection, **extra_context):
        end, start, params = self._compiled(compiler)
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS double precision)", params

    def as_sqlite(self, compiler, connection, **extra_context):
        end, start, params = self._compiled(compiler)
        return f"ROUND((julianday({end}) - julianday({start})) * {SECONDS_PER_DAY}.0, 3)", params


def completed_durations(submissions, since):
    """One row per completed application (of ``submissions``, else of all) submitted since ``since``: its first "completed" event,
    with ``took`` (seconds from submission to that event), ``promise`` (the service's days) and
    the application's service and agency.

    Built on the events table so that every value is a plain column of one join (a correlated
    subquery for the completion time would be evaluated once per use, three times a row)."""
    earlier = SubmissionEvent.objects.filter(submission=OuterRef("submission"), status=Status.COMPLETED).filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
    )
    events = SubmissionEvent.objects.filter(status=Status.COMPLETED, submission__status=Status.COMPLETED, submission__submitted_at__gte=since)
    if submissions is not None:
        events = events.filter(submission__in=submissions)
    return (
        events.exclude(Exists(earlier))
        .order_by()
        .annotate(
            took=SecondsBetween(F("created_at"), F("submission__submitted_at")),
            promise=F("submission__service__processing_days"),
            service_code=F("submission__service_code"),
            service_title=F("submission__service_title"),
            agency_key=F("submission__agency__code"),
            agency_name=F("submission__agency__name_mn"),
        )
    )


def grouped_rows(completed, key: str, label: str) -> list[Row]:
    """One :class:`Row` per value of ``key``, in one query whatever the number of applications."""
    partition = [F(key)]
    promised = Q(promise__gt=0)
    ranked = completed.annotate(
        position=Window(RowNumber(), partition_by=partition, order_by=[F("took").asc(), F("pk").asc()]),
        size=Window(Count("pk"), partition_by=partition),
        promised=Window(Count("pk", filter=promised), partition_by=partition),
        within=Window(Count("pk", filter=promised & Q(took__lte=F("promise") * SECONDS_PER_DAY)), partition_by=partition),
    )
    # Only three ranks leave the database: the median is the middle row, or the mean of the two
    # middle rows (ranks (n+1)//2 and n//2+1); the 90th percentile is the nearest rank, ceil(0.9 n).
    needed = ranked.annotate(
        needed=Case(
            When(Q(position=(F("size") + 1) / 2) | Q(position=F("size") / 2 + 1) | Q(position=(F("size") * 9 + 9) / 10), then=1),
            default=0,
            output_field=IntegerField(),
        )
    ).filter(needed=1)
    groups: dict = {}
    for row in needed.values(key, label, "took", "position", "size", "promised", "within"):
        groups.setdefault(row[key], []).append(row)
    rows = []
    for group_key, picked in groups.items():
        first = picked[0]
        size = first["size"]
        at = {row["position"]: row["took"] for row in picked}
        median = (at[(size + 1) // 2] + at[size // 2 + 1]) / 2
        rows.append(
            Row(
                key=group_key or "", label=first[label] or group_key or "", count=size,
                median_days=median / SECONDS_PER_DAY, p90_days=at[(9 * size + 9) // 10] / SECONDS_PER_DAY,
                within_promise=first["within"] / first["promised"] if first["promised"] else None,
            )  # fmt: skip
        )
    return sorted(rows, key=lambda row: (-row.count, row.label))


def processing_times(since_days: int = PERIOD_DAYS, submissions=None):
    """``(services, agencies)``: lists of :class:`Row`, most applications first (``submissions``:
    only these, e.g. one office's). Two queries; use the snapshot for the public figures."""
    since = timezone.now() - datetime.timedelta(days=since_days)
    completed = completed_durations(submissions, since)
    return grouped_rows(completed, "service_code", "service_title"), grouped_rows(completed, "agency_key", "agency_name")


def public_service_codes() -> set[str]:
    """Codes of the services anyone may see: the public figures never name a service that is
    unpublished, deleted or behind a view restriction (its applications still count for its agency)."""
    return set(ServicePage.objects.canonical().live().public().values_list("code", flat=True))


def refresh_snapshot(since_days: int = PERIOD_DAYS, progress=None) -> StatisticsSnapshot:
    """Compute the public figures and store them as the snapshot every reader shares."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    since = timezone.now() - datetime.timedelta(days=since_days)
    say(f"Computing processing times of applications completed since {since:%Y-%m-%d}...")
    completed = completed_durations(None, since)
    public = public_service_codes()
    services = [row for row in grouped_rows(completed, "service_code", "service_title") if row.key in public]
    say(f"  by service: {len(services)} service(s), {sum(row.count for row in services)} application(s)")
    agencies = grouped_rows(completed, "agency_key", "agency_name")
    say(f"  by agency: {len(agencies)} agency(ies)")
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    snapshot, _created = StatisticsSnapshot.objects.update_or_create(
        name=SNAPSHOT_NAME,
        defaults={
            "computed_at": timezone.now(),
            "period_days": since_days,
            "data": {"services": [asdict(row) for row in services], "agencies": [asdict(row) for row in agencies]},
            "duration_ms": duration_ms,
        },
    )
    say(f"Stored the snapshot of {snapshot.computed_at:%Y-%m-%d %H:%M:%S %Z} ({duration_ms} ms).")
    return snapshot


def current_snapshot() -> StatisticsSnapshot | None:
    """The stored figures (one query), or None before the first refresh."""
    return StatisticsSnapshot.objects.filter(name=SNAPSHOT_NAME).first()


def is_stale(snapshot: StatisticsSnapshot | None) -> bool:
    """No snapshot, or one older than two refresh periods: the periodic refresh is not running."""
    if snapshot is None:
        return True
    age = (timezone.now() - snapshot.computed_at).total_seconds()
    return age > 2 * settings.TUMEN_STATISTICS_REFRESH_SECONDS
