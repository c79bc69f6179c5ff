"""Tell the citizen when their application's status changes (SMS through a pluggable sender).

``TUMEN_NOTIFY_SENDER`` is a dotted path to a class with ``send(phone, text)`` (the same shape as
the consent sender); the default writes to the log. Sent after the change commits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string


def citizen_phone(submission) -> str:
    return (submission.citizen or {}).get("phone") or (submission.data or {}).get("phone") or ""


def status_changed(submission, status_label: str):
    phone = citizen_phone(submission)
    if not phone or not getattr(settings, "TUMEN_NOTIFY_SENDER", ""):
        return
    text = f"Tumen {submission.tracking_code}: {status_label}"
    sender = import_string(settings.TUMEN_NOTIFY_SENDER)()
    transaction.on_commit(lambda: sender.send(phone, text))
