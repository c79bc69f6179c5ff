"""Multi-stage services: an application moves from agency to agency without the citizen.

A service with ``stages`` > 1 lists its agencies in ``stage_agencies`` ("ubeg | mta"). A
submission snapshots that list when it is made. Stage 1 goes to the first agency; when the current
stage's agency reports ``completed`` (a signed callback or a staff action in the admin), the stage
is recorded as done and the next stage starts: ``stage_started`` makes the plugins deliver the
accumulated record to the next agency. ``rejected`` at any stage ends the flow. A status carries a
staff note (``message``, staff only) and, separately, a message for the citizen
(``public_message``), the only text shown on the tracking page. The last stage's ``completed`` completes the application.

This module owns a submission's status transitions: other apps call :func:`apply_status` (an
agency's report) and :func:`mark_delivered` (the plugins' "sent to the agency"), never write
``Submission.status`` themselves. ``submissions.submit`` records the first status, "received",
and :func:`await_payment` for a fee-charging service; :func:`mark_paid` (``form_builder.payments``)
moves it on to "paid", after which it is delivered like any other.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from service_pages.governance import deciding_agency_code
from service_pages.models import Agency

from .models import Status, Submission, SubmissionEvent
from .signals import stage_started, submission_paid

FINAL = (Status.COMPLETED, Status.REJECTED)


class StatusRefused(Exception):
    def __init__(self, message, code):
        super().__init__(str(message))
        self.message, self.code = message, code


def stage_agencies_for(service) -> list[str]:
    """The agency codes of each stage of ``service`` (one stage: its own agency)."""
    codes = [code.strip() for code in (service.stage_agencies or "").split("|") if code.strip()]
    if service.stages > 1 and len(codes) >= 2:
        return codes
    return [service.agency.code] if service.agency_id else []


def may_report(submission: Submission, agency_code: str) -> bool:
    """Only the agency handling the current stage reports on it (one stage: the service's agency)."""
    return agency_code == deciding_agency_code(submission)


@transaction.atomic
def apply_status(submission: Submission, status: str, *, agency_code: str, actor: str, message: str = "",
                 public_message: str = "") -> Submission:  # fmt: skip
    """Record a status reported by the current stage's agency; advance or end the flow."""
    current = Submission.objects.select_for_update(of=("self",)).select_related("agency").get(pk=submission.pk)
    if current.status in FINAL:
        raise StatusRefused(_("This application is already closed."), "closed")
    if status not in Status.values or status in (Status.STAGE_COMPLETED, Status.AWAITING_PAYMENT, Status.PAID):
        raise StatusRefused(_("Unknown status."), "invalid_status")
    if not may_report(current, agency_code):  # checked again under the lock: the stage may have moved on
        raise StatusRefused(_("Another agency handles this stage now."), "not_current_stage")
    if status == Status.COMPLETED and current.stage < current.stage_count:
        current.set_status(Status.STAGE_COMPLETED, actor=actor, message=message, agency_code=agency_code)
        current.stage += 1
        current.status = Status.IN_PROGRESS
        current.save(update_fields=["stage", "status", "updated_at"])
        current.set_status(Status.IN_PROGRESS, actor="tumen", agency_code=current.current_stage_agency_code)
        stage_started.send(sender=Submission, submission=current, stage=current.stage)
        return current
    # ``message`` is the staff's note and never public; only ``public_message`` reaches the citizen.
    current.set_status(status, actor=actor, message=message, public_message=public_message, agency_code=agency_code)
    if status == Status.REJECTED and current.fee_mnt:
        from .payments import refund_after_rejection  # payments uses this module's mark_paid

        transaction.on_commit(lambda: refund_after_rejection(current), robust=True)
    return current


def await_payment(submission: Submission) -> None:
    """A fee-charging application waits for its payment before anything is delivered."""
    Submission.objects.filter(pk=submission.pk).update(status=Status.AWAITING_PAYMENT, updated_at=timezone.now())
    submission.status = Status.AWAITING_PAYMENT
    SubmissionEvent.objects.create(submission=submission, status=Status.AWAITING_PAYMENT, actor="tumen")


def mark_paid(submission: Submission) -> bool:
    """"Paid", only from "awaiting payment" (once, whatever the number of confirmations), then
    ``submission_paid``: the plugins plan the deliveries in this same transaction."""
    if not Submission.objects.filter(pk=submission.pk, status=Status.AWAITING_PAYMENT).update(
        status=Status.PAID, updated_at=timezone.now()
    ):
        return False
    submission.status = Status.PAID
    SubmissionEvent.objects.create(submission=submission, status=Status.PAID, actor="tumen")
    submission_paid.send(sender=Submission, submission=submission)
    return True


def mark_delivered(submission_id: int, *, unless=None) -> bool:
    """"Sent to the agency", only while the submission is still "received" or "paid" (so it never
    overwrites a status an agency has reported since) and ``unless`` (a query expression on the
    submission, e.g. ``Exists(other targets still waiting)``) is false.

    One conditional UPDATE, then the event if it changed the row; run it inside the caller's
    transaction. No SMS: the citizen hears of the agency's decisions, not of the hand-over.
    """
    rows = Submission.objects.filter(pk=submission_id, status__in=(Status.RECEIVED, Status.PAID))
    if unless is not None:
        rows = rows.exclude(unless)
    if not rows.update(status=Status.DELIVERED, updated_at=timezone.now()):
        return False
    SubmissionEvent.objects.create(submission_id=submission_id, status=Status.DELIVERED, actor="tumen")
    return True


def stage_rows(submission: Submission) -> list[dict]:
    """Each stage for the tracking page: agency, state, start and end dates."""
    codes = submission.stage_agencies or []
    if len(codes) < 2:
        return []
    names = dict(Agency.objects.filter(code__in=codes).values_list("code", "name_mn"))
    events = list(submission.events.all())
    rows = []
    for number, code in enumerate(codes, start=1):
        of_stage = [e for e in events if (e.stage == number) or (number == 1 and e.stage is None)]
        started = of_stage[0].created_at if of_stage else None
        done = next((e.created_at for e in of_stage if e.status in (Status.STAGE_COMPLETED, Status.COMPLETED)), None)
        rejected = next((e for e in of_stage if e.status == Status.REJECTED), None)
        if rejected:
            state = "rejected"
        elif done:
            state = "done"
        elif number == submission.stage and submission.status not in FINAL:
            state = "current"
        else:
            state = "waiting"
        rows.append(
            {"number": number, "agency": names.get(code, code), "state": state, "started": started,
             "done": done or (rejected.created_at if rejected else None)}  # fmt: skip
        )
    return rows
