"""Fixed-window rate limits shared by every worker (counted in the database).

A per-process cache would let each gunicorn worker grant the full allowance, so counters live in
:class:`~form_builder.models.RateLimitCounter`: one row per key, bumped with an atomic UPDATE.
Limits are written ``"<count>/<period>"`` with the period ``s``, ``m``, ``h`` or ``d``
("30/m": thirty per minute); ``"0"`` or an empty value switches a limit off.
"""

from __future__ import annotations

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


def hit(key: str, rate: Rate | None, *, now: float | None = None) -> Verdict:
    """Count one request under ``key``; refuse it when the window's allowance is used up."""
    from .models import RateLimitCounter

    if rate is None:
        return Verdict(True)
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = key[:200]
    counters = RateLimitCounter.objects.filter(key=key)
    updated = counters.filter(window=window).update(count=F("count") + 1)
    if not updated:
        updated = counters.update(window=window, count=1)  # a row from an older window starts again
    if not updated:
        try:
            with transaction.atomic():
                RateLimitCounter.objects.create(key=key, window=window, count=1)
        except IntegrityError:  # another worker created it just now
            counters.filter(window=window).update(count=F("count") + 1)
    count = counters.values_list("count", flat=True).first() or 0
    if count > rate.count:
        return Verdict(False, retry_after=max(1, int((window + 1) * rate.seconds - now)))
    return Verdict(True)


def check_submission(request, service_code: str) -> Verdict:
    """The limits on making a submission: per client address, then per service."""
    for key, setting in (
        (f"submit:ip:{client_ip(request)}", "TUMEN_RATE_PER_IP"),
        (f"submit:service:{service_code}", "TUMEN_RATE_PER_SERVICE"),
    ):
        verdict = hit(key, Rate.parse(getattr(settings, setting, "")))
        if not verdict.allowed:
            return verdict
    return Verdict(True)


def check_lookup(request, scope: str) -> Verdict:
    """Limits guessing: tracking-code and resume-code lookups per client address."""
    return hit(f"{scope}:ip:{client_ip(request)}", Rate.parse(getattr(settings, "TUMEN_RATE_LOOKUPS", "")))
