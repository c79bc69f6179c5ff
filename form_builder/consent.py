"""The citizen's consent when a soum operator applies on their behalf.

Two ways, each leaving a proof on the submission:

- **A one-time code** sent to the citizen's phone (``form_builder.sms``: the SMS gateway configured
  in the admin, else ``TUMEN_CONSENT_SENDER``, a dotted path to a class with ``send(phone, text)``). Sending is rate-limited per draft, per phone
  number and per operator (``TUMEN_CONSENT_CODES_PER_*``) so an operator cannot spray codes at
  numbers; a code lives ``CODE_TTL`` and dies after ``MAX_TRIES`` wrong answers. The code is bound
  to the number it went to: changing the phone answer afterwards voids it. When a number already
  confirmed an earlier application of the same register number and the operator typed another
  one, the operator must choose where the code goes, and the proof records that a new number was
  used (the earlier one only masked).
- **In person**: a reason from a fixed list and the identity document the operator checked (type
  and number), with a free-text note only in addition (required, with some substance, for
  "other"). A self-declared "ok ok" proves nothing, so it is refused.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import ratelimit, sms
from .submissions import applicant_register_number
from .validators import normalize_register_number

# The development sender's old home: settings written for earlier releases name it here.
ConsoleSender = sms.ConsoleSender
CODE_TTL = datetime.timedelta(minutes=10)
MAX_TRIES = 5


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


class ConsentError(Exception):
    """The code cannot be sent (or the confirmation not accepted); ``message`` is for the operator."""

    def __init__(self, message, status=400, retry_after=0):
        super().__init__(str(message))
        self.message, self.status, self.retry_after = message, status, retry_after


# -- the number --------------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """``+97688112233`` -> ``+976 •••• ••33``: enough to check with the citizen, not to read off a screen."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    prefix = "+976 " if digits.startswith("976") and len(digits) == 11 else ""
    return f"{prefix}•••• ••{digits[-2:]}"


def given_phone(draft) -> str:
    """The citizen's number as the application now says it: the form's phone answer, else the one
    given when the operator identified the citizen."""
    spec = draft.form_version.spec
    for spec_field in spec.answer_fields():
        if spec_field.type == "phone_mn" and draft.data.get(spec_field.key):
            return draft.data[spec_field.key]
    return (draft.citizen or {}).get("phone", "")


def earlier_phone(register_number: str) -> str:
    """The number that confirmed this citizen's latest code-confirmed application, if any."""
    from .models import Submission

    if not register_number:
        return ""
    consents = (
        Submission.objects.filter(applicant_register_number=register_number, consent__method="sms_code")
        .order_by("-submitted_at")
        .values_list("consent", flat=True)[:1]
    )
    return next((consent.get("phone", "") for consent in consents if isinstance(consent, dict)), "")


def identity_mismatch(draft) -> str:
    """A message when the application's register number is not the citizen the operator identified.

    The confirmation (the earlier number it goes to, the proof) is about the identified citizen:
    answers naming someone else would let an operator apply for a person who never confirmed.
    """
    identified = normalize_register_number((draft.citizen or {}).get("register_number", ""))
    answered = normalize_register_number(applicant_register_number(draft.form_version, draft.data or {}))
    if identified and answered and identified != answered:
        return _(
            "The register number in the answers is not the one of the citizen you identified. Correct the "
            "answers, or start a new application for that citizen."
        )
    return ""


@dataclass
class Destination:
    """Where the code goes, and what the operator was told about the number."""

    given: str
    earlier: str

    @property
    def mismatch(self) -> bool:
        return bool(self.earlier) and self.earlier != self.given


def destination(draft) -> Destination:
    return Destination(given=given_phone(draft), earlier=earlier_phone((draft.citizen or {}).get("register_number", "")))


# -- sending -----------------------------------------------------------------------------------------


def _limit(key: str, setting: str, default: str, message) -> None:
    verdict = ratelimit.hit(key, ratelimit.Rate.parse(getattr(settings, setting, default)))
    if not verdict.allowed:
        minutes = max(1, -(-verdict.retry_after // 60))
        raise ConsentError(message % {"minutes": minutes}, status=429, retry_after=verdict.retry_after)


def send_code(draft, service_title: str, operator, code_to: str = "", *, agency=None) -> str:
    """Send a new code (the previous one dies); return the number it went to, masked.

    Raises ``ConsentError`` (no number, the operator must choose one, a limit reached), or
    ``sms.SmsNotConfigured`` / ``sms.SmsFailed``: the code counts as sent, and replaces an
    earlier one, only once the SMS went out.
    """
    if mismatch := identity_mismatch(draft):
        raise ConsentError(mismatch)
    where = destination(draft)
    if where.mismatch and code_to not in ("earlier", "given"):
        raise ConsentError(_("This citizen confirmed an earlier application from another number. Choose where to send the code."))
    phone = where.earlier if where.mismatch and code_to == "earlier" else where.given
    if not phone:
        raise ConsentError(_("The application has no phone number to send the code to."))
    phone_key = hashlib.sha256(phone.encode()).hexdigest()[:32]  # no phone numbers in counter keys
    _limit(f"consent:draft:{draft.pk}", "TUMEN_CONSENT_CODES_PER_DRAFT", "3/15m",
           _("Too many codes were sent for this application. Try again in %(minutes)s minutes."))
    _limit(f"consent:phone:{phone_key}", "TUMEN_CONSENT_CODES_PER_PHONE", "3/15m",
           _("Too many codes were sent to this phone number. Try again in %(minutes)s minutes."))
    _limit(f"consent:operator:{operator.pk}", "TUMEN_CONSENT_CODES_PER_OPERATOR", "50/d",
           _("You have sent too many confirmation codes today. Try again in %(minutes)s minutes, or ask your supervisor."))  # fmt: skip
    code = f"{secrets.randbelow(10**6):06d}"
    text = f"Tumen: {code} - {service_title[:60]}. Ene kodyg operatort helne uu / tell this code to the operator."
    sms.send(phone, text, agency=agency, setting="TUMEN_CONSENT_SENDER", purpose="consent")
    now = timezone.now()
    draft.consent = {
        "code_hash": _hash(code),
        "sent_at": now.isoformat(),
        "expires": (now + CODE_TTL).isoformat(),
        "tries": 0,
        "phone": phone,
        "given": where.given,  # the answer the code is bound to
        **({"earlier_phone": mask_phone(where.earlier), "new_number": phone != where.earlier} if where.mismatch else {}),
    }
    draft.save(update_fields=["consent", "updated_at"])
    return mask_phone(phone)


def check_code(draft, code: str, operator) -> dict:
    """The proof if ``code`` is the one sent, still valid, and the number unchanged; else ConsentError."""
    consent = dict(draft.consent or {})
    if not consent.get("code_hash"):
        raise ConsentError(_("No valid code: send a new code to the citizen's phone."))
    if datetime.datetime.fromisoformat(consent["expires"]) < timezone.now():
        raise ConsentError(_("The code has expired: send a new code."))
    if given_phone(draft) != consent.get("given"):
        draft.consent = {}
        draft.save(update_fields=["consent", "updated_at"])
        raise ConsentError(_("The phone number changed after the code was sent: send a new code."))
    consent["tries"] = consent.get("tries", 0) + 1
    if not secrets.compare_digest(consent["code_hash"], _hash(code)):
        if consent["tries"] >= MAX_TRIES:
            draft.consent = {}
            draft.save(update_fields=["consent", "updated_at"])
            raise ConsentError(_("Too many wrong codes: this code no longer works. Send a new code."))
        draft.consent = consent
        draft.save(update_fields=["consent", "updated_at"])
        raise ConsentError(_("The confirmation code is wrong."))
    proof = {
        "method": "sms_code",
        "phone": consent["phone"],
        "sent_at": consent.get("sent_at", ""),
        "confirmed_at": timezone.now().isoformat(),
        "recorded_by": operator.get_username(),
    }
    for key in ("earlier_phone", "new_number"):
        if key in consent:
            proof[key] = consent[key]
    return proof


# -- in person ---------------------------------------------------------------------------------------

IN_PERSON_REASONS = [
    ("no_phone", _("The citizen has no mobile phone")),
    ("phone_unavailable", _("The citizen's phone is lost, broken or not with them")),
    ("sms_not_arriving", _("The code does not arrive (no signal or a network fault)")),
    ("cannot_use_sms", _("The citizen cannot read or use a text message (sight, age, literacy)")),
    ("other", _("Another reason (explain in the note)")),
]
ID_DOCUMENTS = [
    ("national_id", _("Citizen's identity card")),
    ("passport", _("Passport")),
    ("driving_licence", _("Driving licence")),
]


def has_substance(text: str) -> bool:
    """At least 15 characters and three different words: "ok ok" or "....." say nothing."""
    words = {word.lower() for word in re.findall(r"[^\W\d_]{2,}", text)}
    return len(" ".join(text.split())) >= 15 and len(words) >= 3


class InPersonForm(forms.Form):
    """What the operator records when the citizen confirmed in person (POST names of the review page)."""

    use_required_attribute = False  # the same form button submits a code instead: no browser-side "required"

    in_person_reason = forms.ChoiceField(label=_("Why in person"), choices=[("", "—"), *IN_PERSON_REASONS])
    id_document_type = forms.ChoiceField(label=_("Identity document checked"), choices=[("", "—"), *ID_DOCUMENTS])
    id_document_number = forms.CharField(label=_("Document number"), max_length=40)
    in_person_note = forms.CharField(label=_("Note"), max_length=500, required=False)
    in_person_checked = forms.BooleanField(
        label=_("I saw the citizen and the document in person, and the citizen agrees to this application.")
    )

    def clean_id_document_number(self):
        number = re.sub(r"[\s\-./№]", "", self.cleaned_data["id_document_number"]).upper()
        if not re.fullmatch(r"[0-9A-ZА-ЯЁӨҮ]{5,20}", number) or sum(ch.isdigit() for ch in number) < 4:
            raise forms.ValidationError(_("Enter the number printed on the document (5 to 20 letters and digits)."))
        return number

    def clean_in_person_note(self):
        note = " ".join(self.cleaned_data["in_person_note"].split())
        if note and not has_substance(note):
            raise forms.ValidationError(_("Write a sentence that explains it, or leave the note empty."))
        return note

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("in_person_reason") == "other" and not cleaned.get("in_person_note") and "in_person_note" not in self.errors:
            self.add_error("in_person_note", _("Explain the other reason in the note."))
        return cleaned

    def proof(self, operator) -> dict:
        data = self.cleaned_data
        return {
            "method": "in_person",
            "reason": data["in_person_reason"],
            "document": {"type": data["id_document_type"], "number": data["id_document_number"]},
            "note": data["in_person_note"],
            "recorded_by": operator.get_username(),
            "confirmed_at": timezone.now().isoformat(),
        }

    @staticmethod
    def posted(data) -> bool:
        return any(data.get(name) for name in ("in_person_reason", "id_document_type", "id_document_number", "in_person_note", "in_person_checked"))
