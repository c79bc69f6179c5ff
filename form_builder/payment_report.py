"""The reconciliation report: per agency, what was paid and refunded, by day, as CSV or XLSX.

An agency's finance staff compare it with the provider's statement: for online payments, the
sum of "paid" minus "refunded" equals what the provider holds for the agency (``bench/payments.py``
checks it). A payment counts on the day it was paid (``paid_at``), a refund on the day it was
refunded; ``refund_due`` payments (paid, not counted, refund failed) are listed so staff act on
them. Used by the admin (``wagtail_hooks``: agency-scoped) and ``manage.py payment_report``.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections import defaultdict

from django.db.models.functions import TruncDate
from django.utils import timezone

from .payments import Payment, PaymentState

COLUMNS = ["day", "method", "paid_count", "paid_mnt", "refunded_count", "refunded_mnt", "refund_due_count", "refund_due_mnt"]


def agency_payments(agency_code: str):
    return Payment.objects.filter(submission__agency__code=agency_code)


def report_rows(payments, start: datetime.date | None = None, end: datetime.date | None = None) -> list[dict]:
    """One row per day and method with counts and sums (MNT), oldest day first."""
    table: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COLUMNS[2:], 0))
    tz = timezone.get_current_timezone()

    def add(field, prefix, rows):
        rows = rows.exclude(**{f"{field}__isnull": True}).annotate(day=TruncDate(field, tzinfo=tz))
        if start:
            rows = rows.filter(day__gte=start)
        if end:
            rows = rows.filter(day__lte=end)
        for day, method, amount in rows.values_list("day", "method", "amount"):
            cell = table[(day, method)]
            cell[f"{prefix}_count"] += 1
            cell[f"{prefix}_mnt"] += amount

    add("paid_at", "paid", payments)
    add("refunded_at", "refunded", payments.filter(state=PaymentState.REFUNDED))
    add("paid_at", "refund_due", payments.filter(state=PaymentState.REFUND_DUE))
    return [{"day": day.isoformat(), "method": method, **cell} for (day, method), cell in sorted(table.items())]


def totals(rows: list[dict]) -> dict:
    return {column: sum(row[column] for row in rows) for column in COLUMNS[2:]}


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def as_xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "payments"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row[column] for column in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
