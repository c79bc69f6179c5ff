"""Tell the citizen when their application's status changes, by SMS (``form_builder.sms``).

The SMS gateway configured in the admin sends it, else ``TUMEN_NOTIFY_SENDER`` (a dotted path to
a class with ``send(phone, text)``, like the consent sender), else nobody (a development site logs
it). It is sent after the change commits, and a failure to send never undoes or fails the change:
the status is recorded whatever the SMS gateway does (issue 13, finding 7).
"""

from __future__ import annotations

import logging

from django.db import transaction

from . import sms

logger = logging.getLogger(__name__)


def citizen_phone(submission) -> str:
    return (submission.citizen or {}).get("phone") or (submission.data or {}).get("phone") or ""


def status_changed(submission, status_label: str):
    phone = citizen_phone(submission)
    if not phone:
        return
    text = f"Tumen {submission.tracking_code}: {status_label}"
    agency = submission.agency if submission.agency_id else None
    transaction.on_commit(lambda: send_after_commit(phone, text, agency))


def send_after_commit(phone: str, text: str, agency=None):
    """Send, and only log a failure: the change it reports is committed already."""
    try:
        sms.send(phone, text, agency=agency, setting="TUMEN_NOTIFY_SENDER", purpose="status")
    except sms.SmsNotConfigured:
        pass  # production without any SMS: the tracking page still shows the status (logged by sms.send)
    except Exception as error:  # sms.send already logged it, masked
        logger.warning("status SMS not sent (%s); the status change is kept", type(error).__name__)


def document_ready(submission):
    """Tell the citizen a result document of their application is ready (My applications)."""
    phone = citizen_phone(submission)
    if not phone:
        return
    text = f"Tumen {submission.tracking_code}: barimt belen / your document is ready"
    send_after_commit(phone, text, submission.agency if submission.agency_id else None)
