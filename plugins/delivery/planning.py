"""Planning: write the deliveries of a submission (or of a stage), inside its transaction.

Its own module because it runs in the citizen's request, not in a worker: it only writes rows (the
``Delivery`` table is the outbox) and asks for a wake-up after commit.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from form_builder.models import Status
from service_pages.models import Agency

from ..models import Delivery, configs_for
from .wakeup import wake_after_commit


def plan_deliveries(sender=None, submission=None, stage=1, **kwargs) -> list[Delivery]:
    """One delivery per target of the stage's agency (stage 1: at submission; later stages when the
    previous agency completes theirs, via ``form_builder.signals.stage_started``).

    An application awaiting its fee is not planned at submission: ``submission_paid`` plans it
    once the payment is confirmed (``form_builder.payments``), so nothing unpaid is delivered."""
    if submission.status == Status.AWAITING_PAYMENT:
        return []
    service = submission.service
    agency = Agency.objects.filter(code=submission.current_stage_agency_code).first() or submission.agency
    configs = configs_for(service, "delivery", agency=agency) if service is not None else []
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                submission=submission,
                config=config,
                agency=agency,
                stage=stage,
                plugin_id=config.plugin_id,
                target=config.name,
                next_attempt_at=now,
                created_at=now,
            )
            for config in configs
        ]
    )
    if deliveries:
        transaction.on_commit(wake_after_commit)
    return deliveries
