"""Admin for forms and submissions, following Wagtail's viewset conventions.

- "Application forms": form definitions as snippets with drafts, revisions, publishing and
  locking; publishing freezes a new :class:`FormVersion`.
- "Submissions": a listing filterable by status, agency, service and date, exportable to CSV
  and XLSX (Wagtail's ``list_export``), an inspect view with the answers, files and timeline,
  and an edit view that only changes the status (and records it on the timeline).
- Uploaded files are downloaded through :func:`download_file`, which checks the permission.
- Every inspect, export and download is written to the access log (``access_log``), which the
  agency's moderators read under "Access log" (read-only, their agency's entries only).
- The home page tells moderators how many of their agency's applications wait in the stage their
  agency decides (``service_pages.panels``).
"""

from functools import wraps

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.views.generic import EditView, IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets import bulk_actions as snippet_bulk_actions
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import chooser as snippet_chooser_views
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.snippets import SnippetViewSet

from service_pages.bulk_actions import AgencyScopedBulkActionMixin
from service_pages.governance import (
    agency_codes_for,
    deciding_agency_code,
    filter_by_agency,
    filter_submissions,
    may_decide,
    may_see_submission,
    may_work_on,
)
from service_pages.models import Agency
from service_pages.panels import NeedItem, add_panel

from . import access_log
from .access_log import AccessLogEntry
from .display import answer_rows
from .models import FormDefinition, OperatorProfile, Status, StoredFile, Submission
from .retention import LOG_ACTION as PURGE_LOG_ACTION


class AgencyScopedPolicy(ModelPermissionPolicy):
    """Model permissions, narrowed to the user's agencies (``service_pages.governance``)."""

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_permission(user, action) and may_work_on(user, instance.agency)

    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model._default_manager.none()
        return filter_by_agency(self.model._default_manager.all(), user)


class FormDefinitionPolicy(AgencyScopedPolicy):
    def user_has_permission_for_instance(self, user, action, instance):
        if instance.agency_id is None:  # national forms: the national team (and superusers)
            return self.user_has_permission(user, action) and agency_codes_for(user) is None
        return super().user_has_permission_for_instance(user, action, instance)

    def instances_user_has_any_permission_for(self, user, actions):
        queryset = super().instances_user_has_any_permission_for(user, actions)
        return queryset if agency_codes_for(user) is None else queryset.filter(agency__isnull=False)


FORM_POLICY = FormDefinitionPolicy(FormDefinition)
register_permission_policy(FormDefinition, FORM_POLICY)


class InstancePermissionMixin:
    """Wagtail's generic edit and delete views check the model permission only; also check the
    object's (an agency's editors may change their agency's forms, not another's)."""

    def get_object(self, queryset=None):
        instance = super().get_object(queryset)
        if not self.permission_policy.user_has_permission_for_instance(self.request.user, self.permission_required, instance):
            raise PermissionDenied
        return instance


def guard_object_urls(patterns, allowed):
    """Wrap every per-object admin URL (edit, delete, unpublish, history, usage, revisions, lock,
    workflow...) so it answers 404 for objects outside the user's agencies."""
    from django.urls import URLPattern

    def wrap(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            pk = kwargs.get("pk")
            if pk is not None and not allowed(request.user, unquote(str(pk))):
                raise Http404
            return view(request, *args, **kwargs)

        return guarded

    result = []
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and "pk" in str(pattern.pattern):
            pattern.callback = wrap(pattern.callback)
        result.append(pattern)
    return result


def _may_see_form(user, pk):
    definition = FormDefinition.objects.filter(pk=pk).select_related("agency").first()
    return definition is None or FORM_POLICY.user_has_any_permission_for_instance(user, ["change", "view"], definition)


def _may_see_submission(user, pk):
    submission = Submission.objects.filter(pk=pk).select_related("agency").first()
    return submission is None or may_see_submission(user, submission)


class OwnerAgencyField(forms.ModelChoiceField):
    """Required even when a draft is saved (Wagtail defers "required" for drafts): a draft with no
    agency would be a national form, which only the national team makes."""

    def validate(self, value):
        if value in self.empty_values:
            raise ValidationError(self.error_messages["required"], code="required")
        super().validate(value)


def limit_owner_agency(form, user):
    """The owner agency of a form is one of the user's agencies. Another agency, or none (a
    national form, the national team's), is refused with a form error."""
    codes = agency_codes_for(user)
    if codes is None or "agency" not in form.fields:
        return form
    form.fields["agency"] = OwnerAgencyField(
        queryset=Agency.objects.filter(code__in=codes).order_by("name_mn"),
        label=form.fields["agency"].label,
        empty_label=None,
        help_text=_("Your agency's forms only; national forms are made by the national catalog team."),
    )
    return form


class OwnerAgencyMixin:
    def get_form(self, *args, **kwargs):
        return limit_owner_agency(super().get_form(*args, **kwargs), self.request.user)


class FormCreateView(OwnerAgencyMixin, snippet_views.CreateView):
    pass


class FormCopyView(OwnerAgencyMixin, snippet_views.CopyView):
    pass


class FormEditView(InstancePermissionMixin, OwnerAgencyMixin, snippet_views.EditView):
    pass


def choosable_forms(user):
    """The forms ``user`` may attach to a service: their agency's and the national ones."""
    return filter_by_agency(FormDefinition.objects.all(), user, national=True)


class ChoosableFormsMixin:
    def get_object_list(self):
        return choosable_forms(self.request.user)


class FormChooseView(ChoosableFormsMixin, snippet_chooser_views.ChooseView):
    pass


class FormChooseResultsView(ChoosableFormsMixin, snippet_chooser_views.ChooseResultsView):
    pass


class FormChosenView(snippet_chooser_views.SnippetChosenView):
    def get_object(self, pk):
        return choosable_forms(self.request.user).get(pk=pk)


class FormChosenMultipleView(snippet_chooser_views.SnippetChosenMultipleView):
    def get_objects(self, pks):
        return choosable_forms(self.request.user).filter(pk__in=pks)


class FormChooserViewSet(snippet_chooser_views.SnippetChooserViewSet):
    """The form chooser (a service's or category's form) lists no other agency's forms, and
    ``chosen/<pk>/`` answers 404 for them."""

    choose_view_class = FormChooseView
    choose_results_view_class = FormChooseResultsView
    chosen_view_class = FormChosenView
    chosen_multiple_view_class = FormChosenMultipleView


class FormDeleteView(InstancePermissionMixin, snippet_views.DeleteView):
    pass


class FormDeleteBulkAction(AgencyScopedBulkActionMixin, snippet_bulk_actions.DeleteBulkAction):
    """Bulk delete of forms (the only snippet bulk action): the user's agencies' forms only."""

    models = [FormDefinition]

    def visible_objects(self, queryset):
        user_forms = FORM_POLICY.instances_user_has_any_permission_for(self.request.user, ["change", "view", "publish"])
        return queryset.filter(pk__in=user_forms)


# After Wagtail's own (``order``): the registry keeps the last action of a type for a model.
hooks.register("register_bulk_action", FormDeleteBulkAction, order=1)


class FormDefinitionViewSet(SnippetViewSet):
    model = FormDefinition
    icon = "form"
    menu_label = _("Application forms")
    menu_order = 210
    add_to_admin_menu = True
    add_view_class = FormCreateView
    copy_view_class = FormCopyView
    edit_view_class = FormEditView
    delete_view_class = FormDeleteView
    chooser_viewset_class = FormChooserViewSet
    list_display = ["name", "slug", "agency", "is_default", "live", "updated_at"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request):
        return self.permission_policy.instances_user_has_any_permission_for(request.user, ["change", "view", "publish"])

    def get_urlpatterns(self):
        return guard_object_urls(super().get_urlpatterns(), _may_see_form)


register_snippet(FormDefinitionViewSet)


class SubmissionFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Status.choices)
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=Agency.objects.order_by("name_mn"))
    service_code = django_filters.CharFilter(label=_("Service code"), lookup_expr="iexact")
    submitted_at = django_filters.DateFromToRangeFilter(label=_("Submitted"), widget=DateRangePickerWidget)

    class Meta:
        model = Submission
        fields = ["status", "agency", "service_code", "submitted_at", "source"]


class SubmissionPermissionPolicy(AgencyScopedPolicy):
    """Submissions are made by citizens, never created, copied or deleted in the admin. Staff see
    the applications of their agency (and of each stage it has reached) and change the status only
    for the current stage's agency (``service_pages.governance``)."""

    def user_has_permission(self, user, action):
        if action in ("add", "delete", "copy"):
            return False
        return super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if not self.user_has_permission(user, action):
            return False
        return may_decide(user, instance) if action == "change" else may_see_submission(user, instance)

    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model._default_manager.none()
        return filter_submissions(self.model._default_manager.all(), user)


register_permission_policy(Submission, SubmissionPermissionPolicy(Submission))


class SubmissionInspectView(InspectView):
    template_name = "form_builder/admin/submission_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        submission = self.object
        context["rows"] = answer_rows(submission.spec, submission.data)
        context["files"] = [
            {"file": item, "url": reverse("form_builder_download_file", args=[item.pk])} for item in submission.files.all()
        ]
        context["events"] = submission.events.all()
        access_log.record_view(self.request.user, submission)
        return context


class SubmissionStatusView(EditView):
    """Editing a submission means changing its status; each change goes on the timeline.

    Only the current stage's agency decides: an agency that handled an earlier stage still sees
    the application (inspect) but may not record a decision for the next agency's stage.
    """

    def get_object(self, queryset=None):
        submission = super().get_object(queryset)
        if not may_decide(self.request.user, submission):
            raise PermissionDenied
        return submission

    def save_instance(self):
        from .stages import StatusRefused, apply_status

        # The stage whose agency ``get_object`` checked: if it moved on meanwhile, apply_status refuses.
        deciding = self.object.current_stage_agency_code
        submission = Submission.objects.select_related("agency").get(pk=self.form.instance.pk)
        status = self.form.cleaned_data["status"]
        if status != submission.status:
            try:
                submission = apply_status(submission, status, agency_code=deciding, actor=self.request.user.get_username())
            except StatusRefused as refused:
                messages.error(self.request, refused.message)
        return submission


class SubmissionIndexView(IndexView):
    def get_base_queryset(self):
        queryset = super().get_base_queryset().select_related("agency", "form_version__definition")
        return filter_submissions(queryset, self.request.user)

    def as_spreadsheet(self, queryset, spreadsheet_format):
        access_log.record_export(self.request.user, queryset, spreadsheet_format)
        return super().as_spreadsheet(queryset, spreadsheet_format)


class SubmissionViewSet(ModelViewSet):
    model = Submission
    icon = "tasks"
    menu_label = _("Submissions")
    menu_order = 220
    add_to_admin_menu = True
    list_display = ["tracking_code", "service_title", "agency", "status", "source", "submitted_at"]
    list_filter = SubmissionFilterSet
    filterset_class = SubmissionFilterSet
    search_fields = ["tracking_code", "service_code", "service_title", "applicant_register_number"]
    list_export = [
        "tracking_code",
        "service_code",
        "service_title",
        "agency",
        "status",
        "source",
        "submitted_at",
        "applicant_register_number",
        "form_version",
        "data",
    ]
    export_filename = "submissions"
    inspect_view_enabled = True
    inspect_view_class = SubmissionInspectView
    index_view_class = SubmissionIndexView
    edit_view_class = SubmissionStatusView
    copy_view_enabled = False
    form_fields = ["status"]
    # Each submission would otherwise enqueue a reference-index task (a row and a worker run).
    add_to_reference_index = False

    def get_urlpatterns(self):
        return guard_object_urls(super().get_urlpatterns(), _may_see_submission)


@hooks.register("register_admin_viewset")
def register_submission_viewset():
    return SubmissionViewSet("submissions")


@login_required
def download_file(request, file_id):
    """Staff who may see submissions download their files; nobody else, and never by URL guess."""
    if not request.user.has_perm("form_builder.view_submission") and not request.user.has_perm(
        "form_builder.change_submission"
    ):
        raise Http404
    stored = get_object_or_404(StoredFile.objects.select_related("submission__agency"), pk=file_id, submission__isnull=False)
    if not may_see_submission(request.user, stored.submission):
        raise Http404
    handle = stored.file.open("rb")
    access_log.record_download(request.user, stored)
    response = FileResponse(handle, as_attachment=True, filename=stored.name, content_type=stored.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@hooks.register("register_admin_urls")
def register_download_url():
    return [path("submission-files/<uuid:file_id>/", download_file, name="form_builder_download_file")]


@hooks.register("register_admin_urls")
def register_payment_report_urls():
    from . import payment_admin

    return [
        path("payments/", payment_admin.report_index, name="form_builder_payment_reports"),
        path("payments/<str:agency_code>/", payment_admin.agency_report, name="form_builder_payment_report"),
    ]


@hooks.register("register_admin_menu_item")
def register_payment_report_menu_item():
    from wagtail.admin.menu import MenuItem

    return MenuItem(_("Payments"), reverse("form_builder_payment_reports"), icon_name="form", order=230)


class OperatorViewSet(ModelViewSet):
    model = OperatorProfile
    icon = "user"
    menu_label = _("Soum operators")
    menu_order = 240
    add_to_admin_menu = True
    list_display = ["user", "role", "soum", "aimag", "office_name"]
    form_fields = ["user", "role", "soum", "aimag", "office_name"]
    add_to_reference_index = False


@hooks.register("register_admin_viewset")
def register_operator_viewset():
    return OperatorViewSet("operators")


# -- access log ---------------------------------------------------------------------------------


class AccessLogPolicy(ModelPermissionPolicy):
    """Read-only for holders of ``view_accesslogentry`` (the agencies' moderators), scoped to their
    agencies; nobody, not even a superuser, may add, change or delete an entry."""

    def user_has_permission(self, user, action):
        if action != "view":
            return False
        return super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_permission(user, action) and may_work_on(user, instance.agency)

    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model._default_manager.none()
        return filter_by_agency(self.model._default_manager.all(), user)


register_permission_policy(AccessLogEntry, AccessLogPolicy(AccessLogEntry))


class AccessLogFilterSet(WagtailFilterSet):
    username = django_filters.CharFilter(label=_("User"), lookup_expr="iexact")
    action = django_filters.ChoiceFilter(label=_("Action"), choices=AccessLogEntry.Action.choices)
    at = django_filters.DateFromToRangeFilter(label=_("Date"), widget=DateRangePickerWidget)

    class Meta:
        model = AccessLogEntry
        fields = ["username", "action", "at"]


class AccessLogIndexView(IndexView):
    def get_base_queryset(self):
        return filter_by_agency(super().get_base_queryset().select_related("agency"), self.request.user)


def _may_see_access_entry(user, pk):
    entry = AccessLogEntry.objects.filter(pk=pk).select_related("agency").first()
    return entry is None or may_work_on(user, entry.agency)


class AccessLogViewSet(ModelViewSet):
    """Who looked at citizens' data: a listing and a detail view, nothing else."""

    model = AccessLogEntry
    icon = "history"
    menu_label = _("Access log")
    menu_order = 230
    add_to_admin_menu = True
    list_display = ["at", "username", "action", "agency", "what", "count"]
    list_filter = AccessLogFilterSet
    filterset_class = AccessLogFilterSet
    index_view_class = AccessLogIndexView
    inspect_view_enabled = True
    inspect_view_fields = [
        "at", "username", "action", "agency", "submission", "tracking_codes", "count", "file_id", "document_code", "detail",
    ]  # fmt: skip
    copy_view_enabled = False
    add_to_reference_index = False
    form_fields = []  # never used: there is no add or edit view

    def get_urlpatterns(self):
        """Only the listing and the detail view: no add, edit, delete, history or usage URL exists."""
        patterns = [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
        ]
        return guard_object_urls(patterns, _may_see_access_entry)


@hooks.register("register_admin_viewset")
def register_access_log_viewset():
    return AccessLogViewSet("access_log")


@hooks.register("register_log_actions")
def register_purge_log_action(actions):
    from wagtail.log_actions import LogFormatter

    @actions.register_action(PURGE_LOG_ACTION)
    class PersonalDataPurged(LogFormatter):
        label = _("Purge personal data")

        def format_message(self, log_entry):
            counts = (log_entry.data or {}).get("counts", {})
            listed = ", ".join(f"{label}: {number}" for label, number in counts.items())
            return _("Personal data past retention anonymised (%(counts)s)") % {"counts": listed}


# -- the home page: applications waiting for the user's agency -----------------------------------

OPEN_STATUSES = [status for status in Status.values if status not in (Status.COMPLETED, Status.REJECTED)]


def waiting_counts(user) -> dict[str, int]:
    """Open applications whose current stage the user's agencies decide, by status."""
    from collections import Counter

    from django.db.models import Count

    codes = agency_codes_for(user)
    open_ones = Submission.objects.filter(status__in=OPEN_STATUSES)
    if codes is None:
        return dict(open_ones.values_list("status").annotate(n=Count("pk")).order_by())
    counts = Counter()
    visible = filter_submissions(open_ones, user).select_related("agency").only("status", "stage", "stage_agencies", "agency__code")
    for submission in visible.iterator():
        if deciding_agency_code(submission) in codes:
            counts[submission.status] += 1
    return dict(counts)


@hooks.register("construct_homepage_panels")
def add_waiting_applications_panel(request, panels):
    user = request.user
    if not (user.has_perm("form_builder.view_submission") or user.has_perm("form_builder.change_submission")):
        return
    counts = waiting_counts(user)
    index = reverse("submissions:index")
    items = [NeedItem(str(Status(status).label), f"{index}?status={status}", counts.get(status, 0)) for status in OPEN_STATUSES]
    add_panel(panels, "tumen-applications", _("Applications waiting in your agency's stage"), items, order=85)
