"""The worker's loop: drain what is due, a leased batch at a time, within a time budget.

Its own module because it is what the ``deliver_due`` task runs: it ties leasing, payload loading
and attempts together and decides when to wake a helper or a successor.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from ..models import Delivery
from .attempts import attempt_claimed
from .leasing import batch_size, claim_batch, release
from .payload import load_submissions
from .wakeup import queue_in_database, wake


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
    size, done, helped, in_queue = batch_size(), 0, False, queue_in_database()
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
