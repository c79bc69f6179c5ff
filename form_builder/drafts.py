"""An application in progress: the :class:`~form_builder.models.Draft` a browser works on.

Shared by the citizen's HTML steps (``form_builder.views``) and operator mode
(``form_builder.operator_views``): which service, which draft this browser holds, which form
version applies, and how one step's answers and files are kept. The API submits in one call and
keeps no draft, but validates with the same :meth:`FormSpec.validate`.

A draft is bound to a browser through the session (``SESSION_DRAFTS``: service code → draft id).
On a shared PC (a library, a soum office) the next person must not find the previous one's
answers, so an idle draft is let go (``TUMEN_DRAFT_IDLE_MINUTES``); it stays resumable with its
code until it expires (``TUMEN_DRAFT_TTL_DAYS``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from service_pages.models import ServicePage

from . import applicant, ratelimit
from .models import Draft
from .spec import FormSpec
from .submissions import Application, ServiceUnavailable, application_for, file_limit_errors, store_upload

SESSION_DRAFTS = "tumen_drafts"
SESSION_RECEIPTS = "tumen_receipts"


class KeptFile:
    """An already stored upload, counted by the per-application file limits."""

    def __init__(self, size):
        self.size = size


def service_or_404(code) -> ServicePage:
    """The original (Mongolian) page of the service, whichever language the citizen applies in."""
    service = ServicePage.objects.select_related("agency", "category__default_form", "form_definition").by_code(code)
    if service is None:
        raise Http404
    return service


def step_url(service, index) -> str:
    """The URL of step ``index`` (0-based) of the service's form."""
    return reverse("form_step", args=[service.code, index + 1])


def unavailable(request, service, error: ServiceUnavailable, status=409):
    """The page saying the service takes no applications now, and why."""
    return render(request, "form_builder/unavailable.html", {"service": service, "message": error.message}, status=status)


def throttled(request, service, verdict):
    """429 with ``Retry-After``: too many uploads, drafts or applications from here."""
    response = render(request, "form_builder/throttled.html", {"service": service, "seconds": verdict.retry_after}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def draft_for(request, service) -> Draft | None:
    """The draft this browser is working on, unless it was left alone too long."""
    draft_id = request.session.get(SESSION_DRAFTS, {}).get(service.code)
    if not draft_id:
        return None
    draft = Draft.objects.filter(pk=draft_id, service=service).select_related("form_version").first()
    if draft is None or draft.expired:
        return None
    idle = timezone.now() - draft.updated_at
    if idle > datetime.timedelta(minutes=settings.TUMEN_DRAFT_IDLE_MINUTES):
        forget_draft(request, service)
        messages.info(request, _("An application left untouched for a while is closed in this browser, to protect it. "
                                 "If you saved it, continue it with its code."))  # fmt: skip
        return None
    if request.method == "GET" and idle > datetime.timedelta(minutes=1):  # reading a step is activity too
        Draft.objects.filter(pk=draft.pk).update(updated_at=timezone.now())
    return draft


def remember_draft(request, draft: Draft):
    """Bind the draft to this browser; an application starting here hides the last one's receipts."""
    drafts = dict(request.session.get(SESSION_DRAFTS, {}))
    drafts[draft.service.code] = str(draft.pk)
    request.session[SESSION_DRAFTS] = drafts
    request.session.pop(SESSION_RECEIPTS, None)


def forget_draft(request, service):
    """This browser lets go of its draft of the service (the draft itself stays, resumable)."""
    drafts = dict(request.session.get(SESSION_DRAFTS, {}))
    drafts.pop(service.code, None)
    request.session[SESSION_DRAFTS] = drafts


def new_draft(service, version) -> Draft:
    return Draft.objects.create(
        service=service,
        form_version=version,
        expires_at=timezone.now() + datetime.timedelta(days=settings.TUMEN_DRAFT_TTL_DAYS),
    )


def touch(draft: Draft):
    """Save the draft and give it its full time to live again."""
    draft.expires_at = timezone.now() + datetime.timedelta(days=settings.TUMEN_DRAFT_TTL_DAYS)
    draft.save()


def applies_as_operator(request, draft) -> bool:
    """The signed-in operator's own draft is an operator application; anyone else applies online."""
    return draft is not None and draft.operator_id is not None and draft.operator_id == request.user.pk


def application_of(request, service, draft) -> Application:
    """What the browser applies with: a started application keeps the form version it began with.

    Raises ``ServiceUnavailable`` when the service takes no applications (from this person) now.
    """
    application = application_for(service, operator=applies_as_operator(request, draft))
    if draft is not None:
        application = Application(service=service, version=draft.form_version)
    return application


@dataclass
class StepOutcome:
    """What :func:`save_step` kept: the draft (made on the first valid post), the step's errors, or
    the rate-limit verdict that refused the post before anything was kept."""

    draft: Draft | None
    errors: dict = field(default_factory=dict)
    refused: ratelimit.Verdict | None = None


def save_step(request, service, application: Application, draft: Draft | None, index: int, posted: dict, files: dict) -> StepOutcome:
    """Validate one step's posted answers and files and keep what is valid in the draft.

    A signed-in citizen's verified answers (:mod:`form_builder.applicant`) replace whatever was
    posted for them, and are kept in the draft on every step.

    Keeps what is valid even when something else on the step is not: a citizen who fixes one
    answer must not have to attach the file again. Only files of questions shown on this step are
    kept, and the file limits count the whole application. Uploads and new drafts cost storage (a
    draft is kept for days), so the per-address limit applies to them, and valid uploads count
    against the service's limit. The draft is not saved here: the caller sets its step and saves it
    (:func:`touch`).
    """
    spec: FormSpec = application.version.spec
    language = translation.get_language()
    answers = dict(draft.data) if draft else {}
    # A signed-in citizen's verified answers win over anything posted (a crafted POST included).
    locked = applicant.locked_for(request, spec)
    posted = {**posted, **locked}
    stored = {key: value for key, value in answers.items() if key in {f.key for f in spec.file_fields()}}
    if files or draft is None:
        verdict = ratelimit.check_client(request)
        if not verdict.allowed:
            return StepOutcome(draft, refused=verdict)
    cleaned, errors = spec.validate({**answers, **posted}, files, stored_files=stored, steps={index}, language=language)
    files = {key: upload for key, upload in files.items() if key in cleaned or key in errors}
    kept = [KeptFile(meta.get("size") or 0) for key, meta in stored.items() if key not in files and isinstance(meta, dict)]
    errors.update(file_limit_errors({**{f"kept-{i}": item for i, item in enumerate(kept)}, **files}))
    if "__all__" not in errors and any(key not in errors for key in files):
        verdict = ratelimit.check_service(service.code)  # only valid uploads count for the service
        if not verdict.allowed:
            return StepOutcome(draft, refused=verdict)

    if draft is None:
        draft = new_draft(service, application.version)
        remember_draft(request, draft)
    step_keys = {f.key for f in spec.steps[index].fields}
    data = {key: value for key, value in draft.data.items() if key not in step_keys or key in errors}
    for key in step_keys:
        if key in cleaned and key not in errors and key not in files:
            data[key] = cleaned[key]
    for key, upload in files.items():
        if key in errors or "__all__" in errors:
            continue
        for old in draft.files.filter(field_key=key):
            old.file.delete(save=False)
            old.delete()
        stored_file = store_upload(upload, key, draft=draft)
        stored_file.save()
        data[key] = stored_file.metadata()
    data.update(locked)
    draft.data = data
    return StepOutcome(draft, errors=errors)

