"""The delivery engine: plan deliveries with the submission, attempt them in workers, retry, give up.

Flow (docs/ARCHITECTURE.md, "How a submission flows"):

1. :func:`plan_deliveries` runs inside the submission's transaction and writes one
   :class:`Delivery` per enabled delivery target; after commit each gets a ``deliver`` task
   (django-tasks, database backend, run by ``manage.py db_worker`` anywhere).
2. :func:`attempt` claims the delivery with a *lease* (an UPDATE that only one worker can win),
   calls the plugin, logs a :class:`DeliveryAttempt`, and either marks it delivered or schedules
   the next attempt with exponential backoff and jitter. Past the retry window (48 h by default,
   counted from the first attempt or the last replay) the delivery becomes a dead letter and
   the agency's technical contact is told.
3. :func:`sweep` re-queues deliveries whose task was lost: django-tasks leaves a task whose
   worker crashed in RUNNING forever, but our lease expires, so the delivery is picked up again.
   The sweep runs as a self-rescheduling task and as ``manage.py sweep_deliveries``.

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
import uuid
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .base import DeliveryError
from .http import BlockedURL, HTTPFailure
from .models import Delivery, DeliveryAttempt, PluginConfig, configs_for
from .registry import register

logger = logging.getLogger(__name__)
ACTIVE = (Delivery.State.PENDING, Delivery.State.RETRYING)
DELIVER_TASK = "plugins.tasks.deliver"
SWEEP_TASK = "plugins.tasks.sweep_deliveries"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DeliveryContext:
    """What a delivery plugin gets: the delivery, its submission and the standard payload."""

    delivery: Delivery

    @cached_property
    def submission(self):
        from form_builder.models import Submission

        # Operator and office are joined only when there are any (most submissions are citizens' own).
        return Submission.objects.select_related("form_version__definition", "agency").get(pk=self.delivery.submission_id)

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


def plan_deliveries(sender=None, submission=None, outbox_event=None, stage=1, **kwargs) -> list[Delivery]:
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
                enqueued_at=now,
            )
            for config in configs
        ]
    )
    if outbox_event is not None:
        outbox_event.processed_at = now
        outbox_event.save(update_fields=["processed_at"])
    ids = [str(delivery.pk) for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: [enqueue(delivery_id) for delivery_id in ids])
    return deliveries


def enqueue(delivery_id: str, run_after: datetime.datetime | None = None):
    from .tasks import deliver, ensure_sweeper

    task = deliver
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return None  # e.g. the immediate backend: the sweep picks the delivery up when due
        task = task.using(run_after=run_after)
    result = task.enqueue(delivery_id)
    ensure_sweeper()
    return result


# -- attempts ----------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a random 0.5–1.0."""
    base = settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS
    cap = settings.TUMEN_DELIVERY_BACKOFF_MAX_SECONDS
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311


def claim(delivery_id, *, now=None) -> tuple[Delivery, str] | None:
    """Lease a due delivery for this worker; None if it is not due, finished, or leased."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    won = (
        Delivery.objects.filter(pk=delivery_id, state__in=ACTIVE, next_attempt_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS), lease_token=token)
    )
    if not won:
        return None
    # Only the delivery and its target here; the plugin loads the submission when it needs it.
    delivery = Delivery.objects.select_related("config").get(pk=delivery_id)
    return delivery, token


def attempt(delivery_id, *, worker: str = "") -> str:
    """Make one attempt if the delivery is due; return "delivered", "retrying", "dead" or "skipped"."""
    claimed = claim(delivery_id)
    if claimed is None:
        return "skipped"
    delivery, token = claimed
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
        try:
            options = plugin.clean_options(config.options)  # defaults filled, shape guaranteed
        except ValidationError as invalid:
            raise DeliveryError(f"the target's options are invalid: {invalid.messages}", retryable=False) from None
        result = plugin.deliver(DeliveryContext(delivery), options)
        status_code = result.status_code
    except DeliveryError as failure:
        error, retryable, status_code = str(failure), failure.retryable, failure.status_code
    except BlockedURL as failure:
        error, retryable = f"blocked: {failure}", False
    except HTTPFailure as failure:
        error = str(failure)
    except Exception as failure:  # a plugin's bug must not lose the submission: retry, and log it
        logger.exception("delivery plugin %s crashed", delivery.plugin_id)
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
        fields = {"attempts": number, "leased_until": None, "lease_token": "", "last_error": error[:2000], "last_status_code": status_code}
        if not error:
            mine.update(state=Delivery.State.DELIVERED, delivered_at=now, **fields)
            _mark_submission_delivered(delivery)
            return "delivered"
        window_end = delivery.retry_from + datetime.timedelta(hours=settings.TUMEN_DELIVERY_RETRY_WINDOW_HOURS)
        next_at = now + datetime.timedelta(seconds=backoff_seconds(number))
        if retryable and next_at < window_end:
            mine.update(state=Delivery.State.RETRYING, next_attempt_at=next_at, enqueued_at=now, **fields)
            transaction.on_commit(lambda: enqueue(str(delivery.pk), run_after=next_at))
            if number == settings.TUMEN_DELIVERY_ALERT_AFTER_ATTEMPTS:
                alert(delivery, error, dead=False)
            return "retrying"
        mine.update(state=Delivery.State.DEAD, dead_at=now, **fields)
    alert(delivery, error, dead=True)
    return "dead"


def _mark_submission_delivered(delivery):
    """"Sent to the agency" once every target of the stage has it, and only if no agency has
    reported a status since (an UPDATE conditional on the status, so it never overwrites one)."""
    from form_builder.models import Status, Submission, SubmissionEvent

    waiting = Delivery.objects.filter(submission_id=OuterRef("pk"), stage=delivery.stage).exclude(state=Delivery.State.DELIVERED)
    # One statement: only if still "received" and no other target of the stage is still waiting.
    if (
        Submission.objects.filter(pk=delivery.submission_id, status=Status.RECEIVED)
        .exclude(Exists(waiting.exclude(pk=delivery.pk)))
        .update(status=Status.DELIVERED, updated_at=timezone.now())
    ):
        SubmissionEvent.objects.create(submission_id=delivery.submission_id, status=Status.DELIVERED, actor="tumen")


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
                lease_token="", enqueued_at=now)  # fmt: skip
    )
    if updated:
        transaction.on_commit(lambda: enqueue(str(delivery.pk)))
    return bool(updated)


# -- recovery ----------------------------------------------------------------------------------


def sweep(now=None) -> int:
    """Re-queue due deliveries whose task was lost (a crashed worker, a deleted task row).

    A delivery merely waiting in a long queue still has a live task: it is left alone, or a
    backlog would be multiplied by every sweep.
    """
    from .models import SeenCallback
    from .signing import REPLAY_WINDOW_SECONDS

    now = now or timezone.now()
    grace = datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS)
    _fail_abandoned_tasks(now - 2 * grace)
    SeenCallback.objects.filter(created_at__lt=now - datetime.timedelta(seconds=2 * REPLAY_WINDOW_SECONDS)).delete()
    lost = Delivery.objects.filter(state__in=ACTIVE, next_attempt_at__lte=now - grace).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    ).filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - grace))
    candidates = [str(pk) for pk in lost.values_list("pk", flat=True)[:5000]]
    if not candidates:
        return 0
    queued = _queued_delivery_ids()
    ids = [delivery_id for delivery_id in candidates if delivery_id not in queued]
    Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)


def _queued_delivery_ids() -> set[str]:
    """Deliveries that still have a task waiting or running (database task backend)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        return set()
    rows = DBTaskResult.objects.filter(task_path=DELIVER_TASK, status__in=["READY", "RUNNING"]).values_list("args_kwargs", flat=True)
    return {str((row or {}).get("args", [None])[0]) for row in rows}


def _fail_abandoned_tasks(started_before):
    """django-tasks keeps a crashed worker's task RUNNING forever; mark our old ones failed."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another backend
        return
    DBTaskResult.objects.filter(
        status="RUNNING", task_path__in=[DELIVER_TASK, SWEEP_TASK], started_at__lt=started_before
    ).update(status="FAILED", finished_at=timezone.now())
