"""Wagtail's workflow reports, scoped to the user's agencies (``governance.filter_workflow_states``).

Wagtail lists the workflow states of every snippet a user may edit *by type*: an agency's editor
would read the names of every other agency's application forms in review. ``cms/urls.py`` routes
the reports' URLs here, before the admin's own.
"""

from django.urls import path
from wagtail.admin.auth import require_admin_access
from wagtail.admin.views.reports.workflows import WorkflowTasksView, WorkflowView

from .governance import filter_workflow_states


class AgencyWorkflowView(WorkflowView):
    def get_queryset(self):
        return filter_workflow_states(super().get_queryset(), self.request.user)


class AgencyWorkflowTasksView(WorkflowTasksView):
    def get_queryset(self):
        return filter_workflow_states(super().get_queryset(), self.request.user, prefix="workflow_state__")


def report_urls(prefix="admin/reports/"):
    """The four report URLs (page and results), same paths as Wagtail's, to put before them."""
    views = (("workflow/", AgencyWorkflowView), ("workflow_tasks/", AgencyWorkflowTasksView))
    urls = []
    for name, view in views:
        urls.append(path(f"{prefix}{name}", require_admin_access(view.as_view())))
        urls.append(path(f"{prefix}{name}results/", require_admin_access(view.as_view(results_only=True))))
    return urls
