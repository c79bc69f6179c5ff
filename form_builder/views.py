"""The citizen's application in HTML: steps, check your answers, receipt, save and resume, tracking.

Works without JavaScript: every step is a server-side page whose answers are saved in a
:class:`~form_builder.models.Draft` (so "back" and "save for later" never lose them), and
validation is :meth:`FormSpec.validate`, the same as the API's. ``form.js`` only hides questions
whose conditions do not hold and narrows the soum list to the chosen aimag.
"""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.forms.utils import ErrorDict, ErrorList
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import applicant, drafts, ratelimit
from .api import find_submission
from .display import answer_rows
from .drafts import SESSION_DRAFTS, SESSION_RECEIPTS
from .models import Draft, Source, Status, Submission, normalize_tracking_code
from .my_views import receipt_response
from .operator_views import consent_context, consent_proof, send_consent_code, validate_operator
from .payments import paid_payment
from .spec import FormSpec, localized
from .submissions import (
    AlreadySubmitted,
    InvalidSubmission,
    ServiceUnavailable,
    submit,
)

HONEYPOT = "website"


# -- helpers -----------------------------------------------------------------------------------


@require_POST
def start_again(request, code):
    """"Start again": this browser's draft of the service and its uploads are deleted."""
    service = drafts.service_or_404(code)
    draft_id = request.session.get(SESSION_DRAFTS, {}).get(service.code)
    if draft_id:
        Draft.objects.filter(pk=draft_id, service=service).delete()  # the draft's files go with it
    drafts.forget_draft(request, service)
    return redirect(drafts.step_url(service, 0))


def _step_form(spec: FormSpec, index: int, answers: dict, *, data=None, files=None, errors=None, language=None, locked=()):
    """A Django form for rendering one step (validation is the spec's, not this form's).

    ``locked``: keys of answers the identity service verified, shown but not editable.
    """
    form = forms.Form(data=data, files=files, prefix=None)
    for spec_field in spec.steps[index].fields:
        if not spec_field.has_answer:
            continue
        field = spec_field.form_field(answers, language)
        if spec_field.key in locked:
            if isinstance(field.widget, forms.widgets.Input):
                field.widget.attrs.update(readonly=True, **{"class": "locked-answer"})
            else:
                field.disabled = True
        if spec_field.type == "file":
            field.widget = forms.FileInput(attrs=field.widget.attrs)
            field.required = field.required and spec_field.key not in answers
        field.initial = answers.get(spec_field.key)
        field.widget.attrs["aria-describedby"] = f"help-{spec_field.key}" + (f" locked-{spec_field.key}" if spec_field.key in locked else "")
        form.fields[spec_field.key] = field
    if data is not None:
        form._errors = ErrorDict({key: ErrorList(problems) for key, problems in (errors or {}).items()})
        form.cleaned_data = {}
    return form


def _posted_values(spec: FormSpec, index: int, post, answers: dict, language) -> dict:
    """Raw answers of one step from the POST, read through each field's own widget."""
    values = {}
    for spec_field in spec.steps[index].fields:
        if not spec_field.has_answer or spec_field.type == "file":
            continue
        widget = spec_field.form_field(answers, language).widget
        values[spec_field.key] = widget.value_from_datadict(post, {}, spec_field.key)
    return values


def _next_step(spec: FormSpec, answers: dict, index: int) -> int | None:
    later = [i for i in spec.active_steps(answers) if i > index]
    return later[0] if later else None


def _previous_step(spec: FormSpec, answers: dict, index: int) -> int | None:
    earlier = [i for i in spec.active_steps(answers) if i < index]
    return earlier[-1] if earlier else None


def _file_answers(draft: Draft) -> dict:
    return {item.field_key: item.metadata() for item in draft.files.all()}


def _context(service, application, draft, **extra):
    spec = application.version.spec
    language = translation.get_language()
    answers = draft.data if draft else {}
    active = spec.active_steps(answers)
    steps = [{"number": i + 1, "title": localized(step.title, language), "index": i} for i, step in enumerate(spec.steps) if i in active]
    return {"service": service, "spec": spec, "draft": draft, "steps": steps, "honeypot": HONEYPOT, **extra}


# -- steps -------------------------------------------------------------------------------------


@never_cache
def start(request, code):
    """``/apply/<code>/``: continue a draft where it was left, or begin at the first step."""
    service = drafts.service_or_404(code)
    draft = drafts.draft_for(request, service)
    return redirect(drafts.step_url(service, draft.step if draft else 0))


@never_cache
@require_http_methods(["GET", "POST"])
def step(request, code, number):
    service = drafts.service_or_404(code)
    draft = drafts.draft_for(request, service)
    try:
        application = drafts.application_of(request, service, draft)
    except ServiceUnavailable as error:
        return drafts.unavailable(request, service, error)
    spec = application.version.spec
    language = translation.get_language()
    index = number - 1
    locked = applicant.locked_for(request, spec)
    answers = {**(draft.data if draft else {}), **locked}
    if not 0 <= index < len(spec.steps) or index not in spec.active_steps(answers):
        return redirect(drafts.step_url(service, draft.step if draft else 0))

    if request.method == "GET":
        form = _step_form(spec, index, answers, language=language, locked=locked)
        return _render_step(request, service, application, draft, index, form, locked=locked)

    if request.POST.get(HONEYPOT):
        return render(request, "form_builder/refused.html", {"service": service}, status=400)
    action = request.POST.get("action", "next")
    post = request.POST.copy()
    for key, value in locked.items():  # what the page shows again is the verified value
        post[key] = value
    posted = _posted_values(spec, index, post, answers, language)
    files = {
        f.key: request.FILES[f.key] for f in spec.steps[index].fields if f.type == "file" and f.key in request.FILES
    }
    outcome = drafts.save_step(request, service, application, draft, index, posted, files)
    if outcome.refused:
        return drafts.throttled(request, service, outcome.refused)
    draft, errors, data = outcome.draft, outcome.errors, outcome.draft.data
    if errors and action == "next":
        draft.step = index
        drafts.touch(draft)
        form = _step_form(spec, index, data, data=post, files=request.FILES, errors=errors, language=language, locked=locked)
        return _render_step(request, service, application, draft, index, form, status=400, locked=locked)

    following = _next_step(spec, data, index)
    if action == "back":
        previous = _previous_step(spec, data, index)
        draft.step = index if previous is None else previous
    elif action == "save":
        draft.step = index
    else:
        draft.step = index if following is None else following
    drafts.touch(draft)

    if action == "save":
        resume_code = draft.issue_resume_code()
        request.session["tumen_resume_code"] = resume_code
        return redirect("form_saved", code=service.code)
    if action == "back":
        return redirect(drafts.step_url(service, draft.step))
    if following is None:
        return redirect("form_review", code=service.code)
    return redirect(drafts.step_url(service, following))


def _render_step(request, service, application, draft, index, form, status=200, locked=()):
    spec = application.version.spec
    language = translation.get_language()
    step_spec = spec.steps[index]
    answers = draft.data if draft else {}
    items = []
    for spec_field in step_spec.fields:
        item = {
            "spec": spec_field,
            "label": localized(spec_field.label, language),
            "help_text": localized(spec_field.help_text, language),
            "show_if": spec_field.show_if,
            "locked": spec_field.key in locked,
        }
        if spec_field.has_answer:
            item["bound"] = form[spec_field.key]
            item["current_file"] = answers.get(spec_field.key) if spec_field.type == "file" else None
            item["required"] = form.fields[spec_field.key].required
            # Several inputs (place) or a list of options: a fieldset whose legend names the question.
            item["group"] = spec_field.type in ("place", "multiple_choice", "yes_no") or (
                spec_field.type == "choice" and spec_field.options.get("widget") == "radio"
            )
        items.append(item)
    error_summary = [
        {"key": key, "label": localized(spec.fields[key].label, language) if key in spec.fields else "", "message": message}
        for key, problems in form.errors.items()
        for message in problems
    ]
    context = _context(
        service,
        application,
        draft,
        form=form,
        items=items,
        error_summary=error_summary,
        index=index,
        number=index + 1,
        step_title=localized(step_spec.title, language),
        has_previous=_previous_step(spec, answers, index) is not None,
        has_files=any(f.type == "file" for f in step_spec.fields),
    )
    return render(request, "form_builder/step.html", context, status=status)


# -- check your answers and submit ---------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def review(request, code):
    service = drafts.service_or_404(code)
    draft = drafts.draft_for(request, service)
    if draft is None:
        return redirect("form_start", code=service.code)
    try:
        application = drafts.application_of(request, service, draft)
    except ServiceUnavailable as error:
        return drafts.unavailable(request, service, error)
    spec = application.version.spec
    file_keys = {f.key for f in spec.file_fields()}
    operator_mode = draft.operator_id is not None
    identity = None if operator_mode else applicant.applicant_of(request)
    # The verified answers, whatever the draft holds (it may have been started before signing in).
    data = {key: value for key, value in draft.data.items() if key not in file_keys} | applicant.locked_answers(identity, spec)
    stored = {key: value for key, value in draft.data.items() if key in file_keys}
    answers, errors = spec.validate(data, stored_files=stored)
    status = 200
    consent_message = None
    retry_after = 0
    extra = {}
    sending_code = request.method == "POST" and request.POST.get("action") == "send_code"
    if operator_mode:
        profile = validate_operator(request, draft)
        if sending_code:
            refused = send_consent_code(request, draft, service)
            if refused is None:
                return redirect("form_review", code=service.code)
            consent_message, status, retry_after = refused.message, refused.status, refused.retry_after
    if request.method == "POST" and not errors and operator_mode and not sending_code:
        proof, consent_message = consent_proof(request, draft)
        if proof is None:
            status = 400
        else:
            extra = {
                "source": Source.OPERATOR,
                "operator": request.user,
                "citizen": draft.citizen,
                "consent": proof,
                "office_soum": profile.soum,
                "office_aimag": profile.aimag or (profile.soum.aimag if profile.soum_id else None),
            }
    if request.method == "POST" and not errors and status == 200:
        if request.POST.get(HONEYPOT):
            return render(request, "form_builder/refused.html", {"service": service}, status=400)
        verdict = ratelimit.check_submission(request, service.code)
        if not verdict.allowed:
            return drafts.throttled(request, service, verdict)
        try:
            extra.setdefault("source", Source.WEB)
            if identity is not None:
                extra["applicant"] = identity
            submission = submit(application, data, draft=draft, language=translation.get_language(), **extra)
        except InvalidSubmission as invalid:
            errors = invalid.errors
            status = 400
        except AlreadySubmitted:
            messages.info(request, _("This application was already submitted."))
            drafts.forget_draft(request, service)
            return redirect("track")
        else:
            drafts.forget_draft(request, service)
            receipts = [*_valid_receipts(request)[-19:], [submission.tracking_code, time.time()]]
            request.session[SESSION_RECEIPTS] = receipts
            if submission.status == Status.AWAITING_PAYMENT:  # the payment step (form_builder.payment_views)
                return redirect("operator_pay" if operator_mode else "form_pay", tracking_code=submission.tracking_code)
            return redirect("form_receipt", tracking_code=submission.tracking_code)
    elif request.method == "POST" and errors and status == 200:
        status = 400
    language = translation.get_language()
    rows = answer_rows(spec, answers, language)
    error_items = [
        {"label": localized(spec.fields[key].label, language) if key in spec.fields else "", "messages": [m for e in problems for m in e.messages],
         "url": drafts.step_url(service, next((i for i, s in enumerate(spec.steps) if key in {f.key for f in s.fields}), 0))}
        for key, problems in errors.items()
    ]  # fmt: skip
    context = _context(
        service,
        application,
        draft,
        rows=[{"row": row, "url": drafts.step_url(service, row.step)} for row in rows],
        errors=error_items,
        operator_mode=operator_mode,
        consent_message=consent_message,
        **(consent_context(request, draft) if operator_mode else {}),
    )
    response = render(request, "form_builder/review.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


# -- receipt -----------------------------------------------------------------------------------


def _valid_receipts(request) -> list:
    """``[tracking code, when]`` of this browser's recent submissions, younger than
    ``TUMEN_RECEIPT_MINUTES`` (older entries, and the plain codes of older sessions, are dropped)."""
    oldest = time.time() - settings.TUMEN_RECEIPT_MINUTES * 60
    return [
        item for item in request.session.get(SESSION_RECEIPTS, [])
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], (int, float)) and item[1] > oldest
    ]  # fmt: skip


def _own_submission(request, tracking_code) -> Submission:
    """Only the browser session that made a submission sees its answers on the receipt, and only
    for a short while: the next person at a shared PC must not find them."""
    if tracking_code not in [code for code, _at in _valid_receipts(request)]:
        raise Http404
    return get_object_or_404(Submission.objects.select_related("form_version", "agency"), tracking_code=tracking_code)


@never_cache
def receipt(request, tracking_code):
    submission = _own_submission(request, tracking_code)
    rows = answer_rows(submission.spec, submission.data, translation.get_language())
    return render(request, "form_builder/receipt.html", {"submission": submission, "rows": rows, "payment": paid_payment(submission)})


@never_cache
def receipt_download(request, tracking_code):
    """The receipt as a plain-text file the citizen keeps (printing the page is the other way)."""
    return receipt_response(request, _own_submission(request, tracking_code))


# -- save and resume ---------------------------------------------------------------------------


@never_cache
def saved(request, code):
    service = drafts.service_or_404(code)
    draft = drafts.draft_for(request, service)
    resume_code = request.session.pop("tumen_resume_code", None)
    if draft is None or resume_code is None:
        return redirect("form_start", code=service.code)
    # The page shows the code but links only to /resume/: a code in a URL ends up in access logs,
    # browser history and referrers.
    link = request.build_absolute_uri(reverse("form_resume"))
    return render(request, "form_builder/saved.html", {"service": service, "draft": draft, "resume_code": resume_code, "link": link})


@never_cache
@require_http_methods(["GET", "POST"])
def resume(request, resume_code=""):
    """Enter a one-time code to continue a saved application here; the code travels only in a POST.

    Links that still carry a code in their path (``/resume/<code>/``, given out before) only show
    the form filled in, posting to ``/resume/``: mail and chat apps open links to preview them, so
    a GET never uses the code up, and the page is neither cached nor sent to other sites as a referrer. No
    answer ever redirects to a URL with the code.
    """
    error = None
    if request.method == "POST":
        verdict = ratelimit.check_lookup(request, "resume")
        code = request.POST.get("code", "")
        draft = Draft.objects.filter(resume_token_hash=Draft.hash_token(code)).select_related("service").first() if code.strip() else None
        if not verdict.allowed:
            error = _("Too many attempts. Try again in %(seconds)s seconds.") % {"seconds": verdict.retry_after}
        elif draft is None:
            error = _("This code is not valid or was already used. A saved application gets a new code each time it is saved.")
        elif draft.expired:
            error = _("This saved application has expired.")
        elif not Draft.objects.filter(pk=draft.pk, resume_token_hash=draft.resume_token_hash).update(resume_token_hash=None):
            # one-time: only the request that clears the code may use it (two at once: one wins)
            error = _("This code is not valid or was already used. A saved application gets a new code each time it is saved.")
        else:
            draft.resume_token_hash = None
            drafts.touch(draft)
            drafts.remember_draft(request, draft)
            messages.success(request, _("Welcome back. Your answers are as you left them."))
            return redirect(drafts.step_url(draft.service, draft.step))
    response = render(request, "form_builder/resume.html", {"resume_code": resume_code, "error": error}, status=400 if error else 200)
    # The URL may hold an old link's code: never send it to another site. (Not "no-referrer": a
    # form posted from a page under that policy has "Origin: null", which the CSRF check refuses.)
    response["Referrer-Policy"] = "same-origin"
    return response


# -- tracking ----------------------------------------------------------------------------------


def track(request):
    code = request.GET.get("code", "").strip()
    if code:
        normalized = normalize_tracking_code(code)
        if not normalized:
            return render(request, "form_builder/track.html", {"code": code[:40], "not_found": True}, status=404)
        return redirect("track_status", tracking_code=normalized)
    return render(request, "form_builder/track.html", {})


def public_messages(events) -> list[str]:
    """What the citizen reads: only messages meant for them. A rejection without one gets a
    neutral sentence; the staff note (``message``) is never shown here."""
    texts = []
    for event in events:
        if event.public_message:
            texts.append(event.public_message)
        elif event.status == Status.REJECTED:
            texts.append(_("The agency rejected the application. Contact the agency to learn why."))
    return texts


def track_status(request, tracking_code):
    verdict = ratelimit.check_lookup(request, "track")
    if not verdict.allowed:
        response = render(request, "form_builder/throttled.html", {"seconds": verdict.retry_after}, status=429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    submission = find_submission(tracking_code)
    if submission is None:
        return render(request, "form_builder/track.html", {"code": tracking_code, "not_found": True}, status=404)
    if submission.tracking_code != tracking_code:
        return HttpResponseRedirect(reverse("track_status", args=[submission.tracking_code]))
    from .stages import stage_rows

    events = submission.events.all()
    return render(
        request,
        "form_builder/track_status.html",
        {
            "submission": submission,
            "events": events,
            "stages": stage_rows(submission),
            "public_messages": public_messages(events),
            "payment": paid_payment(submission) if submission.fee_mnt else None,
        },
    )

