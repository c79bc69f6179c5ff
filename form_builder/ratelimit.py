"""Fixed-window rate limits shared by every worker (counted in the database).

A per-process cache would let each gunicorn worker grant the full allowance, so counters live in
:class:`~form_builder.models.RateLimitCounter`: one row per key, bumped with an atomic UPDATE.
Limits are written ``"<count>/<period>"`` with the period ``s``, ``m``, ``h`` or ``d``
("30/m": thirty per minute); ``"0"`` or an empty value switches a limit off.

Nobody may use up a limit that protects everybody:

- the per-address limit counts every request of a client, but "a client" is an IPv4 address or
  an IPv6 /64 (:func:`client_bucket`): one subscriber usually holds a whole /64;
- the per-service limit counts only requests for a real, open service whose answers are valid
  (the callers check the service and validate first), so a flood of bad requests, or of unknown
  service codes, neither blocks a service nor creates counter rows;
- counters of finished windows are deleted whenever a new key is counted, and by the daily
  ``purge_expired_drafts`` housekeeping (:func:`purge_expired_counters`).

The address comes from ``REMOTE_ADDR``, or with ``TUMEN_TRUSTED_PROXIES`` = N from
X-Forwarded-For (:func:`client_ip`). Behind a load balancer that setting must say so: left at 0
there, every citizen has the balancer's address and shares one per-address allowance.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        text = str(text or "").strip()
        if text in ("", "0"):
            return None
        count, _, period = text.partition("/")
        unit = period.strip()[-1:] or "m"
        number = period.strip()[:-1] or "1"
        if unit not in PERIODS or not count.strip().isdigit() or not number.isdigit():
            raise ValueError(f"rate {text!r} is not '<count>/<period>' like '30/m'")
        return cls(int(count), int(number) * PERIODS[unit])


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def client_ip(request) -> str:
    """The client's address; with ``TUMEN_TRUSTED_PROXIES`` = N, the Nth address from the right of
    X-Forwarded-For (the one the outermost trusted proxy saw)."""
    proxies = getattr(settings, "TUMEN_TRUSTED_PROXIES", 0)
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def client_bucket(request) -> str:
    """What the per-address limits count: the client's IPv4 address, or its IPv6 /64 network.

    An IPv6 subscriber is usually given a whole /64, so counting each address apart would give
    one person 2^64 allowances. An IPv4-mapped IPv6 address (``::ffff:10.1.2.3``, as a dual-stack
    socket reports IPv4 clients) counts as its IPv4 address. Anything unparsable is used as is.
    """
    address = client_ip(request).strip()
    try:
        parsed = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return address[:100]
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def hit(key: str, rate: Rate | None, *, now: float | None = None) -> Verdict:
    """Count one request under ``key``; refuse it when the window's allowance is used up."""
    from .models import RateLimitCounter

    if rate is None:
        return Verdict(True)
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    expires_at = (window + 1) * rate.seconds
    key = key[:200]
    counters = RateLimitCounter.objects.filter(key=key)
    updated = counters.filter(window=window).update(count=F("count") + 1)
    if not updated:
        # A row from an older window starts again.
        updated = counters.update(window=window, count=1, expires_at=expires_at)
    if not updated:
        purge_expired_counters(now)  # a new key: keep the table to the keys of current windows
        try:
            with transaction.atomic():
                RateLimitCounter.objects.create(key=key, window=window, count=1, expires_at=expires_at)
        except IntegrityError:  # another worker created it just now
            counters.filter(window=window).update(count=F("count") + 1)
    count = counters.values_list("count", flat=True).first() or 0
    if count > rate.count:
        return Verdict(False, retry_after=max(1, int((window + 1) * rate.seconds - now)))
    return Verdict(True)


def purge_expired_counters(now: float | None = None) -> int:
    """Delete the counters whose window has ended; returns how many went."""
    from .models import RateLimitCounter

    now = time.time() if now is None else now
    deleted, _by_model = RateLimitCounter.objects.filter(expires_at__lte=now).delete()
    return deleted


class Throttled(Exception):
    """A limit refused the request; ``verdict.retry_after`` says when to come back."""

    def __init__(self, verdict: Verdict):
        super().__init__(f"rate limited, retry after {verdict.retry_after} s")
        self.verdict = verdict


def check_client(request) -> Verdict:
    """The per-address limit on making submissions (and uploads): counts every attempt."""
    return hit(f"submit:ip:{client_bucket(request)}", Rate.parse(getattr(settings, "TUMEN_RATE_PER_IP", "")))


def check_service(service_code: str) -> Verdict:
    """The per-service limit. Call it only for a real, open service and valid answers: whatever
    it counts uses up the service's allowance for every citizen."""
    return hit(f"submit:service:{service_code}", Rate.parse(getattr(settings, "TUMEN_RATE_PER_SERVICE", "")))


def count_for_service(service_code: str) -> None:
    """:func:`check_service`, raising :class:`Throttled` when refused (for ``submit(admit=...)``)."""
    verdict = check_service(service_code)
    if not verdict.allowed:
        raise Throttled(verdict)


def check_submission(request, service_code: str) -> Verdict:
    """Both limits on making a submission whose service and answers were already checked."""
    verdict = check_client(request)
    return check_service(service_code) if verdict.allowed else verdict


def check_lookup(request, scope: str) -> Verdict:
    """Limits guessing: tracking-code and resume-code lookups per client address."""
    return hit(f"{scope}:ip:{client_bucket(request)}", Rate.parse(getattr(settings, "TUMEN_RATE_LOOKUPS", "")))
