"""The delivery engine: plan deliveries with the submission, attempt them in workers, retry, give up.

Flow (docs/ARCHITECTURE.md, "How a submission flows"), one module per step:

1. :func:`plan_deliveries` (``planning``) runs inside the submission's transaction and writes one
   :class:`Delivery` per enabled delivery target. The ``Delivery`` table is the outbox and the
   queue; after commit :func:`wake` (``wakeup``) makes sure a ``deliver_due`` task (django-tasks,
   database backend, run by ``manage.py db_worker`` anywhere) is waiting, unless one already is.
2. :func:`drain` (``worker``; the task) claims due deliveries a few at a time with a *lease*
   (``leasing``: an UPDATE that only one worker can win; ``SKIP LOCKED`` on PostgreSQL), sends them
   from a pool of sender threads (``sending``: 8 at once, 4 per target, so a dead endpoint slows
   only its own deliveries), and keeps going until nothing is due or its time budget is spent. One task serves many
   deliveries: the per-task cost of the queue is paid once per drain, not once per delivery. A
   drain that finds a full batch wakes another so every idle worker joins in on a backlog.
3. :func:`attempt_claimed` (``attempts``) calls the plugin with a :class:`DeliveryContext`
   (``payload``), logs a :class:`DeliveryAttempt`, and either marks the delivery delivered or
   schedules the next attempt with exponential backoff and jitter (and a deferred wake-up for
   then). Past the retry window (48 h by default, counted from the first attempt or the last
   :func:`replay`, ``replays``) the delivery becomes a dead letter and the agency's technical
   contact is told (:func:`alert`, ``alerts``).
4. :func:`sweep` (``recovery``) is the safety net: a due delivery nobody has touched for a lease
   period (its worker crashed; django-tasks leaves that task RUNNING forever, but our lease
   expires) gets a drain woken for it. The sweep runs as a self-rescheduling task and as
   ``manage.py sweep_deliveries``.
5. ``retention``: the receivers of ``form_builder``'s retention signals.
6. :func:`send_test_submission` (``probe``): the admin's test submission to one target, sent at
   once and stored nowhere.
7. ``coverage``: the applications no target carries (:func:`undelivered_by_agency`), for the
   dashboard and ``/healthz``.

At-least-once: a worker that dies after the agency answered but before recording it makes the
delivery run again, with the same idempotency key, which the agency uses to drop the duplicate.

This package re-exports the public names its callers use (``plugins.apps``, ``plugins.tasks``,
``plugins.wagtail_hooks``, the ``sweep_deliveries`` command, tests and benches).
"""

from .alerts import alert
from .attempts import attempt_claimed, backoff_seconds, mark_submission_delivered, record
from .coverage import undelivered_by_agency, undelivered_submissions
from .leasing import ACTIVE, MAX_BATCH, batch_size, claim_batch, claimable_deliveries, release, worker_name
from .payload import DeliveryContext, load_submissions
from .planning import plan_deliveries
from .probe import ProbeResult, send_test_submission
from .recovery import LEGACY_DELIVER_TASK, SWEEP_TASK, sweep
from .replays import replay
from .retention import deliveries_in_flight, forget_personal_data
from .wakeup import DRAIN_TASK, queue_in_database, wake, wake_after_commit
from .worker import attempt_batch, drain

__all__ = [
    "ACTIVE",
    "DRAIN_TASK",
    "LEGACY_DELIVER_TASK",
    "MAX_BATCH",
    "SWEEP_TASK",
    "DeliveryContext",
    "ProbeResult",
    "alert",
    "attempt_batch",
    "attempt_claimed",
    "backoff_seconds",
    "batch_size",
    "claim_batch",
    "claimable_deliveries",
    "deliveries_in_flight",
    "drain",
    "forget_personal_data",
    "load_submissions",
    "mark_submission_delivered",
    "plan_deliveries",
    "queue_in_database",
    "record",
    "release",
    "replay",
    "send_test_submission",
    "undelivered_by_agency",
    "undelivered_submissions",
    "sweep",
    "wake",
    "wake_after_commit",
    "worker_name",
]
