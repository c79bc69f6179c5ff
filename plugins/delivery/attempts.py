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

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from form_builder.stages import mark_delivered

from ..exceptions import DeliveryError
from ..http import BlockedURL, HTTPFailure
from ..models import Delivery, DeliveryAttempt
from ..registry import register
from ..secrets import unreadable_options
from .alerts import alert
from .payload import DeliveryContext
from .wakeup import wake_after_commit

logger = logging.getLogger("plugins.delivery")


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
    return record(delivery, token, number, started_at, duration_ms, status_code, error, retryable, worker)


def record(delivery, token, number, started_at, duration_ms, status_code, error, retryable, worker) -> str:
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
            mark_submission_delivered(delivery)
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


def mark_submission_delivered(delivery):
    """"Sent to the agency" once every target of the stage has it (``form_builder`` owns the
    transition: one conditional UPDATE that never overwrites an agency's status)."""
    waiting = Delivery.objects.filter(submission_id=OuterRef("pk"), stage=delivery.stage).exclude(state=Delivery.State.DELIVERED)
    mark_delivered(delivery.submission_id, unless=Exists(waiting.exclude(pk=delivery.pk)))
