"""Waking the workers: make sure one ``deliver_due`` task is waiting, never a pile of them.

Its own module because every part that makes a delivery due (planning, a retry, a replay, the
sweep, a drain with a backlog) asks for a wake-up the same way, and the queue's bookkeeping
(is a drain already waiting? is the queue in the database?) belongs in one place.
"""

from __future__ import annotations

import datetime
import logging

logger = logging.getLogger("plugins.delivery")
DRAIN_TASK = "plugins.tasks.deliver_due"


def wake(run_after: datetime.datetime | None = None):
    """Make sure a drain task will run now (or at ``run_after``), enqueuing one only if no
    equivalent task is already waiting: a thousand submissions a minute do not make a thousand
    tasks, the waiting drain takes them all."""
    from ..tasks import deliver_due, ensure_sweeper

    task = deliver_due
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return None  # e.g. the immediate backend: the sweep wakes a drain when it is due
        task = task.using(run_after=run_after)
    if _drain_waiting(run_after):
        return None
    result = task.enqueue()
    ensure_sweeper()
    return result


def wake_after_commit(run_after: datetime.datetime | None = None):
    """:func:`wake` for ``on_commit``: what it reports is committed already (the citizen has their
    tracking code), so a task queue that cannot be reached is logged, not raised. The deliveries
    are safe in their table: the sweep wakes a drain for them (issue 13, finding 7)."""
    try:
        wake(run_after)
    except Exception as error:
        logger.warning(
            "could not wake a delivery worker (%s: %s); the sweep will pick the due deliveries up",
            type(error).__name__, str(error)[:200],
        )  # fmt: skip


def queue_in_database() -> bool:
    """True when tasks wait in the database for ``db_worker`` (not run at once, as in tests)."""
    from ..tasks import deliver_due

    try:
        from django_tasks_db import DatabaseBackend
    except ImportError:
        return False
    return isinstance(deliver_due.get_backend(), DatabaseBackend)


def _drain_waiting(run_after: datetime.datetime | None) -> bool:
    """Is a drain task already waiting that covers a wake-up now (or at ``run_after``)?

    A deferred wake-up is covered by one due up to a second later, so retries spread by jitter
    share tasks. A drain that is already RUNNING does not count: it may be past its last claim.
    """
    if not queue_in_database():
        return False
    from django_tasks_db.models import DBTaskResult

    if run_after is None:
        return DBTaskResult.objects.ready().filter(task_path=DRAIN_TASK).exists()
    waiting = DBTaskResult.objects.filter(status="READY", task_path=DRAIN_TASK)
    return waiting.filter(run_after__gte=run_after, run_after__lte=run_after + datetime.timedelta(seconds=1)).exists()
