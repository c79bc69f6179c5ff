"""The citizen's consent when a soum operator applies on their behalf.

Either the citizen reads back a one-time code sent to their phone (a pluggable sender:
``TUMEN_CONSENT_SENDER``, a dotted path to a class with ``send(phone, text)``), or the operator
records an in-person confirmation with a reason. The proof is stored with the submission.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)
CODE_TTL = datetime.timedelta(minutes=10)
MAX_TRIES = 5


class ConsoleSender:
    """Development sender: writes the text to the log instead of sending an SMS."""

    def send(self, phone: str, text: str):
        logger.warning("consent SMS to %s: %s", phone, text)


class MemorySender:
    """Test sender: keeps what it would have sent (like Django's locmem e-mail backend)."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str):
        MemorySender.outbox.append((phone, text))


def sender():
    return import_string(getattr(settings, "TUMEN_CONSENT_SENDER", "form_builder.consent.ConsoleSender"))()


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def send_code(draft, service_title: str) -> None:
    code = f"{secrets.randbelow(10**6):06d}"
    phone = draft.citizen.get("phone", "")
    draft.consent = {"code_hash": _hash(code), "expires": (timezone.now() + CODE_TTL).isoformat(), "tries": 0, "phone": phone}
    draft.save(update_fields=["consent", "updated_at"])
    sender().send(phone, f"Tumen: {code} - {service_title[:60]}. Ene kodyg operatort helne uu / tell this code to the operator.")


def check_code(draft, code: str) -> dict | None:
    """The proof if ``code`` is the one sent (within 10 minutes, at most 5 tries), else None."""
    consent = dict(draft.consent or {})
    if not consent.get("code_hash"):
        return None
    consent["tries"] = consent.get("tries", 0) + 1
    draft.consent = consent
    draft.save(update_fields=["consent", "updated_at"])
    if consent["tries"] > MAX_TRIES or datetime.datetime.fromisoformat(consent["expires"]) < timezone.now():
        return None
    if not secrets.compare_digest(consent["code_hash"], _hash(code)):
        return None
    return {"method": "sms_code", "phone": consent.get("phone", ""), "confirmed_at": timezone.now().isoformat()}


def in_person(reason: str, operator) -> dict:
    return {
        "method": "in_person",
        "reason": reason.strip()[:500],
        "recorded_by": operator.get_username(),
        "confirmed_at": timezone.now().isoformat(),
    }
