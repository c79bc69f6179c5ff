"""Sending: a worker's pool of sender threads, so one slow agency holds up only its own deliveries.

Its own module because it is the engine's concurrency: before it, a worker sent one request at a
time and every time-out of one dead endpoint blocked every other agency's deliveries behind it.

- Up to ``TUMEN_DELIVERY_SENDERS`` (8) requests are in flight per worker process, and at most
  ``TUMEN_DELIVERY_SENDERS_PER_TARGET`` (4) to one target (a ``PluginConfig``). A drain asks for
  more deliveries only for targets with a free slot (``claim_batch(exclude_configs=...)``), so a
  backlog of a dead endpoint is not claimed ahead of a healthy one's.
- The sender threads only call the plugin (``attempts.try_delivery``: no writes); the drain's own
  thread does every write (``attempts.record_outcome``), so each outcome is still one
  transaction that counts only while this worker's lease holds (a lost lease is logged and
  ignored), and the database sees no more connections than before.
- Leases are unchanged: a claimed delivery is sent only if what is left of its lease covers a
  time-out (else it is given back, ``leasing.release``), and its requests are capped by the lease
  (``plugins.deadlines``). The idempotency key is the delivery's id, the same on every retry.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from django.conf import settings
from django.db import connections

from ..models import Delivery
from .attempts import lease_left, record_outcome, try_delivery
from .leasing import release
from .payload import load_submissions

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def senders() -> int:
    return max(1, int(getattr(settings, "TUMEN_DELIVERY_SENDERS", 8)))


def senders_per_target() -> int:
    return max(1, min(senders(), int(getattr(settings, "TUMEN_DELIVERY_SENDERS_PER_TARGET", 4))))


def pool() -> ThreadPoolExecutor:
    """The process's sender threads (one pool per size, so a changed setting takes effect)."""
    size = senders()
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="delivery-sender")
        return _pools[size]


def _send(delivery, submission, options_cache):
    """One try in a sender thread. A plugin that used the database opened this thread's own
    connection: closed here, so idle sender threads hold none."""
    try:
        return try_delivery(delivery, submission=submission, options_cache=options_cache)
    finally:
        connections.close_all()


class Sending:
    """The deliveries a drain holds: waiting for a slot, or in flight in the sender threads."""

    def __init__(self, *, worker: str = ""):
        self.worker = worker
        self.size, self.per_target = senders(), senders_per_target()
        self.waiting: deque = deque()  # (delivery, token, submission), in claim order
        self.in_flight: dict = {}  # future -> (delivery, token)
        self.by_target: Counter = Counter()  # config id -> held (waiting + in flight)
        self.running: Counter = Counter()  # config id -> in flight
        self.options_cache: dict = {}
        self.done = 0

    # -- what the drain asks ------------------------------------------------------------------

    @property
    def held(self) -> int:
        return len(self.waiting) + len(self.in_flight)

    def room(self) -> int:
        """How many more deliveries to claim: up to two per sender, so a sender freed by a fast
        target finds the next delivery already leased and loaded."""
        return max(0, 2 * self.size - self.held)

    def full_targets(self) -> list:
        """Targets that already have as many deliveries held as they may have in flight."""
        return [config_id for config_id, count in self.by_target.items() if count >= self.per_target and config_id]

    def idle(self) -> bool:
        return not self.held

    # -- moving deliveries --------------------------------------------------------------------

    def add(self, batch: list[Delivery], token: str):
        """Take a claimed batch (one query loads all their submissions) and start what may start."""
        submissions = load_submissions({delivery.submission_id for delivery in batch})
        for delivery in batch:
            self.waiting.append((delivery, token, submissions.get(delivery.submission_id)))
            self.by_target[delivery.config_id] += 1
        self._start()

    def _start(self):
        """Start waiting deliveries whose target has a free slot, while a sender is free; give back
        a delivery whose lease no longer covers a time-out (another worker may take it now)."""
        kept: deque = deque()
        while self.waiting:
            delivery, token, submission = self.waiting.popleft()
            if len(self.in_flight) >= self.size or self.running[delivery.config_id] >= self.per_target:
                kept.append((delivery, token, submission))
                continue
            if lease_left(delivery) < settings.TUMEN_DELIVERY_TIMEOUT:
                release([delivery], token)
                self._forget(delivery)
                continue
            future = pool().submit(_send, delivery, submission, self.options_cache)
            self.in_flight[future] = (delivery, token)
            self.running[delivery.config_id] += 1
        self.waiting = kept

    def _forget(self, delivery):
        self.by_target[delivery.config_id] -= 1
        if self.by_target[delivery.config_id] <= 0:
            del self.by_target[delivery.config_id]

    def collect(self, *, block: bool) -> int:
        """Record the finished tries (waiting for at least one if ``block``), start the next ones;
        return how many were recorded."""
        if not self.in_flight:
            self._start()
            return 0
        finished, _ = wait_for(list(self.in_flight), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in finished:
            delivery, token = self.in_flight.pop(future)
            self.running[delivery.config_id] -= 1
            self._forget(delivery)
            record_outcome(delivery, token, future.result(), self.worker)
        self.done += len(finished)
        self._start()
        return len(finished)

    def give_back_waiting(self):
        """The drain's time is up: deliveries not started go back unattempted."""
        for delivery, token, _submission in self.waiting:
            release([delivery], token)
            self._forget(delivery)
        self.waiting.clear()

    def finish(self) -> int:
        """Wait for everything held to be sent and recorded; return how many were attempted."""
        while self.in_flight or self.waiting:
            if not self.in_flight and self.waiting:
                self._start()
                if not self.in_flight:
                    break  # given back: nothing could start
                continue
            self.collect(block=True)
        return self.done
