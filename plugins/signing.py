"""Signed requests between Tumen and agencies (HMAC-SHA256 over timestamp, ids and body).

Every delivery carries::

    X-Tumen-Timestamp: 1764075600            (Unix seconds when the attempt was signed)
    X-Tumen-Submission: TMN-7K3Q-9XWD        (the tracking code)
    Idempotency-Key: 0b6f...-uuid            (the delivery id: the same on every retry)
    X-Tumen-Signature: v1=<hex>              (HMAC-SHA256 with the target's secret)

The signed message is ``"{timestamp}.{submission}.{idempotency key}.".encode() + body``. A
receiver recomputes it with :func:`verify`, refuses a timestamp outside the replay window
(:data:`REPLAY_WINDOW_SECONDS`, 5 minutes either way) and ignores an idempotency key it has
already processed. Agencies' status callbacks are signed the same way with their key
(``X-Tumen-Key`` names it) over ``"{timestamp}.{tracking code}.".encode() + body``; so are the
result documents they attach (``POST /api/v1/submissions/<tracking code>/documents``).

Instant references (``plugins.contrib.reference_json``) are signed both ways with the reference
source's secret: Tumen's request carries ``X-Tumen-Request: <request id>`` and signs
``"{timestamp}.{request id}.".encode() + body``; the agency's answer must carry its own
``X-Tumen-Timestamp`` and ``X-Tumen-Signature`` over ``"{timestamp}.{request id}.".encode() +
answer body`` (:func:`signed_headers` on either side), which Tumen checks with :func:`verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

REPLAY_WINDOW_SECONDS = 300
SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: int | str, parts: list[str], body: bytes) -> str:
    message = ".".join([str(timestamp), *parts]).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def delivery_headers(secret: str, tracking_code: str, idempotency_key: str, body: bytes, now: float | None = None) -> dict:
    timestamp = int(time.time() if now is None else now)
    headers = {
        "X-Tumen-Timestamp": str(timestamp),
        "X-Tumen-Submission": tracking_code,
        "Idempotency-Key": idempotency_key,
    }
    if secret:
        headers["X-Tumen-Signature"] = signature(secret, timestamp, [tracking_code, idempotency_key], body)
    return headers


def signed_headers(secret: str, parts: list[str], body: bytes, now: float | None = None) -> dict:
    """``X-Tumen-Timestamp`` and ``X-Tumen-Signature`` of ``body`` bound to ``parts`` (e.g. a request id)."""
    timestamp = int(time.time() if now is None else now)
    return {"X-Tumen-Timestamp": str(timestamp), "X-Tumen-Signature": signature(secret, timestamp, parts, body)}


def verify(secret: str, timestamp: str, parts: list[str], body: bytes, given: str, *, now: float | None = None,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:  # fmt: skip
    """True if ``given`` is the signature of this message and the timestamp is fresh."""
    if not isinstance(timestamp, str) or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    age = abs((time.time() if now is None else now) - int(timestamp))
    if age > window or not given or len(given) > 200:
        return False
    return hmac.compare_digest(signature(secret, timestamp, parts, body).encode(), given.encode("utf-8", "replace"))
