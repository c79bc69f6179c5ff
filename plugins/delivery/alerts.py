"""Alerts: e-mail an agency's technical contact about a failing target, at most once an hour.

Its own module because telling people is a policy of its own (who, how often, what the message
says), apart from deciding a delivery's fate.
"""

from __future__ import annotations

import datetime

from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from ..models import Delivery, PluginConfig


def alert(delivery: Delivery, error: str, *, dead: bool):
    """Tell the agency's technical contact, at most once an hour per target."""
    config = delivery.config
    agency = delivery.agency
    recipient = agency and (agency.technical_contact_email or agency.contact_email)
    if config is None or not recipient:
        return
    now = timezone.now()
    quiet_since = now - datetime.timedelta(hours=1)
    if not PluginConfig.objects.filter(pk=config.pk).filter(Q(last_alert_at__isnull=True) | Q(last_alert_at__lt=quiet_since)).update(
        last_alert_at=now
    ):
        return
    what = "has given up on" if dead else "keeps failing for"
    send_mail(
        subject=f"[Tumen] Delivery to {agency.code} / {config.plugin_id}:{config.name} is failing",
        message=(
            f"Tumen {what} submission {delivery.submission.tracking_code} to your target "
            f"{config.plugin_id}:{config.name} after {delivery.attempts + 1} attempt(s).\n\n"
            f"Last error: {error}\n\n"
            f"Deliveries that gave up can be replayed from the admin's delivery dashboard.\n"
        ),
        from_email=None,
        recipient_list=[recipient],
        fail_silently=True,
    )
