"""Leasing: which deliveries are due, and how one worker takes some of them for a while.

Its own module because the lease is the engine's only lock: a claim is an UPDATE only one worker
can win (``SKIP LOCKED`` on PostgreSQL), the batch is sized so the lease outlives its attempts,
and the sweep finds crashed workers' deliveries by the same "claimable" condition.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Delivery

ACTIVE = (Delivery.State.PENDING, Delivery.State.RETRYING)
MAX_BATCH = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claimable_deliveries(now, due_by=None):
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


def claim_batch(limit: int, *, due_by=None, worker: str = "", ids=None, exclude_configs=()) -> tuple[list[Delivery], str]:
    """Lease up to ``limit`` due deliveries (among ``ids``, if given; none of the targets
    ``exclude_configs``, whose sender slots are full), oldest due first, for this worker.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so workers claiming at the same time
    take different rows instead of queueing behind each other; the UPDATE repeats the conditions,
    so without row locks (SQLite) a row another worker won meanwhile is simply not ours.
    """
    token = uuid.uuid4().hex
    for _ in range(3):  # another worker may win every candidate; look again
        now = timezone.now()
        claimable = claimable_deliveries(now, due_by and min(due_by, now))
        if ids is not None:
            claimable = claimable.filter(pk__in=ids)
        if exclude_configs:
            claimable = claimable.exclude(config_id__in=list(exclude_configs))
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
