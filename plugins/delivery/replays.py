"""Replay: send a dead (or retrying) delivery again, from the admin's delivery dashboard.

Its own module because it is the one way staff intervene in the engine, and it must respect a
live lease like a worker does.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Delivery
from .wakeup import wake_after_commit


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
