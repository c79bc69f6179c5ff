"""Background tasks of the delivery engine (django-tasks; ``manage.py db_worker`` runs them)."""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from . import delivery as engine

_sweeper_checked_at = 0.0


@task()
def deliver_due() -> int:
    """Attempt the deliveries that are due, a batch at a time (see ``delivery.drain``)."""
    return engine.drain(worker=engine.worker_name())


@task()
def sweep_deliveries() -> int:
    """Wake a drain for deliveries left over by a crashed worker, then schedule the next sweep."""
    count = engine.sweep()
    backend = sweep_deliveries.get_backend()
    if backend.supports_defer:
        run_after = timezone.now() + datetime.timedelta(seconds=settings.TUMEN_DELIVERY_SWEEP_SECONDS)
        sweep_deliveries.using(run_after=run_after).enqueue()
    return count


def ensure_sweeper():
    """Make sure a sweep is scheduled (checked at most once a minute per process)."""
    global _sweeper_checked_at
    if time.monotonic() - _sweeper_checked_at < 60:
        return
    _sweeper_checked_at = time.monotonic()
    backend = sweep_deliveries.get_backend()
    if not backend.supports_defer:
        return
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        return
    stale = timezone.now() - datetime.timedelta(seconds=2 * settings.TUMEN_DELIVERY_LEASE_SECONDS)
    pending = DBTaskResult.objects.filter(task_path=engine.SWEEP_TASK).filter(
        Q(status="READY") | Q(status="RUNNING", started_at__gte=stale)  # a crashed sweep does not count
    )
    if not pending.exists():
        sweep_deliveries.enqueue()
