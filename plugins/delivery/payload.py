"""What a delivery plugin receives: :class:`DeliveryContext` and the standard payload.

Its own module because it is the one contract with plugins (contrib and third-party): the shape of
``payload()`` and ``metadata()`` changes only here, apart from the engine's scheduling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import prefetch_related_objects

from form_builder.models import Submission
from form_builder.payments import paid_payments_prefetch, payment_block

from ..models import Delivery


@dataclass
class DeliveryContext:
    """What a delivery plugin gets: the delivery, its submission and the standard payload."""

    delivery: Delivery
    preloaded_submission: object = None  # loaded with the rest of a drain's batch

    @cached_property
    def submission(self):
        if self.preloaded_submission is not None:
            return self.preloaded_submission
        return load_submissions([self.delivery.submission_id])[self.delivery.submission_id]

    @property
    def idempotency_key(self) -> str:
        return str(self.delivery.pk)

    @property
    def agency(self):
        return self.submission.agency

    def files(self):
        return list(self.submission.files.all())

    def metadata(self) -> dict:
        submission = self.submission
        operator = submission.operator if submission.operator_id else None
        return {
            "tracking_code": submission.tracking_code,
            "service_code": submission.service_code,
            "service_title": submission.service_title,
            "agency": submission.agency.code if submission.agency else None,
            "form": submission.form_version.definition.slug,
            "form_version": submission.form_version.number,
            "submitted_at": submission.submitted_at.isoformat(),
            "channel": submission.source,
            "language": submission.language,
            "operator": _operator_block(submission, operator),
            "citizen": {
                "register_number": submission.citizen.get("register_number") or submission.applicant_register_number,
                "name": submission.citizen.get("name", ""),
                "phone": submission.citizen.get("phone", ""),
            },
            "consent": submission.consent or None,
            # A fee-charging application is delivered only once paid: what was paid, how, when.
            "payment": payment_block(submission) if submission.fee_mnt else None,
            "delivery_id": self.idempotency_key,
            "target": self.delivery.target,
            "stage": self.delivery.stage,
            "stages": submission.stage_agencies,
            # The accumulated record: what earlier stages' agencies reported (stage 1 has none yet).
            "history": [
                {"status": event.status, "stage": event.stage, "agency": event.agency_code, "at": event.created_at.isoformat(),
                 "message": event.message}  # fmt: skip
                for event in submission.events.all()
            ]
            if self.delivery.stage > 1
            else [],
        }

    def payload(self) -> dict:
        """Answers, their JSON Schema and the metadata: what every JSON-based target receives."""
        return {
            "metadata": self.metadata(),
            "answers": self.submission.data,
            "schema": self.submission.form_version.spec.json_schema(),
        }


def load_submissions(ids) -> dict:
    """Submissions by id, with everything a payload reads: a few queries for a whole batch.

    Loaded up front, in the drain's thread, because plugins run in sender threads
    (``sending``) that should not need a database connection of their own: the files and the
    history and the payment (``prefetch_related``), and operator and office only when there are any (most
    submissions are citizens' own).
    """
    found = Submission.objects.select_related("form_version__definition", "agency")
    found = found.prefetch_related("files", "events", paid_payments_prefetch())
    found = found.in_bulk(list(ids))
    by_operator = [submission for submission in found.values() if submission.operator_id or submission.office_soum_id]
    if by_operator:
        prefetch_related_objects(by_operator, "operator", "office_soum__aimag")
    return found


def _operator_block(submission, operator):
    if operator is None:
        return None
    soum = submission.office_soum
    return {
        "username": operator.get_username(),
        "name": operator.get_full_name(),
        "office_soum": soum.code if soum else None,
        "office_aimag": soum.aimag.code if soum else None,
    }
