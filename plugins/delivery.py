"""The delivery engine: plan deliveries with the submission, attempt them in workers, retry, give up.

Flow (docs/ARCHITECTURE.md, "How a submission flows"):

1. :func:`plan_deliveries` runs inside the submission's transaction and writes one
   :class:`Delivery` per enabled delivery target. The ``Delivery`` table is the outbox and the
   queue; after commit :func:`wake` makes sure a ``deliver_due`` task (django-tasks, database
   backend, run by ``manage.py db_worker`` anywhere) is waiting, unless one already is.
2. :func:`drain` (the task) claims due deliveries a few at a time with a *lease* (an UPDATE
   that only one worker can win; ``SKIP LOCKED`` on PostgreSQL), attempts each, and keeps going
   until nothing is due or its time budget is spent. One task serves many deliveries: the
   per-task cost of the queue is paid once per drain, not once per delivery. A drain that finds a
   full batch wakes another so every idle worker joins in on a backlog.
3. :func:`attempt_claimed` calls the plugin, logs a :class:`DeliveryAttempt`, and either marks
   the delivery delivered or schedules the next attempt with exponential backoff and jitter (and
   a deferred wake-up for then). Past the retry window (48 h by default, counted from the first
   attempt or the last replay) the delivery becomes a dead letter and the agency's technical
   contact is told.
4. :func:`sweep` is the safety net: a due delivery nobody has touched for a lease period (its
   worker crashed; django-tasks leaves that task RUNNING forever, but our lease expires) gets a
   drain woken for it. The sweep runs as a self-rescheduling task and as
   ``manage.py sweep_deliveries``.

At-least-once: a worker that dies after the agency answered but before recording it makes the
delivery run again, with the same idempotency key, which the agency uses to drop the duplicate.
"""

from __future__ import annotations

import datetime
import logging
import os
import random
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from form_builder.stages import mark_delivered

from .exceptions import DeliveryError
from .http import BlockedURL, HTTPFailure
from .models import Delivery, DeliveryAttempt, PluginConfig, configs_for
from .registry import register

logger = logging.getLogger(__name__)
ACTIVE = (Delivery.State.PENDING, Delivery.State.RETRYING)
DRAIN_TASK = "plugins.tasks.deliver_due"
SWEEP_TASK = "plugins.tasks.sweep_deliveries"
LEGACY_DELIVER_TASK = "plugins.tasks.deliver"  # removed; a queued one fails, and a drain takes its delivery
MAX_BATCH = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DeliveryContext:
    """What a delivery plugin gets: the delivery, its submission and the standard payload."""

    delivery: Delivery
    preloaded_submission: object = None  # loaded with the rest of a drain's batch

    @cached_property
    def submission(self):
        if self.preloaded_submission is not None:
            return self.preloaded_submission
        return load_submissions([self.delivery.submission_id])[self.delivery.submission_id]

    @property
    def idempotency_key(self) -> str:
        return str(self.delivery.pk)

    @property
    def agency(self):
        return self.submission.agency

    def files(self):
        return list(self.submission.files.all())

    def metadata(self) -> dict:
        submission = self.submission
        operator = submission.operator if submission.operator_id else None
        return {
            "tracking_code": submission.tracking_code,
            "service_code": submission.service_code,
            "service_title": submission.service_title,
            "agency": submission.agency.code if submission.agency else None,
            "form": submission.form_version.definition.slug,
            "form_version": submission.form_version.number,
            "submitted_at": submission.submitted_at.isoformat(),
            "channel": submission.source,
            "language": submission.language,
            "operator": _operator_block(submission, operator),
            "citizen": {
                "register_number": submission.citizen.get("register_number") or submission.applicant_register_number,
                "name": submission.citizen.get("name", ""),
                "phone": submission.citizen.get("phone", ""),
            },
            "consent": submission.consent or None,
            "delivery_id": self.idempotency_key,
            "target": self.delivery.target,
            "stage": self.delivery.stage,
            "stages": submission.stage_agencies,
            # The accumulated record: what earlier stages' agencies reported (stage 1 has none yet).
            "history": [
                {"status": event.status, "stage": event.stage, "agency": event.agency_code, "at": event.created_at.isoformat(),
                 "message": event.message}  # fmt: skip
                for event in submission.events.all()
            ]
            if self.delivery.stage > 1
            else [],
        }

    def payload(self) -> dict:
        """Answers, their JSON Schema and the metadata: what every JSON-based target receives."""
        return {
            "metadata": self.metadata(),
            "answers": self.submission.data,
            "schema": self.submission.form_version.spec.json_schema(),
        }


def load_submissions(ids) -> dict:
    """Submissions by id, with what every payload needs (one query for a whole batch).

    Operator and office are joined only when there are any (most submissions are citizens' own).
    """
    from form_builder.models import Submission

    return Submission.objects.select_related("form_version__definition", "agency").in_bulk(list(ids))


def _operator_block(submission, operator):
    if operator is None:
        return None
    soum = submission.office_soum
    return {
        "username": operator.get_username(),
        "name": operator.get_full_name(),
        "office_soum": soum.code if soum else None,
        "office_aimag": soum.aimag.code if soum else None,
    }


# -- planning (inside the submission's transaction) ----------------------------------------------


def plan_deliveries(sender=None, submission=None, stage=1, **kwargs) -> list[Delivery]:
    """One delivery per target of the stage's agency (stage 1: at submission; later stages when the
    previous agency completes theirs, via ``form_builder.signals.stage_started``)."""
    from service_pages.models import Agency

    service = submission.service
    agency = Agency.objects.filter(code=submission.current_stage_agency_code).first() or submission.agency
    configs = configs_for(service, "delivery", agency=agency) if service is not None else []
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                submission=submission,
                config=config,
                agency=agency,
                stage=stage,
                plugin_id=config.plugin_id,
                target=config.name,
                next_attempt_at=now,
                created_at=now,
            )
            for config in configs
        ]
    )
    if deliveries:
        transaction.on_commit(wake_after_commit)
    return deliveries


# -- waking the workers --------------------------------------------------------------------------


def wake(run_after: datetime.datetime | None = None):
    """Make sure a drain task will run now (or at ``run_after``), enqueuing one only if no
    equivalent task is already waiting: a thousand submissions a minute do not make a thousand
    tasks, the waiting drain takes them all."""
    from .tasks import deliver_due, ensure_sweeper

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


def _queue_in_database() -> bool:
    """True when tasks wait in the database for ``db_worker`` (not run at once, as in tests)."""
    from .tasks import deliver_due

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
    if not _queue_in_database():
        return False
    from django_tasks_db.models import DBTaskResult

    if run_after is None:
        return DBTaskResult.objects.ready().filter(task_path=DRAIN_TASK).exists()
    waiting = DBTaskResult.objects.filter(status="READY", task_path=DRAIN_TASK)
    return waiting.filter(run_after__gte=run_after, run_after__lte=run_after + datetime.timedelta(seconds=1)).exists()


# -- attempts ----------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a random 0.5–1.0."""
    base = settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS
    cap = settings.TUMEN_DELIVERY_BACKOFF_MAX_SECONDS
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311


def _claimable(now, due_by=None):
    """Deliveries that are due (by ``due_by``, default now) and that no live lease holds."""
    return Delivery.objects.filter(state__in=ACTIVE, next_attempt_at__lte=due_by or now).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )


def _lease(now, token: str, worker: str) -> dict:
    seconds = settings.TUMEN_DELIVERY_LEASE_SECONDS
    return {"leased_until": now + datetime.timedelta(seconds=seconds), "lease_token": token, "leased_by": worker[:100]}


def batch_size() -> int:
    """How many deliveries one claim leases: few enough that all of them can time out one after
    the other within the lease (the lease must never expire while its worker is still sending)."""
    per_delivery = settings.TUMEN_DELIVERY_TIMEOUT + 1
    return max(1, min(MAX_BATCH, int(settings.TUMEN_DELIVERY_LEASE_SECONDS // (2 * per_delivery))))


def claim_batch(limit: int, *, due_by=None, worker: str = "", ids=None) -> tuple[list[Delivery], str]:
    """Lease up to ``limit`` due deliveries (among ``ids``, if given), oldest due first, for this worker.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so workers claiming at the same time
    take different rows instead of queueing behind each other; the UPDATE repeats the conditions,
    so without row locks (SQLite) a row another worker won meanwhile is simply not ours.
    """
    token = uuid.uuid4().hex
    for _ in range(3):  # another worker may win every candidate; look again
        now = timezone.now()
        claimable = _claimable(now, due_by and min(due_by, now))
        if ids is not None:
            claimable = claimable.filter(pk__in=ids)
        with transaction.atomic():
            ids = list(
                claimable.order_by("next_attempt_at").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit]
            )
            if not ids:
                return [], token
            won = claimable.filter(pk__in=ids).update(**_lease(now, token, worker))
        if won:
            deliveries = list(Delivery.objects.select_related("config").filter(pk__in=ids, lease_token=token))
            return sorted(deliveries, key=lambda delivery: delivery.next_attempt_at), token
    return [], token


def release(deliveries, token: str):
    """Give leased deliveries back unattempted (the lease would run out before their turn)."""
    Delivery.objects.filter(pk__in=[delivery.pk for delivery in deliveries], lease_token=token).update(
        leased_until=None, lease_token="", leased_by=""
    )


def drain(*, worker: str = "", budget_seconds: float | None = None) -> int:
    """Attempt due deliveries until none is left or the time budget is spent; return how many.

    Only deliveries due when the drain started are taken, so a delivery that fails and is due
    again at once is not hammered by the same drain (its deferred wake-up or another drain takes
    it). A full batch wakes a second drain, so idle workers join in on a backlog; a spent budget
    wakes a successor, so the task table sees a task finish every half minute or so.
    """
    budget = settings.TUMEN_DELIVERY_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    # Well inside the lease, so the sweep never takes a live drain for a crashed one.
    budget = min(budget, settings.TUMEN_DELIVERY_LEASE_SECONDS / 2)
    started, deadline = timezone.now(), time.monotonic() + budget
    size, done, helped, in_queue = batch_size(), 0, False, _queue_in_database()
    while True:
        batch, token = claim_batch(size, due_by=started, worker=worker)
        if not batch:
            return done
        if in_queue and not helped and len(batch) == size:
            wake()
            helped = True
        done += attempt_batch(batch, token, worker=worker)
        if time.monotonic() >= deadline:
            if in_queue:
                wake()  # more may be due: a fresh task carries on
            return done


def attempt_batch(batch: list[Delivery], token: str, *, worker: str = "") -> int:
    """Attempt claimed deliveries one by one; return how many were attempted."""
    submissions = load_submissions({delivery.submission_id for delivery in batch})
    options_cache: dict = {}
    lease_ends = time.monotonic() + settings.TUMEN_DELIVERY_LEASE_SECONDS
    for index, delivery in enumerate(batch):
        if index and lease_ends - time.monotonic() < settings.TUMEN_DELIVERY_TIMEOUT + 1:
            release(batch[index:], token)  # slow targets ate the lease: the rest goes back
            return index
        attempt_claimed(delivery, token, worker=worker, submission=submissions.get(delivery.submission_id),
                        options_cache=options_cache)  # fmt: skip
    return len(batch)


def _options(plugin, config, cache: dict | None) -> dict:
    """The target's options, validated once per drain batch (defaults filled, shape guaranteed)."""
    if cache is not None and config.pk in cache:
        return cache[config.pk]
    try:
        options = plugin.clean_options(config.options)
    except ValidationError as invalid:
        raise DeliveryError(f"the target's options are invalid: {invalid.messages}", retryable=False) from None
    if cache is not None:
        cache[config.pk] = options
    return options


def attempt_claimed(delivery: Delivery, token: str, *, worker: str = "", submission=None, options_cache=None) -> str:
    """Attempt a delivery this worker holds the lease of, and record the outcome."""
    number = delivery.attempts + 1
    started_at = timezone.now()
    started = time.monotonic()
    status_code, error, retryable = None, "", True
    try:
        plugin, config = register.get(delivery.plugin_id), delivery.config
        if plugin is None:
            raise DeliveryError(f"plugin {delivery.plugin_id!r} is not installed", retryable=True)
        if config is None:
            raise DeliveryError("the target's configuration was deleted", retryable=False)
        if not config.enabled:
            raise DeliveryError("the target is disabled", retryable=False)
        options = _options(plugin, config, options_cache)
        result = plugin.deliver(DeliveryContext(delivery, submission), options)
        status_code = result.status_code
    except DeliveryError as failure:
        error, retryable, status_code = str(failure), failure.retryable, failure.status_code
    except BlockedURL as failure:
        error, retryable = f"blocked: {failure}", False
    except HTTPFailure as failure:
        error = str(failure)
    except Exception as failure:  # a plugin's bug must not lose the submission: retry, and log it
        # Where it crashed, not what it said: an exception's text may quote the answers (the
        # full text is kept in the attempt log, which only staff read).
        where = "".join(traceback.format_list(traceback.extract_tb(failure.__traceback__)))
        logger.error("delivery plugin %s crashed with %s\n%s", delivery.plugin_id, type(failure).__name__, where)
        error = f"{type(failure).__name__}: {failure}"
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, token, number, started_at, duration_ms, status_code, error, retryable, worker)


def _record(delivery, token, number, started_at, duration_ms, status_code, error, retryable, worker) -> str:
    """Log the attempt and move the delivery on, in one transaction (one commit per attempt)."""
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery, number=number, started_at=started_at, duration_ms=duration_ms,
            ok=not error, status_code=status_code, error=error[:2000], worker=worker[:100],
        )  # fmt: skip
        mine = Delivery.objects.filter(pk=delivery.pk, lease_token=token)
        fields = {"attempts": number, "leased_until": None, "lease_token": "", "leased_by": "", "last_error": error[:2000],
                  "last_status_code": status_code}  # fmt: skip
        if not error:
            mine.update(state=Delivery.State.DELIVERED, delivered_at=now, **fields)
            _mark_submission_delivered(delivery)
            return "delivered"
        window_end = delivery.retry_from + datetime.timedelta(hours=settings.TUMEN_DELIVERY_RETRY_WINDOW_HOURS)
        next_at = now + datetime.timedelta(seconds=backoff_seconds(number))
        if retryable and next_at < window_end:
            mine.update(state=Delivery.State.RETRYING, next_attempt_at=next_at, **fields)
            transaction.on_commit(lambda: wake_after_commit(run_after=next_at))
            if number == settings.TUMEN_DELIVERY_ALERT_AFTER_ATTEMPTS:
                alert(delivery, error, dead=False)
            return "retrying"
        mine.update(state=Delivery.State.DEAD, dead_at=now, **fields)
    alert(delivery, error, dead=True)
    return "dead"


def _mark_submission_delivered(delivery):
    """"Sent to the agency" once every target of the stage has it (``form_builder`` owns the
    transition: one conditional UPDATE that never overwrites an agency's status)."""
    waiting = Delivery.objects.filter(submission_id=OuterRef("pk"), stage=delivery.stage).exclude(state=Delivery.State.DELIVERED)
    mark_delivered(delivery.submission_id, unless=Exists(waiting.exclude(pk=delivery.pk)))


def alert(delivery: Delivery, error: str, *, dead: bool):
    """Tell the agency's technical contact, at most once an hour per target."""
    config = delivery.config
    agency = delivery.agency
    recipient = agency and (agency.technical_contact_email or agency.contact_email)
    if config is None or not recipient:
        return
    now = timezone.now()
    quiet_since = now - datetime.timedelta(hours=1)
    if not PluginConfig.objects.filter(pk=config.pk).filter(Q(last_alert_at__isnull=True) | Q(last_alert_at__lt=quiet_since)).update(
        last_alert_at=now
    ):
        return
    what = "has given up on" if dead else "keeps failing for"
    send_mail(
        subject=f"[Tumen] Delivery to {agency.code} / {config.plugin_id}:{config.name} is failing",
        message=(
            f"Tumen {what} submission {delivery.submission.tracking_code} to your target "
            f"{config.plugin_id}:{config.name} after {delivery.attempts + 1} attempt(s).\n\n"
            f"Last error: {error}\n\n"
            f"Deliveries that gave up can be replayed from the admin's delivery dashboard.\n"
        ),
        from_email=None,
        recipient_list=[recipient],
        fail_silently=True,
    )


def replay(delivery: Delivery) -> bool:
    """Send a dead (or retrying) delivery again now, with a fresh retry window."""
    now = timezone.now()
    # Not while a worker holds it: its result would be recorded against the old retry window.
    updated = (
        Delivery.objects.filter(pk=delivery.pk, state__in=[Delivery.State.DEAD, Delivery.State.RETRYING])
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(state=Delivery.State.PENDING, next_attempt_at=now, retry_from=now, dead_at=None, leased_until=None,
                lease_token="", leased_by="")  # fmt: skip
    )
    if updated:
        transaction.on_commit(wake_after_commit)
    return bool(updated)


# -- recovery ----------------------------------------------------------------------------------


def sweep(now=None) -> int:
    """Wake a drain for due deliveries nobody has touched for a lease period; return how many.

    They are left over by a crashed worker (django-tasks keeps its task RUNNING, our lease
    expires) or a deleted task row. A drain that is waiting already covers them.
    """
    from .models import SeenCallback
    from .signing import REPLAY_WINDOW_SECONDS

    now = now or timezone.now()
    grace = datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS)
    _fail_abandoned_tasks(now - 2 * grace)
    SeenCallback.objects.filter(created_at__lt=now - datetime.timedelta(seconds=2 * REPLAY_WINDOW_SECONDS)).delete()
    stranded = len(_claimable(now, now - grace).values_list("pk", flat=True)[:5000])
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


# -- retention ---------------------------------------------------------------------------------


def deliveries_in_flight(sender, **kwargs):
    """``retention_hold`` receiver: applications with a delivery still pending or retrying keep their
    data until it is delivered or given up (the next attempt builds its payload from them)."""
    finished = (Delivery.State.DELIVERED, Delivery.State.DEAD)
    return Delivery.objects.exclude(state__in=finished).order_by().values_list("submission_id", flat=True)


def forget_personal_data(sender, submission_ids, **kwargs) -> dict:
    """``personal_data_purged`` receiver: blank what deliveries keep of anonymised submissions.

    Payloads are built from the submission at each attempt and never stored, so anonymising the
    submission anonymises them; what stays is the error text of deliveries and their attempts,
    which may quote an agency's response. States, counts, status codes and times stay (the
    delivery dashboard's figures).
    """
    deliveries = Delivery.objects.filter(submission_id__in=submission_ids)
    attempts = DeliveryAttempt.objects.filter(delivery__submission_id__in=submission_ids).exclude(error="")
    return {
        "plugins.DeliveryAttempt": attempts.update(error=""),
        "plugins.Delivery": deliveries.exclude(last_error="").update(last_error=""),
    }
