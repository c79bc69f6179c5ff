"""Attempts: call the plugin for a leased delivery, log it, and move the delivery on.

Its own module because it decides a delivery's fate: delivered (and the submission "sent to the
agency" once every target has it, through ``form_builder.stages``), retrying with backoff and a
deferred wake-up, or dead after the retry window or a non-retryable error (and the agency told).
"""

from __future__ import annotations

import datetime
import logging
import random
import time
import traceback
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from form_builder.stages import mark_delivered

from .. import deadlines
from ..exceptions import DeliveryError
from ..http import BlockedURL, HTTPFailure
from ..models import Delivery, DeliveryAttempt
from ..registry import register
from ..secrets import unreadable_options
from .alerts import alert
from .payload import DeliveryContext
from .wakeup import wake_after_commit

logger = logging.getLogger("plugins.delivery")
# Seconds of the lease kept back after an attempt's deadline, to record its outcome.
RECORD_MARGIN_SECONDS = 1.0
LEASE_LOST = "lease lost"


def lease_left(delivery: Delivery) -> float:
    """Seconds this worker may still spend sending ``delivery``: its lease, less the time to record."""
    if delivery.leased_until is None:
        return float(settings.TUMEN_DELIVERY_TIMEOUT)
    return (delivery.leased_until - timezone.now()).total_seconds() - RECORD_MARGIN_SECONDS


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a random 0.5–1.0."""
    base = settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS
    cap = settings.TUMEN_DELIVERY_BACKOFF_MAX_SECONDS
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311


def _options(plugin, config, cache: dict | None) -> dict:
    """The target's options, validated once per drain batch (defaults filled, shape guaranteed)."""
    if cache is not None and config.pk in cache:
        return cache[config.pk]
    if unreadable_options(config.options):  # retried: the key may be put back (see plugins.secrets)
        raise DeliveryError("a secret option of the target cannot be decrypted with TUMEN_SECRETS_KEYS", retryable=True)
    try:
        options = plugin.clean_options(config.options)
    except ValidationError as invalid:
        raise DeliveryError(f"the target's options are invalid: {invalid.messages}", retryable=False) from None
    if cache is not None:
        cache[config.pk] = options
    return options


@dataclass
class Outcome:
    """What one try of a delivery gave, before it is recorded."""

    number: int
    started_at: datetime.datetime
    duration_ms: int = 0
    status_code: int | None = None
    error: str = ""
    retryable: bool = True


def attempt_claimed(delivery: Delivery, token: str, *, worker: str = "", submission=None, options_cache=None) -> str:
    """Attempt a delivery this worker holds the lease of, and record the outcome."""
    outcome = try_delivery(delivery, submission=submission, options_cache=options_cache)
    return record_outcome(delivery, token, outcome, worker)


def try_delivery(delivery: Delivery, *, submission=None, options_cache=None) -> Outcome:
    """Call the target's plugin for a leased delivery; writes nothing (a sender thread runs it,
    ``sending``), and never raises: any failure is the outcome's ``error``."""
    outcome = Outcome(number=delivery.attempts + 1, started_at=timezone.now())
    started = time.monotonic()
    try:
        plugin, config = register.get(delivery.plugin_id), delivery.config
        if plugin is None:
            raise DeliveryError(f"plugin {delivery.plugin_id!r} is not installed", retryable=True)
        if config is None:
            raise DeliveryError("the target's configuration was deleted", retryable=False)
        if not config.enabled:
            raise DeliveryError("the target is disabled", retryable=False)
        options = _options(plugin, config, options_cache)
        result = send(plugin, DeliveryContext(delivery, submission), options)
        outcome.status_code = result.status_code
    except DeliveryError as failure:
        outcome.error, outcome.retryable, outcome.status_code = str(failure), failure.retryable, failure.status_code
    except BlockedURL as failure:
        outcome.error, outcome.retryable = f"blocked: {failure}", False
    except HTTPFailure as failure:
        outcome.error = str(failure)
    except Exception as failure:  # a plugin's bug must not lose the submission: retry, and log it
        # Where it crashed, not what it said: an exception's text may quote the answers (the
        # full text is kept in the attempt log, which only staff read).
        where = "".join(traceback.format_list(traceback.extract_tb(failure.__traceback__)))
        logger.error("delivery plugin %s crashed with %s\n%s", delivery.plugin_id, type(failure).__name__, where)
        outcome.error = f"{type(failure).__name__}: {failure}"
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def record_outcome(delivery: Delivery, token: str, outcome: Outcome, worker: str = "") -> str:
    return record(delivery, token, outcome.number, outcome.started_at, outcome.duration_ms, outcome.status_code,
                  outcome.error, outcome.retryable, worker)  # fmt: skip


def send(plugin, context: DeliveryContext, options: dict):
    """``plugin.deliver()`` with its requests capped by the lease (``plugins.deadlines``): a
    target's ``timeout`` option longer than what is left of the lease is cut down to it, so the
    request ends before another worker may take the delivery."""
    with deadlines.within(max(0.0, lease_left(context.delivery))):
        return plugin.deliver(context, options)


def record(delivery, token, number, started_at, duration_ms, status_code, error, retryable, worker) -> str:
    """Log the attempt and move the delivery on, in one transaction (one commit per attempt).

    Only while this worker's lease holds: if another worker has taken the delivery meanwhile (the
    lease ran out and it was claimed again), this attempt is not recorded and changes nothing,
    and the log says so; the other worker's attempt decides (the agency drops a duplicate by the
    idempotency key). Returns "delivered", "retrying", "dead" or "lease lost".
    """
    now = timezone.now()
    mine = Delivery.objects.filter(pk=delivery.pk, lease_token=token)
    fields = {"attempts": number, "leased_until": None, "lease_token": "", "leased_by": "", "last_error": error[:2000],
              "last_status_code": status_code}  # fmt: skip
    window_end = delivery.retry_from + datetime.timedelta(hours=settings.TUMEN_DELIVERY_RETRY_WINDOW_HOURS)
    next_at = now + datetime.timedelta(seconds=backoff_seconds(number))
    if not error:
        outcome, changes = "delivered", {"state": Delivery.State.DELIVERED, "delivered_at": now}
    elif retryable and next_at < window_end:
        outcome, changes = "retrying", {"state": Delivery.State.RETRYING, "next_attempt_at": next_at}
    else:
        outcome, changes = "dead", {"state": Delivery.State.DEAD, "dead_at": now}
    with transaction.atomic():
        if not token or not mine.update(**changes, **fields):
            logger.warning(
                "attempt %s of delivery %s by %s (%s) not recorded: its lease was lost to another worker",
                number, delivery.pk, worker or "?", outcome,
            )  # fmt: skip
            return LEASE_LOST
        DeliveryAttempt.objects.create(
            delivery=delivery, number=number, started_at=started_at, duration_ms=duration_ms,
            ok=not error, status_code=status_code, error=error[:2000], worker=worker[:100],
        )  # fmt: skip
        if outcome == "delivered":
            mark_submission_delivered(delivery)
        elif outcome == "retrying":
            transaction.on_commit(lambda: wake_after_commit(run_after=next_at))
            if number == settings.TUMEN_DELIVERY_ALERT_AFTER_ATTEMPTS:
                alert(delivery, error, dead=False)
    if outcome == "dead":
        alert(delivery, error, dead=True)
    return outcome



def mark_submission_delivered(delivery):
    """"Sent to the agency" once every target of the stage has it (``form_builder`` owns the
    transition: one conditional UPDATE that never overwrites an agency's status)."""
    waiting = Delivery.objects.filter(submission_id=OuterRef("pk"), stage=delivery.stage).exclude(state=Delivery.State.DELIVERED)
    mark_delivered(delivery.submission_id, unless=Exists(waiting.exclude(pk=delivery.pk)))
