"""Wagtail's workflow reports and site history, scoped to the user's agencies (``governance``).

Wagtail lists the workflow states of every snippet a user may edit *by type*, and shows a log
entry to whoever has a permission on its content *type*: an agency's editor would read the names
of every other agency's application forms in review, and in the site history (and its CSV/XLSX
export) those forms' names and the usernames of their editors. ``cms/urls.py`` routes the
reports' URLs here, before the admin's own.
"""

from django.contrib.auth import get_user_model
from django.urls import path
from wagtail.admin.auth import require_admin_access
from wagtail.admin.views.reports.audit_logging import LogEntriesView, SiteHistoryReportFilterSet
from wagtail.admin.views.reports.workflows import WorkflowTasksView, WorkflowView
from wagtail.log_actions import registry as log_action_registry

from .governance import filter_log_entries, filter_workflow_states


class AgencyWorkflowView(WorkflowView):
    def get_queryset(self):
        return filter_workflow_states(super().get_queryset(), self.request.user)


class AgencyWorkflowTasksView(WorkflowTasksView):
    def get_queryset(self):
        return filter_workflow_states(super().get_queryset(), self.request.user, prefix="workflow_state__")


class AgencySiteHistoryFilterSet(SiteHistoryReportFilterSet):
    """The "User" filter lists only the people whose entries the report shows this user."""

    def get_users_queryset(self):
        user = self.request.user
        user_ids = set()
        for log_model in log_action_registry.get_log_entry_models():
            user_ids.update(filter_log_entries(log_model.objects.viewable_by_user(user), user).get_user_ids())
        User = get_user_model()
        return User.objects.filter(pk__in=user_ids).order_by(User.USERNAME_FIELD)

    class Meta(SiteHistoryReportFilterSet.Meta):
        pass


class AgencySiteHistoryView(LogEntriesView):
    filterset_class = AgencySiteHistoryFilterSet

    def filter_queryset(self, queryset):
        # Wagtail calls it once per log model (pages', other models') with the entries it allows.
        return filter_log_entries(super().filter_queryset(queryset), self.request.user)


def report_urls(prefix="admin/reports/"):
    """The reports' URLs (page and results), same paths as Wagtail's, to put before them."""
    views = (
        ("workflow/", AgencyWorkflowView),
        ("workflow_tasks/", AgencyWorkflowTasksView),
        ("site-history/", AgencySiteHistoryView),
    )
    urls = []
    for name, view in views:
        urls.append(path(f"{prefix}{name}", require_admin_access(view.as_view())))
        urls.append(path(f"{prefix}{name}results/", require_admin_access(view.as_view(results_only=True))))
    return urls
