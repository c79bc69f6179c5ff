"""Processing-time transparency: how long applications really take, per service and per agency.

For completed applications: the median and the 90th percentile of the days from submission to
completion, and the share completed within the service's promised processing days. Computed from
the status timeline, so it needs no extra bookkeeping.
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from .models import Status, Submission


@dataclass
class Row:
    key: str
    label: str
    count: int
    median_days: float
    p90_days: float
    within_promise: float | None  # share 0..1, None when no promise is known


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(share * (len(ordered) - 1)))))
    return ordered[index]


def processing_times(since_days: int = 365, submissions=None):
    """``(services, agencies)``: lists of :class:`Row`, most applications first (``submissions``:
    only these, e.g. one office's)."""
    since = timezone.now() - datetime.timedelta(days=since_days)
    base = Submission.objects.all() if submissions is None else submissions
    completed = (
        base.filter(status=Status.COMPLETED, submitted_at__gte=since)
        .values("pk", "service_code", "service_title", "agency__code", "agency__name_mn", "submitted_at", "service__processing_days")
    )
    done = dict(
        base.filter(status=Status.COMPLETED, submitted_at__gte=since, events__status=Status.COMPLETED)
        .annotate(at=Min("events__created_at"))
        .values_list("pk", "at")
    )
    by_service: dict[str, list] = {}
    by_agency: dict[str, list] = {}
    labels = {}
    for row in completed:
        finished = done.get(row["pk"])
        if finished is None:
            continue
        days = (finished - row["submitted_at"]).total_seconds() / 86400
        promise = row["service__processing_days"]
        by_service.setdefault(row["service_code"], []).append((days, promise))
        by_agency.setdefault(row["agency__code"] or "", []).append((days, promise))
        labels[("s", row["service_code"])] = row["service_title"]
        labels[("a", row["agency__code"] or "")] = row["agency__name_mn"] or ""
    return _rows(by_service, labels, "s"), _rows(by_agency, labels, "a")


def _rows(groups, labels, kind) -> list[Row]:
    rows = []
    for key, items in groups.items():
        days = [d for d, _p in items]
        promised = [(d, p) for d, p in items if p]
        within = (sum(1 for d, p in promised if d <= p) / len(promised)) if promised else None
        rows.append(
            Row(key=key, label=labels.get((kind, key), key), count=len(items), median_days=statistics.median(days),
                p90_days=_percentile(days, 0.9), within_promise=within)  # fmt: skip
        )
    return sorted(rows, key=lambda row: (-row.count, row.label))
