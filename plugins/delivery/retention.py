"""Retention: what deliveries hold back from, and blank after, the purge of personal data.

Its own module because it answers ``form_builder``'s retention signals (``retention_hold``,
``personal_data_purged``), not any step of a delivery.
"""

from __future__ import annotations

from ..models import Delivery, DeliveryAttempt


def deliveries_in_flight(sender, **kwargs):
    """``retention_hold`` receiver: applications with a delivery still pending or retrying keep their
    data until it is delivered or given up (the next attempt builds its payload from them)."""
    finished = (Delivery.State.DELIVERED, Delivery.State.DEAD)
    return Delivery.objects.exclude(state__in=finished).order_by().values_list("submission_id", flat=True)


def forget_personal_data(sender, submission_ids, **kwargs) -> dict:
    """``personal_data_purged`` receiver: blank what deliveries keep of anonymised submissions.

    Payloads are built from the submission at each attempt and never stored, so anonymising the
    submission anonymises them; what stays is the error text of deliveries and their attempts,
    which may quote an agency's response. States, counts, status codes and times stay (the
    delivery dashboard's figures).
    """
    deliveries = Delivery.objects.filter(submission_id__in=submission_ids)
    attempts = DeliveryAttempt.objects.filter(delivery__submission_id__in=submission_ids).exclude(error="")
    return {
        "plugins.DeliveryAttempt": attempts.update(error=""),
        "plugins.Delivery": deliveries.exclude(last_error="").update(last_error=""),
    }
