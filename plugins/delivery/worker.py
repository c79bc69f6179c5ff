"""The worker's loop: drain what is due, a leased batch at a time, within a time budget.

Its own module because it is what the ``deliver_due`` task runs: it ties leasing, payload loading
and attempts together and decides when to wake a helper or a successor.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from ..models import Delivery
from .leasing import MAX_BATCH, batch_size, claim_batch
from .sending import Sending
from .wakeup import queue_in_database, wake


def drain(*, worker: str = "", budget_seconds: float | None = None) -> int:
    """Attempt due deliveries until none is left or the time budget is spent; return how many.

    Only deliveries due when the drain started are taken, so a delivery that fails and is due
    again at once is not hammered by the same drain (its deferred wake-up or another drain takes
    it). Deliveries are sent concurrently (``sending``): the drain claims more whenever its senders
    have room, for the targets that have a free slot. A full claim wakes a second drain, so idle
    workers join in on a backlog; a spent budget wakes a successor, so the task table sees a task
    finish every half minute or so.
    """
    budget = settings.TUMEN_DELIVERY_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    # Well inside the lease, so the sweep never takes a live drain for a crashed one.
    budget = min(budget, settings.TUMEN_DELIVERY_LEASE_SECONDS / 2)
    started, deadline = timezone.now(), time.monotonic() + budget
    sending = Sending(worker=worker)
    # A claim may hold a few time-outs' worth per sender slot of a target: they go out
    # ``per_target`` at a time, and one whose lease would not cover its time-out is given back.
    size, helped, in_queue = min(MAX_BATCH, batch_size() * sending.per_target), False, queue_in_database()
    exhausted = False  # nothing due was left to claim at the last look
    while True:
        if time.monotonic() >= deadline:
            sending.give_back_waiting()
            done = sending.finish()
            if in_queue:
                wake()  # more may be due: a fresh task carries on
            return done
        if not exhausted and sending.room() >= min(size, sending.size):
            wanted = min(size, sending.room())
            batch, token = claim_batch(wanted, due_by=started, worker=worker, exclude_configs=sending.full_targets())
            if batch:
                if in_queue and not helped and len(batch) == wanted:  # a backlog: idle workers join in
                    wake()
                    helped = True
                sending.add(batch, token)
                sending.collect(block=False)
                continue
            exhausted = not sending.full_targets()  # only full targets' deliveries may be left
        if sending.idle():
            if exhausted:
                return sending.done
            exhausted = False
            continue
        if sending.collect(block=True):
            exhausted = exhausted and not sending.full_targets()


def attempt_batch(batch: list[Delivery], token: str, *, worker: str = "") -> int:
    """Attempt claimed deliveries (concurrently, ``sending``); return how many were attempted.

    One that would start when too little of its lease is left is given back unattempted.
    """
    sending = Sending(worker=worker)
    sending.add(batch, token)
    return sending.finish()
