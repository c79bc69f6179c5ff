"""Deadlines: the plugin core's timeout policy, and one hard deadline per outgoing request.

Why its own module: every kind of plugin talks to an agency's system while something waits (a
citizen at submit time, an operator, a delivery worker holding a lease), and a socket timeout
alone bounds only *one* read. A server that trickles its headers one byte a second keeps a
``timeout=2`` request alive for as long as it likes. So the core owns three rules here:

- :class:`Deadline`: a point in time, not a duration; each phase of a request (connect, TLS,
  headers, body) gets what is *left* of it (:meth:`Deadline.remaining`).
- :func:`watch`: a watchdog that shuts a socket down when its deadline passes, whatever the phase
  (``http.client`` reads headers through a buffered file, where a per-read timeout cannot be
  changed between bytes). One daemon thread serves every request of the process.
- :func:`within` / :func:`limit`: an ambient cap on every request made by the current thread, set
  by the core around a plugin call (a delivery worker caps each attempt by what is left of its
  lease; ``plugins.http.request`` and the e-mail plugin honour it), so a plugin's own ``timeout``
  option can never outlast the lease it runs under.

The pre-submit checks' overall deadline (``TUMEN_PRE_SUBMIT_TIMEOUT``) and ``on_timeout`` policy
live in ``plugins.checks``; what every plugin may raise lives in ``plugins.exceptions``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

_ambient = threading.local()


class Deadline:
    """A moment (``time.monotonic()``) by which something must be done."""

    __slots__ = ("ends",)

    def __init__(self, seconds: float):
        self.ends = time.monotonic() + max(0.0, float(seconds))

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.ends


# -- the ambient cap of the current thread ---------------------------------------------------------


@contextlib.contextmanager
def within(seconds: float):
    """Cap every outgoing request of this thread (until the block ends) to ``seconds`` from now.

    Nested caps keep the earliest: an inner block can only shorten the time left.
    """
    outer = getattr(_ambient, "ends", None)
    ends = time.monotonic() + max(0.0, float(seconds))
    _ambient.ends = ends if outer is None else min(outer, ends)
    try:
        yield
    finally:
        _ambient.ends = outer


def limit(timeout: float | None) -> float | None:
    """``timeout`` cut down to the ambient cap of this thread (``None`` stays ``None`` without a cap).

    Never below a small floor: a request given zero seconds would fail in a confusing way; the
    caller (the worker) gives a delivery back instead of starting it that late.
    """
    ends = getattr(_ambient, "ends", None)
    if ends is None:
        return timeout
    left = max(0.05, ends - time.monotonic())
    return left if timeout is None else min(float(timeout), left)


# -- the watchdog ----------------------------------------------------------------------------------


class _Watch:
    __slots__ = ("sock", "fired", "done")

    def __init__(self, sock):
        self.sock, self.fired, self.done = sock, False, False


class _Watchdog:
    """One thread that shuts down sockets whose deadline has passed (a heap of deadlines)."""

    def __init__(self):
        self._heap: list = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, ends: float, watch: _Watch):
        with self._wake:
            heapq.heappush(self._heap, (ends, next(self._counter), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="plugins-deadline-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self):
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished in time: forget it
                if not self._heap:
                    self._wake.wait(30)
                    continue
                ends, _, watch = self._heap[0]
                delay = ends - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if watch.done:
                    continue
                watch.fired = True
            with contextlib.suppress(OSError):
                watch.sock.shutdown(socket.SHUT_RDWR)  # unblocks a recv()/send() in another thread


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def watch(sock, deadline: Deadline):
    """Shut ``sock`` down if the block is still running at ``deadline``; yields the watch, whose
    ``fired`` says whether it did (then whatever the socket returned last is not to be trusted:
    an empty read means "timed out", not "end of the body")."""
    entry = _Watch(sock)
    _WATCHDOG.add(deadline.ends, entry)
    try:
        yield entry
    finally:
        entry.done = True
