"""Text messages to citizens: the consent code (operator mode) and status changes.

One way out for both: :func:`send` first offers the message to the ``sms_requested`` signal,
which the plugins app answers with the SMS gateway configured in the admin (the agency's own, else
the national one); ``form_builder`` itself never imports ``plugins``. With no gateway configured,
the class named by the setting (``TUMEN_CONSENT_SENDER`` or ``TUMEN_NOTIFY_SENDER``, a dotted path
to a class with ``send(phone, text)``) sends it. With neither, only a development site (``DEBUG``)
falls back to :class:`ConsoleSender`, which writes the message to the log at DEBUG level; a
production site refuses with :class:`SmsNotConfigured` instead of pretending.

Personal data stays out of the logs at INFO and above: a phone number is logged masked
(:func:`mask_phone`), never with the text (which holds the code), and a failing sender's own error
message (which may name the number) is reduced to its class name.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .signals import sms_requested

logger = logging.getLogger(__name__)
LOG_ONLY_SENDERS = {"form_builder.sms.ConsoleSender", "form_builder.consent.ConsoleSender"}


class SmsNotConfigured(Exception):
    """Neither an SMS gateway nor a sender is configured (and DEBUG is off)."""


class SmsFailed(Exception):
    """The gateway or sender did not take the message; the text is safe to show and log."""


def mask_phone(phone: str) -> str:
    """``+97688112233`` → ``+976****2233``: enough to tell numbers apart in a log, not to call."""
    phone = str(phone or "").strip()
    if len(phone) <= 4:
        return "****"
    head = phone[:4] if phone.startswith("+") else phone[:2]
    return f"{head}****{phone[-4:]}"


class ConsoleSender:
    """Development sender: writes the message to the log (DEBUG level) instead of sending it.

    Refuses when DEBUG is off, so a production site never "sends" codes into its log files.
    """

    def send(self, phone: str, text: str):
        if not settings.DEBUG:
            raise SmsNotConfigured("the log-only SMS sender works only with DEBUG on")
        logger.debug("SMS (development, not sent) to %s: %s", phone, text)


def _setting_sender(setting: str):
    path = getattr(settings, setting, "") or ""
    if path:
        return import_string(path)()
    if settings.DEBUG:
        return ConsoleSender()
    return None


def send(phone: str, text: str, *, agency=None, setting: str = "TUMEN_CONSENT_SENDER", purpose: str = "") -> None:
    """Send one SMS; raise :class:`SmsNotConfigured` or :class:`SmsFailed` (both safe to show)."""
    try:
        for _receiver, sent in sms_requested.send(sender=None, phone=phone, text=text, agency=agency, purpose=purpose):
            if sent:
                logger.info("%s SMS sent to %s through the SMS gateway", purpose or "an", mask_phone(phone))
                return
        sender = _setting_sender(setting)
        if sender is None:
            raise SmsNotConfigured(f"no SMS gateway is configured and {setting} is empty")
        sender.send(phone, text)
    except SmsNotConfigured as error:
        logger.warning("%s SMS to %s not sent: %s", purpose or "an", mask_phone(phone), error)
        raise
    except Exception as error:  # a gateway or sender failure: reported, never with its own text
        logger.warning("%s SMS to %s failed (%s)", purpose or "an", mask_phone(phone), type(error).__name__)
        raise SmsFailed(type(error).__name__) from None
    logger.info("%s SMS to %s handed to %s", purpose or "an", mask_phone(phone), type(sender).__name__)


def check_senders(app_configs=None, **kwargs):
    """System check: a log-only sender named in the settings while DEBUG is off sends nothing."""
    if settings.DEBUG:
        return []
    problems = []
    for setting in ("TUMEN_CONSENT_SENDER", "TUMEN_NOTIFY_SENDER"):
        if getattr(settings, setting, "") in LOG_ONLY_SENDERS:
            problems.append(
                checks.Warning(
                    f"{setting} names the log-only SMS sender, which works only with DEBUG on: no SMS will be sent.",
                    hint="Configure an SMS gateway (admin → Delivery → Plugin configurations, plugin 'sms_http') and "
                    f"leave {setting} empty, or name a real sender class.",
                    id="form_builder.W001",
                )
            )
    return problems
