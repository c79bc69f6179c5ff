"""The citizen's consent when a soum operator applies on their behalf.

Either the citizen reads back a one-time code sent to their phone (``form_builder.sms``: the SMS
gateway configured in the admin, else ``TUMEN_CONSENT_SENDER``, a dotted path to a class with
``send(phone, text)``), or the operator records an in-person confirmation with a reason. The
proof is stored with the submission.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.utils import timezone

from . import sms

# The senders' old home: settings written for earlier releases name them here.
ConsoleSender, MemorySender = sms.ConsoleSender, sms.MemorySender
CODE_TTL = datetime.timedelta(minutes=10)
MAX_TRIES = 5


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def send_code(draft, service_title: str, *, agency=None) -> None:
    """Text a new code to the citizen; raises ``sms.SmsNotConfigured`` or ``sms.SmsFailed``.

    The code counts as sent (and replaces an earlier one) only once the SMS went out.
    """
    code = f"{secrets.randbelow(10**6):06d}"
    phone = draft.citizen.get("phone", "")
    text = f"Tumen: {code} - {service_title[:60]}. Ene kodyg operatort helne uu / tell this code to the operator."
    sms.send(phone, text, agency=agency, setting="TUMEN_CONSENT_SENDER", purpose="consent")
    draft.consent = {"code_hash": _hash(code), "expires": (timezone.now() + CODE_TTL).isoformat(), "tries": 0, "phone": phone}
    draft.save(update_fields=["consent", "updated_at"])


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
