"""Coverage: the applications that no delivery target carries to their agency.

Its own module because it is the one question about what the engine did *not* plan: a submission
whose current stage got no ``Delivery`` row (its agency has no enabled target, nor is there one for
every agency) stays "received" with nothing in flight. The delivery dashboard and ``/healthz`` (for
staff) list them per agency, so a new installation without targets is seen at once, not weeks later.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Exists, OuterRef

from ..models import Delivery

# Still waiting for its agency: received, or a later stage started after "stage completed".
WAITING_STATUSES = ("received", "paid", "stage_completed")


def undelivered_submissions():
    """Submissions waiting for their current stage's agency with no delivery planned for it."""
    from form_builder.models import Submission

    planned = Delivery.objects.filter(submission=OuterRef("pk"), stage=OuterRef("stage"))
    return Submission.objects.filter(status__in=WAITING_STATUSES).exclude(Exists(planned))


def current_agency_code(agency_code, stage_agencies, stage) -> str:
    codes = stage_agencies or []
    return codes[stage - 1] if 0 < stage <= len(codes) else (agency_code or "")


def undelivered_by_agency(codes=None) -> dict[str, int]:
    """``{agency code: how many}`` of :func:`undelivered_submissions`, for the agencies ``codes``
    (``None``: all); the code is the current stage's agency (``""``: a submission of no agency)."""
    counts = Counter()
    rows = undelivered_submissions().values_list("agency__code", "stage_agencies", "stage")
    for agency_code, stage_agencies, stage in rows.iterator():
        code = current_agency_code(agency_code, stage_agencies, stage)
        if codes is None or code in codes:
            counts[code] += 1
    return dict(sorted(counts.items()))


def summary() -> dict:
    """For ``/healthz`` details: counts only, no personal data."""
    by_agency = undelivered_by_agency()
    failing = Delivery.objects.filter(state__in=[Delivery.State.RETRYING, Delivery.State.DEAD])
    states = {row["state"]: row["count"] for row in failing.values("state").annotate(count=Count("pk"))}
    return {
        "ok": not by_agency and not states.get(Delivery.State.DEAD),
        "without_target": sum(by_agency.values()),
        "agencies_without_target": sorted(code for code in by_agency if code),
        "retrying": states.get(Delivery.State.RETRYING, 0),
        "dead": states.get(Delivery.State.DEAD, 0),
    }
