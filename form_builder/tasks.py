"""Background tasks of form_builder (django-tasks; ``manage.py db_worker`` runs them).

django-tasks has no cron. Periodic work here follows the delivery sweep's pattern
(``plugins.tasks.sweep_deliveries``): the task enqueues its own next run with ``run_after``,
and readers restart the chain when they find it broken (:func:`ensure_refresh_scheduled`).
Backends that cannot defer (the immediate backend of the tests) only run it when asked.
"""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from . import statistics

REFRESH_TASK = "form_builder.tasks.refresh_statistics"
ENSURE_EVERY_SECONDS = 60
_refresh_checked_at = -float("inf")


@task()
def refresh_statistics() -> str:
    """Recompute the public processing-time figures, then schedule the next refresh."""
    snapshot = statistics.refresh_snapshot()
    schedule_next_refresh()
    return snapshot.computed_at.isoformat()


def _waiting_refreshes():
    from django_tasks_db.models import DBTaskResult

    stale = timezone.now() - datetime.timedelta(seconds=2 * settings.TUMEN_STATISTICS_REFRESH_SECONDS)
    return DBTaskResult.objects.filter(task_path=REFRESH_TASK).filter(
        Q(status="READY") | Q(status="RUNNING", started_at__gte=stale)  # a crashed refresh does not count
    )


def _defers() -> bool:
    if not refresh_statistics.get_backend().supports_defer:
        return False
    try:
        import django_tasks_db.models  # noqa: F401
    except ImportError:
        return False
    return True


def schedule_next_refresh():
    """Enqueue the next periodic refresh, unless one is already waiting (one chain only)."""
    if not _defers() or _waiting_refreshes().filter(status="READY").exists():
        return
    run_after = timezone.now() + datetime.timedelta(seconds=settings.TUMEN_STATISTICS_REFRESH_SECONDS)
    refresh_statistics.using(run_after=run_after).enqueue()


def ensure_refresh_scheduled():
    """Start the refresh chain if nothing is waiting or running (checked at most once a minute
    per process, so a page read costs at most one extra query now and then)."""
    global _refresh_checked_at
    if time.monotonic() - _refresh_checked_at < ENSURE_EVERY_SECONDS:
        return
    _refresh_checked_at = time.monotonic()
    if _defers() and not _waiting_refreshes().exists():
        refresh_statistics.enqueue()


# -- payments: lost callbacks are found by polling -------------------------------------------------

POLL_TASK = "form_builder.tasks.poll_payments"


@task()
def poll_payments() -> dict:
    """Ask the providers about invoices whose callback has not come (``payments.poll_open_payments``,
    within ``TUMEN_PAYMENT_POLL_BUDGET_SECONDS``), then poll again later while any is open: a
    lost callback is found within about ``TUMEN_PAYMENT_POLL_SECONDS`` of its payment."""
    from .payments import LATE_PAYMENT_GRACE, Payment, PaymentState, poll_open_payments

    counts = poll_open_payments(
        older_than_seconds=settings.TUMEN_PAYMENT_POLL_SECONDS, deadline_seconds=settings.TUMEN_PAYMENT_POLL_BUDGET_SECONDS
    )
    recently_expired = Q(state=PaymentState.EXPIRED, expires_at__gte=timezone.now() - LATE_PAYMENT_GRACE)
    if Payment.objects.filter(Q(state=PaymentState.PENDING) | recently_expired).exists():
        schedule_payment_poll()
    return counts


def schedule_payment_poll():
    """Enqueue the next poll unless one is waiting (one chain only); started by each new invoice."""
    from django_tasks_db.models import DBTaskResult

    if not _defers() or DBTaskResult.objects.filter(task_path=POLL_TASK, status="READY").exists():
        return
    run_after = timezone.now() + datetime.timedelta(seconds=settings.TUMEN_PAYMENT_POLL_SECONDS)
    poll_payments.using(run_after=run_after).enqueue()
