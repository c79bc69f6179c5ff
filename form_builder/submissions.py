"""Accepting an application: one function used by the HTML steps, the JSON API and operators.

:func:`submit` validates every answer against the frozen form version, then writes in *one*
transaction the submission, its first status event, its files and (through the
``submission_received`` signal) the deliveries the plugins app plans. Either all of it is stored or none of it (uploaded files written before a
failed transaction are removed again), so a citizen who was given a tracking code has a
submission that will be delivered.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from .models import (
    Draft,
    FormVersion,
    Source,
    Status,
    StoredFile,
    Submission,
    SubmissionEvent,
    form_for_service,
    new_tracking_code,
)
from .payments import payment_required
from .signals import submission_checking, submission_received
from .stages import await_payment, stage_agencies_for


class ServiceUnavailable(Exception):
    """The service cannot be applied for (unpublished, closed, or without a form)."""

    def __init__(self, message, code):
        super().__init__(str(message))
        self.message, self.code = message, code


class Refused(Exception):
    """A pre-submit check (an agency's system) refused the answers; ``message`` is for the citizen."""

    def __init__(self, message, code="refused"):
        super().__init__(str(message))
        self.message, self.code = message, code


class AlreadySubmitted(Exception):
    """The draft was submitted already (a double click, a second tab)."""


class InvalidSubmission(Exception):
    """Answers refused; ``errors`` maps field keys (or ``"__all__"``) to ValidationErrors."""

    def __init__(self, errors: dict[str, list[ValidationError]]):
        super().__init__(f"invalid answers: {', '.join(errors)}")
        self.errors = errors


@dataclass
class Application:
    """What a citizen applies to: a service that accepts applications, and its current form."""

    service: object
    version: FormVersion


def application_for(service, *, operator: bool = False) -> Application:
    """The service's current form version, or :class:`ServiceUnavailable` saying why not.

    Who applies decides the channel: a citizen online (the website, the API) needs the online
    channel; a soum operator applying for a citizen may use a service offered through operators,
    or one open online (the operator only helps the citizen do what they could do themselves).
    """
    if service is None or not service.live:
        raise ServiceUnavailable(_("This service is not published, so it cannot be applied for."), "service_unpublished")
    if not service.is_public:  # a view restriction (password or groups) on it or a page above it
        raise ServiceUnavailable(_("This service is not open to the public, so it cannot be applied for."), "service_restricted")
    if not service.accepts_applications or not (service.channel_online or service.channel_operator):
        raise ServiceUnavailable(_("This service does not take applications online."), "service_closed")
    if not service.channel_online and not operator:
        raise ServiceUnavailable(
            _("This service is offered only through soum operators: apply at your soum or district office."), "operator_only"
        )
    definition = form_for_service(service)
    version = definition.current_version if definition else None
    if version is None:
        raise ServiceUnavailable(_("This service has no application form yet."), "no_form")
    return Application(service=service, version=version)


def file_limit_errors(files: dict) -> dict[str, list[ValidationError]]:
    """Limits over the whole submission (per-file limits belong to each file question)."""
    uploads = [upload for upload in files.values() if upload is not None]
    if len(uploads) > settings.TUMEN_UPLOAD_MAX_FILES:
        return {
            "__all__": [
                ValidationError(
                    _("Too many files: at most %(max)s files per application."),
                    code="too_many_files",
                    params={"max": settings.TUMEN_UPLOAD_MAX_FILES},
                )
            ]
        }
    if sum(upload.size for upload in uploads) > settings.TUMEN_UPLOAD_MAX_TOTAL_MB * 1024 * 1024:
        return {
            "__all__": [
                ValidationError(
                    _("The files are too large together: at most %(max)s MB per application."),
                    code="files_too_large",
                    params={"max": settings.TUMEN_UPLOAD_MAX_TOTAL_MB},
                )
            ]
        }
    return {}


def store_upload(upload, field_key: str, *, draft=None) -> StoredFile:
    """Write one validated upload to private storage under a random name."""
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    stored = StoredFile(
        draft=draft,
        field_key=field_key,
        name=upload.name.rsplit("/", 1)[-1][:255],
        size=upload.size,
        content_type=getattr(upload, "sniffed_type", "") or "application/octet-stream",
        sha256=digest.hexdigest(),
    )
    stored.file.save("upload", upload, save=False)
    return stored


def validate_answers(version: FormVersion, data, files=None, *, stored_files=None):
    """``(answers, errors)`` for the whole form, including unknown keys and file limits."""
    files = files or {}
    if not isinstance(data, dict):
        return {}, {"__all__": [ValidationError(_("The answers must be a JSON object."), code="invalid_data")]}
    spec = version.spec
    answers, errors = spec.validate(data, files, stored_files=stored_files)
    unknown = spec.unknown_keys({**data, **files})
    not_files = sorted(key for key in files if key in spec.fields and spec.fields[key].type != "file")
    if not_files:
        errors.setdefault("__all__", []).append(
            ValidationError(
                _("These questions do not take files: %(keys)s."), code="not_a_file_question", params={"keys": ", ".join(not_files)[:500]}
            )
        )
    if unknown:
        errors.setdefault("__all__", []).append(
            ValidationError(
                _("Unknown questions: %(keys)s."), code="unknown_field", params={"keys": ", ".join(unknown)[:500]}
            )
        )
    for key, problems in file_limit_errors(files).items():
        errors.setdefault(key, []).extend(problems)
    return answers, errors


def _create_with_unique_code(**fields) -> Submission:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Submission.objects.create(tracking_code=new_tracking_code(), **fields)
        except IntegrityError:
            continue  # 40 random bits: a clash is rare, two in a row almost impossible
    raise RuntimeError("could not draw a free tracking code")


def submit(
    application: Application,
    data,
    files=None,
    *,
    source: str = Source.WEB,
    draft: Draft | None = None,
    operator=None,
    citizen: dict | None = None,
    applicant=None,
    consent: dict | None = None,
    office_soum=None,
    office_aimag=None,
    language: str | None = None,
    admit=None,
) -> Submission:
    """Validate and store a submission; raise :class:`InvalidSubmission`.

    ``admit()``, if given, is called once the answers are valid, before the agency's checks and
    before anything is stored; it refuses by raising. The API counts the per-service rate limit
    there, so requests with invalid answers never use up a service's allowance.

    ``applicant``: the signed-in citizen's verified :class:`citizens.identity.Identity`; the
    application is then theirs (or their organisation's, ``Identity.applicant_register_number``)
    whatever the answers say, and the identity is kept in ``Submission.verified_identity``.
    """
    files = {key: upload for key, upload in (files or {}).items() if upload is not None}
    stored_files = {}
    if draft is not None:
        stored_files = {item.field_key: item.metadata() for item in draft.files.all()}
    answers, errors = validate_answers(application.version, data, files, stored_files=stored_files)
    if errors:
        raise InvalidSubmission(errors)
    if admit is not None:
        admit()
    try:
        submission_checking.send(sender=Application, application=application, answers=answers, source=source)
    except Refused as refusal:
        raise InvalidSubmission({"__all__": [ValidationError(refusal.message, code=refusal.code)]}) from None

    written = []
    try:
        for key, upload in files.items():
            if key not in answers:  # a file for a question hidden by a condition: not kept
                continue
            written.append(store_upload(upload, key))
            answers[key] = written[-1].metadata()
        with transaction.atomic():
            # Lock the draft first: a second click (or tab) waits here, then finds it gone.
            if draft is not None and Draft.objects.select_for_update().filter(pk=draft.pk).first() is None:
                raise AlreadySubmitted()
            service = application.service
            submission = _create_with_unique_code(
                service=service,
                service_code=service.code,
                service_title=service.title[:255],
                agency_id=service.agency_id,
                form_version=application.version,
                data=answers,
                source=source,
                language=(language or translation.get_language() or "mn")[:8],
                applicant_register_number=(applicant.applicant_register_number if applicant is not None else "")
                or (citizen or {}).get("register_number")
                or applicant_register_number(application.version, answers),
                verified_identity=asdict(applicant) if applicant is not None else {},
                operator=operator,
                citizen=citizen or {},
                consent=consent or {},
                office_soum=office_soum,
                office_aimag=office_aimag or (office_soum.aimag if office_soum is not None else None),
                stage_agencies=stage_agencies_for(service),
                fee_mnt=service.fee_mnt or 0,
            )
            for stored in written:
                stored.submission = submission
                stored.save()
            if draft is not None:
                kept = {item["id"] for item in answers.values() if isinstance(item, dict) and "id" in item}
                draft.files.filter(pk__in=kept).update(submission=submission, draft=None)
                replaced = list(draft.files.all())  # uploads the citizen replaced later
                # robust: a file that cannot be removed now must not turn an accepted application
                # into a 500 (Django logs it); purge_expired_drafts removes orphaned uploads later.
                transaction.on_commit(lambda: [item.file.delete(save=False) for item in replaced], robust=True)
                StoredFile.objects.filter(pk__in=[item.pk for item in replaced]).delete()
                draft.delete()
            SubmissionEvent.objects.create(submission=submission, status=Status.RECEIVED, actor="tumen")
            if payment_required(submission):
                await_payment(submission)  # delivered once paid (form_builder.payments)
            submission_received.send(sender=Submission, submission=submission)
    except BaseException:
        for stored in written:
            stored.file.delete(save=False)
        raise
    return submission


def applicant_register_number(version: FormVersion, answers: dict) -> str:
    """The applicant's register number (the form's first register-number question), for look-ups."""
    for spec_field in version.spec.answer_fields():
        if spec_field.type == "register_number" and answers.get(spec_field.key):
            return answers[spec_field.key]
    return ""


def errors_as_json(errors: dict[str, list[ValidationError]]) -> dict:
    """Per-field errors in both languages, as the API returns them."""
    result = {}
    for key, problems in errors.items():
        items = []
        for problem in problems:
            for error in getattr(problem, "error_list", [problem]):
                message = {}
                for language in ("mn", "en"):
                    with translation.override(language):
                        text = error.message % error.params if error.params else error.message
                        message[language] = str(text)
                items.append({"code": error.code or "invalid", "message": message})
        result[key] = items
    return result


ORPHAN_GRACE = datetime.timedelta(days=1)


def purge_expired_drafts(now=None) -> int:
    """Delete drafts past their expiry with their files, and uploads that belong to neither a
    draft nor a submission any more (left by an older version that deleted drafts without their
    files); return how many drafts went."""
    now = now or timezone.now()
    count = 0
    for draft in Draft.objects.filter(expires_at__lte=now).iterator():
        for stored in StoredFile.objects.filter(draft=draft, submission__isnull=True):
            stored.file.delete(save=False)
            stored.delete()
        draft.delete()
        count += 1
    orphans = StoredFile.objects.filter(draft__isnull=True, submission__isnull=True, created_at__lte=now - ORPHAN_GRACE)
    for stored in orphans.iterator():
        stored.file.delete(save=False)
        stored.delete()
    return count
