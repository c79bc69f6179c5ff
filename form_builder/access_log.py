"""Access log of personal data: who looked at which citizen's application, when, and how.

Every view of a submission in the admin (inspect), every export (CSV/XLSX), every download of an
uploaded file, every operator look-up (the office queue, its JSON twin), and every download of an
issued document's file by staff or an operator (``record_document_download``, called by the
``documents`` app, which sits above this one) writes one :class:`AccessLogEntry` per agency
concerned. An entry says *who* (the user), *what* (tracking codes, a file's id, a document's
verification code, how many), *when*, *how* (the action) and *whose* (the agency), and never
copies personal data: no answers, names, register numbers or search terms. A citizen's downloads
of their own documents are not access by someone else, and are not logged (the reasons are in
``documents.views.download``).

**Whose.** An entry is filed under the agency *through which the user saw* the application: of
the agencies the application belongs to (the service's, and each stage's it has reached, see
``service_pages.governance``), the one the user works for, the service's own first. So a stage-2
agency's staff are logged under their agency (their colleagues read it; stage 1's moderators do
not learn their names). Superusers, the national team and soum operators (who work for no agency)
are logged under the service's agency. Exports and look-ups are split per application.

The log is append-only. ``save()`` refuses to change an existing entry and ``delete()`` refuses
to remove one, in Python and through querysets; the admin offers no add, edit or delete view
(``wagtail_hooks.AccessLogViewSet``). The agency's moderators read their own agency's entries
(permission ``form_builder.view_accesslogentry``, given by ``create_agency_groups``).
``purge_personal_data`` leaves the log alone: tracking codes and file ids are not personal data.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from service_pages.governance import agency_codes_for, reached_agency_codes
from service_pages.models import Agency


class AppendOnlyError(Exception):
    """An attempt to change or delete an access-log entry."""


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("access-log entries are never changed")

    def delete(self):
        raise AppendOnlyError("access-log entries are never deleted")


class AccessLogEntry(models.Model):
    """One access to citizens' data by a staff member or an operator."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed an application")
        EXPORT = "export", _("Exported applications")
        DOWNLOAD = "download", _("Downloaded a file")
        OPERATOR_LIST = "operator_list", _("Operator looked up applications")
        DOCUMENT = "document", _("Downloaded an issued document")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True, editable=False)
    # The user may leave; the entry keeps their name (staff identity, not a citizen's).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    username = models.CharField(_("user name"), max_length=150, editable=False)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices, editable=False)
    agency = models.ForeignKey(
        "service_pages.Agency", verbose_name=_("agency"), null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # A single submission (view, download); exports and look-ups list their tracking codes instead.
    submission = models.ForeignKey(
        "form_builder.Submission", verbose_name=_("application"), null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    tracking_codes = models.JSONField(_("tracking codes"), default=list, editable=False)
    count = models.PositiveIntegerField(_("number of applications"), default=1, editable=False)
    file_id = models.UUIDField(_("file"), null=True, editable=False)
    # An issued document's verification code (it shows no personal content on /verify/).
    document_code = models.CharField(_("document"), max_length=14, blank=True, editable=False)
    detail = models.CharField(_("detail"), max_length=100, blank=True, editable=False, help_text=_("E.g. the export format."))

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-pk"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["agency", "at"], name="access_log_agency_at")]

    def __str__(self):
        return f"{self.username} {self.action} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("access-log entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("access-log entries are never deleted")

    def what(self) -> str:
        """The tracking code(s), shortened for the listing, or the document's verification code."""
        codes = self.tracking_codes or []
        if self.document_code:
            return f"{self.document_code} ({codes[0]})" if codes else self.document_code
        shown = ", ".join(codes[:3])
        return f"{shown} … (+{len(codes) - 3})" if len(codes) > 3 else shown

    what.short_description = _("applications")


def _who(user) -> dict:
    return {"user": user if user.is_authenticated else None, "username": user.get_username()[:150] if user.is_authenticated else ""}


class AgencyOfAccess:
    """Finds, for one user, the agency an access to each application is filed under (see "Whose")."""

    def __init__(self, user):
        self.codes = agency_codes_for(user)
        self._ids_by_code: dict[str, int | None] = {}

    def agency_id(self, service_agency_id, service_agency_code, stage_agencies, stage):
        if not self.codes:  # None: everything (national); empty: an operator, of no agency
            return service_agency_id
        shared = self.codes & reached_agency_codes(service_agency_code, stage_agencies, stage)
        if not shared or service_agency_code in shared:
            return service_agency_id
        code = min(shared)
        if code not in self._ids_by_code:
            self._ids_by_code[code] = Agency.objects.filter(code=code).values_list("pk", flat=True).first()
        return self._ids_by_code[code] or service_agency_id

    def of(self, submission):
        code = submission.agency.code if submission.agency_id is not None else None
        return self.agency_id(submission.agency_id, code, submission.stage_agencies, submission.stage)


def record_view(user, submission) -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        **_who(user), action=AccessLogEntry.Action.VIEW, agency_id=AgencyOfAccess(user).of(submission),
        submission=submission, tracking_codes=[submission.tracking_code],
    )  # fmt: skip


def record_download(user, stored_file) -> AccessLogEntry:
    submission = stored_file.submission
    return AccessLogEntry.objects.create(
        **_who(user), action=AccessLogEntry.Action.DOWNLOAD, agency_id=AgencyOfAccess(user).of(submission),
        submission=submission, tracking_codes=[submission.tracking_code], file_id=stored_file.pk,
    )  # fmt: skip


def record_document_download(user, *, agency_id, document_code: str, submission=None, detail="") -> AccessLogEntry:
    """A download of an issued document's file (``documents.views.download``) by staff or an operator.

    ``agency_id`` is the issuing agency's; a result document of an application is filed, like the
    application's own files, under the agency through which the user saw that application.
    ``detail`` says how (``"download"``, ``"print"``) and why it was allowed (``"operator"``,
    ``"staff"``).
    """
    if submission is not None:
        agency_id = AgencyOfAccess(user).of(submission)
    return AccessLogEntry.objects.create(
        **_who(user), action=AccessLogEntry.Action.DOCUMENT, agency_id=agency_id, submission=submission,
        tracking_codes=[submission.tracking_code] if submission is not None else [], document_code=document_code[:14],
        detail=detail[:100],
    )  # fmt: skip


def record_many(user, action, rows, detail="") -> list[AccessLogEntry]:
    """One entry per agency for a listing or an export; ``rows`` are ``(agency_id, tracking_code)``.

    Nothing is written when nothing was shown (an empty look-up discloses no one's data).
    """
    by_agency: dict = defaultdict(list)
    for agency_id, tracking_code in rows:
        by_agency[agency_id].append(tracking_code)
    who = _who(user)
    entries = [
        AccessLogEntry(**who, action=action, agency_id=agency_id, tracking_codes=codes, count=len(codes), detail=detail[:100])
        for agency_id, codes in by_agency.items()
    ]
    return AccessLogEntry.objects.bulk_create(entries)


def record_export(user, queryset, export_format) -> list[AccessLogEntry]:
    agencies = AgencyOfAccess(user)
    if isinstance(queryset, models.QuerySet):
        fields = ("agency_id", "agency__code", "stage_agencies", "stage", "tracking_code")
        values = queryset.order_by().values_list(*fields).iterator(chunk_size=5000)
        rows = (
            (agencies.agency_id(agency_id, code, stage_agencies, stage), tracking_code)
            for agency_id, code, stage_agencies, stage, tracking_code in values
        )
    else:
        rows = [(agencies.of(submission), submission.tracking_code) for submission in queryset]
    return record_many(user, AccessLogEntry.Action.EXPORT, rows, detail=str(export_format or ""))


def record_operator_lookup(user, submissions, detail="") -> list[AccessLogEntry]:
    """``submissions``: the model instances shown to the operator."""
    agencies = AgencyOfAccess(user)
    rows = [(agencies.of(submission), submission.tracking_code) for submission in submissions]
    return record_many(user, AccessLogEntry.Action.OPERATOR_LIST, rows, detail=detail)
