"""Answers the national identity service verified: prefilled for a signed-in citizen, and locked.

A citizen signed in through ДАН (:func:`citizens.identity.verified_identity`) does not type their
register number, names or phone: the form's applicant questions take the verified values, shown
read-only, and whatever a request posts for them is replaced by those values again on every
step, on "check your answers" and in the API (which refuses a different value with 400 instead
of silently replacing it). The questions are found as operator mode finds them
(``operator_views.start``): by key (``register_number``, ``last_name``, ``first_name``,
``phone``), the register number falling back to the form's first register-number question. A
person acting for an organisation (``Identity.represents``) keeps their own answers locked, and
the form's first company-number question is locked to the organisation's number.
"""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from citizens.identity import Identity, verified_identity

from .spec import FormSpec

LOCKED_MESSAGE = _("This answer comes from the national identity service (ДАН) and cannot be changed.")


def locked_answers(identity: Identity | None, spec: FormSpec) -> dict:
    """Question key → the verified value it must have (empty for an anonymous visitor)."""
    if identity is None:
        return {}
    fields = {f.key: f for f in spec.answer_fields()}
    locked = {}
    register_key = "register_number" if "register_number" in fields else next(
        (f.key for f in fields.values() if f.type == "register_number"), None
    )
    for key, value in (
        (register_key, identity.register_number),
        ("last_name", identity.last_name),
        ("first_name", identity.first_name),
        ("phone", identity.phone),
    ):
        if key in fields and value and fields[key].type != "file":
            locked[key] = value
    if identity.represents:
        company = next((f for f in fields.values() if f.type == "company_number"), None)
        if company is not None:
            locked[company.key] = identity.represents
    return locked


def locked_for(request, spec: FormSpec) -> dict:
    return locked_answers(verified_identity(request), spec)


def applicant_of(request) -> Identity | None:
    """The signed-in citizen applying (``None``: an anonymous visitor, or staff)."""
    return verified_identity(request)


def identity_record(identity: Identity | None) -> dict:
    """What a submission keeps of the verified identity (``Submission.verified_identity``)."""
    return asdict(identity) if identity is not None else {}


def conflicts(spec: FormSpec, data: dict, locked: dict) -> dict[str, list[ValidationError]]:
    """API answers that differ from the verified ones (after each question's own normalising)."""
    errors = {}
    for key, value in locked.items():
        if key not in data or data[key] in (None, ""):
            continue
        cleaned, problems = spec.validate({**data, key: data[key]}, steps={_step_of(spec, key)})
        if problems.get(key) or cleaned.get(key) != value:
            errors[key] = [ValidationError(LOCKED_MESSAGE, code="locked")]
    return errors


def _step_of(spec: FormSpec, key: str) -> int:
    return next(index for index, step in enumerate(spec.steps) if key in {f.key for f in step.fields})
