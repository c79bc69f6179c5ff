"""The review workflow of application forms: each agency's moderators approve their agency's forms.

Kept in step with the agency groups: ``service_pages.governance.sync_agency_groups`` (``manage.py
create_agency_groups``, the demo loader) sends ``agency_groups_synced`` when every agency's groups
exist, and :func:`sync_form_review` answers it (connected in ``FormBuilderConfig.ready``).
"""

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from wagtail.models import Workflow, WorkflowContentType, WorkflowTask

from service_pages.governance import NATIONAL_TEAM
from service_pages.models import AgencyApprovalTask

from .models import FormDefinition

FORM_REVIEW = "Application forms review"


@transaction.atomic
def sync_form_review(**signal_kwargs) -> Workflow:
    """One review workflow for every application form: each agency's moderators approve their
    agency's forms (``AgencyApprovalTask``), the national team the national ones."""
    workflow, _created = Workflow.objects.get_or_create(name=FORM_REVIEW, defaults={"active": True})
    task = AgencyApprovalTask.objects.filter(name="Agency moderators approve the form").first()
    if task is None:
        task = AgencyApprovalTask.objects.create(name="Agency moderators approve the form")
    task.groups.set(Group.objects.filter(Q(name__endswith=" moderators") | Q(name=NATIONAL_TEAM)))
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowContentType.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(FormDefinition), defaults={"workflow": workflow}
    )
    return workflow
