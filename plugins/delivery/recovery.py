"""Recovery: the sweep that wakes a drain for deliveries a crashed worker left behind.

Its own module because it is the safety net, run on a schedule (``plugins.tasks.sweep_deliveries``
and ``manage.py sweep_deliveries``), not on the path of any delivery: it also fails the task rows
django-tasks leaves RUNNING forever and drops old seen callback signatures.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from .leasing import claimable_deliveries
from .wakeup import DRAIN_TASK, wake

SWEEP_TASK = "plugins.tasks.sweep_deliveries"
LEGACY_DELIVER_TASK = "plugins.tasks.deliver"  # removed; a queued one fails, and a drain takes its delivery


def sweep(now=None) -> int:
    """Wake a drain for due deliveries nobody has touched for a lease period; return how many.

    They are left over by a crashed worker (django-tasks keeps its task RUNNING, our lease
    expires) or a deleted task row. A drain that is waiting already covers them.
    """
    from ..models import SeenCallback
    from ..signing import REPLAY_WINDOW_SECONDS

    now = now or timezone.now()
    grace = datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS)
    _fail_abandoned_tasks(now - 2 * grace)
    SeenCallback.objects.filter(created_at__lt=now - datetime.timedelta(seconds=2 * REPLAY_WINDOW_SECONDS)).delete()
    stranded = len(claimable_deliveries(now, now - grace).values_list("pk", flat=True)[:5000])
    if stranded:
        wake()
    return stranded


def _fail_abandoned_tasks(started_before):
    """django-tasks keeps a crashed worker's task RUNNING forever; mark our old ones failed (also the
    one-delivery ``plugins.tasks.deliver`` of releases before drains, which no longer exists)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another backend
        return
    DBTaskResult.objects.filter(
        status="RUNNING", task_path__in=[LEGACY_DELIVER_TASK, DRAIN_TASK, SWEEP_TASK], started_at__lt=started_before
    ).update(status="FAILED", finished_at=timezone.now())
