"""Who may edit and publish which part of the catalog (Plone-style governance on Wagtail).

For each agency with a catalog section (its :class:`~service_pages.models.AgencyPage`):

- ``<code> editors`` may add and change pages in that subtree only, and must submit them for
  moderation (no publish permission);
- ``<code> moderators`` may also publish, and are the reviewers of the agency's workflow
  (a :class:`~wagtail.models.GroupApprovalTask`) attached to the agency page;
- ``<code> integrators`` connect the agency's own systems: no page rights here; the plugins app
  gives them their agency's delivery targets, API keys and deliveries (it answers
  :data:`agency_groups_synced`, as this module may not name its models);
- the ``National catalog team`` may edit and publish the whole catalog.

Both languages alike: the permissions and the workflow are set on the agency's page *and* on
its translations (the English agency page), so an agency's editors translate their own
services and nobody else's. Editors, moderators and the national team may also use the admin's
"Translate" action (``simple_translation.submit_translation``).

Everything is idempotent: run :func:`sync_agency_groups` (``manage.py create_agency_groups``)
again after importing agencies.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import CharField, Max, Q
from django.db.models.functions import Cast
from django.dispatch import Signal
from wagtail.models import GroupApprovalTask, GroupPagePermission, Workflow, WorkflowPage, WorkflowTask

from .models import AgencyPage, CatalogIndexPage

# Sent at the end of :func:`sync_agency_groups`, once every agency's groups exist.
agency_groups_synced = Signal()

NATIONAL_TEAM = "National catalog team"
# The roles of an agency's staff, each a group named "<agency code> <role>".
EDITORS, MODERATORS, INTEGRATORS = "editors", "moderators", "integrators"
# Who works on the agency's pages, forms and applications (the default of agency_codes_for).
CONTENT_ROLES = (EDITORS, MODERATORS)
EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page", "lock_page", "unlock_page")
MODERATOR_PAGE_PERMISSIONS = (*EDITOR_PAGE_PERMISSIONS, "publish_page")
SUBMISSION_ACTIONS = ("view", "change", "add", "delete")
ADMIN_PERMISSIONS = ("wagtailadmin.access_admin", "simple_translation.submit_translation")


@dataclass
class AgencyGroups:
    editors: Group
    moderators: Group
    workflow: Workflow
    integrators: Group | None = None


def _permission(label: str) -> Permission:
    app_label, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _model_permissions(app_label, model, actions):
    return Permission.objects.filter(
        content_type__app_label=app_label, codename__in=[f"{action}_{model}" for action in actions]
    )


def _page_permission(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)


def _grant_pages(group: Group, page, codenames):
    for codename in codenames:
        GroupPagePermission.objects.get_or_create(group=group, page=page, permission=_page_permission(codename))


def _group(name: str, admin_permissions=ADMIN_PERMISSIONS) -> Group:
    group, _created = Group.objects.get_or_create(name=name)
    group.permissions.add(*(_permission(label) for label in admin_permissions))
    return group


def agency_group_name(code: str, role: str) -> str:
    """``"<agency code> <role>"``: the group of one role of one agency."""
    return f"{code} {role}"


def _in_every_language(page):
    """The page and its translations: rights given on one language's section hold on the others."""
    return list(page.get_translations(inclusive=True))


@transaction.atomic
def sync_agency(agency_page: AgencyPage) -> AgencyGroups:
    code = agency_page.agency.code
    editors = _group(agency_group_name(code, EDITORS))
    moderators = _group(agency_group_name(code, MODERATORS))
    # Integrators only sign in to the admin: their rights are the plugins app's (see the docstring).
    integrators = _group(agency_group_name(code, INTEGRATORS), admin_permissions=ADMIN_PERMISSIONS[:1])
    workflow, _created = Workflow.objects.get_or_create(name=f"{code} review", defaults={"active": True})
    task = GroupApprovalTask.objects.filter(name=f"{code} moderators approve").first()
    if task is None:
        task = GroupApprovalTask.objects.create(name=f"{code} moderators approve")
    task.groups.set([moderators])
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    for page in _in_every_language(agency_page):
        _grant_pages(editors, page, EDITOR_PAGE_PERMISSIONS)
        _grant_pages(moderators, page, MODERATOR_PAGE_PERMISSIONS)
        WorkflowPage.objects.update_or_create(page=page, defaults={"workflow": workflow})
    # Their agency's application forms (per-form rights: form_builder's permission policy). Only
    # moderators read citizens' applications (scoped to the agency in the admin): content editors
    # build pages and forms and never see personal data. Taken away again from groups made before.
    editors.permissions.add(*_model_permissions("form_builder", "formdefinition", ("add", "change")))
    editors.permissions.remove(*_model_permissions("form_builder", "submission", SUBMISSION_ACTIONS))
    moderators.permissions.add(*_model_permissions("form_builder", "formdefinition", ("add", "change", "publish")))
    moderators.permissions.add(*_model_permissions("form_builder", "submission", ("view", "change")))
    # The access log of their agency's applications (read-only; form_builder.access_log).
    moderators.permissions.add(*_model_permissions("form_builder", "accesslogentry", ("view",)))
    return AgencyGroups(editors=editors, moderators=moderators, workflow=workflow, integrators=integrators)


@transaction.atomic
def sync_national_team() -> Group | None:
    catalog = CatalogIndexPage.objects.canonical().first()
    if catalog is None:
        return None
    team = _group(NATIONAL_TEAM)
    for page in _in_every_language(catalog):
        _grant_pages(team, page, MODERATOR_PAGE_PERMISSIONS)
    return team


def mirror_page_governance(original, translation) -> None:
    """Give a new translation its original's page permissions and workflow (as ``sync_agency`` would).

    ``translate_catalog`` calls it for each page it adds to the English tree, so the agency's
    groups can edit their English section at once, without running create_agency_groups again.
    """
    for grant in GroupPagePermission.objects.filter(page=original):
        GroupPagePermission.objects.get_or_create(
            group_id=grant.group_id, page=translation, permission_id=grant.permission_id
        )
    workflow_page = WorkflowPage.objects.filter(page=original).first()
    if workflow_page is not None:
        WorkflowPage.objects.update_or_create(page=translation, defaults={"workflow": workflow_page.workflow})


def sync_agency_groups(progress=None) -> int:
    """Create or update the groups, permissions and workflows of every agency; return how many."""
    sync_national_team()
    pages = AgencyPage.objects.canonical().select_related("agency").order_by("path")
    total = pages.count()
    for number, page in enumerate(pages, start=1):
        sync_agency(page)
        if progress:
            progress(number, total, page.agency.code)
    # Apps above this one keep their own rights in step (form_builder: the form review workflow;
    # plugins: the integrators' and moderators' delivery rights).
    agency_groups_synced.send(sender=AgencyPage)
    return total


def agency_codes_for(user, roles=CONTENT_ROLES) -> set[str] | None:
    """The agencies whose records ``user`` works on: ``None`` means all (superusers and the national
    team), else the codes of the agencies in whose groups of ``roles`` they are (by default the
    editors and moderators: pages, forms and applications; the plugins app asks for its roles).

    A role counts only for its own agency: an editor of A who is an integrator of B manages B's
    delivery targets, not A's (permissions are global, so the scope must name the role)."""
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return None
    names = set(user.groups.values_list("name", flat=True))
    if NATIONAL_TEAM in names:
        return None
    suffixes = tuple(f" {role}" for role in roles)
    return {name.rsplit(" ", 1)[0] for name in names if name.endswith(suffixes)}


# -- the agency-rights policy ----------------------------------------------------------------------
#
# Every admin path that decides "may this user see or act on this record?" asks one of the
# functions below, and nothing else:
#
# - a record with an agency (a form, a service, a single-stage application) belongs to that agency;
# - a multi-stage application belongs to the service's agency and to the agency of each stage it
#   has reached (so the agency of stage 2 sees it from stage 2 on, and the agency of stage 1 keeps
#   seeing what it worked on);
# - only the agency of the *current* stage records a decision on it (``may_decide``), in the
#   admin as through the signed status callback.
#
# Superusers and the national catalog team see and act on everything.


def filter_by_agency(queryset, user, field="agency", national=False, roles=CONTENT_ROLES):
    """Only the rows of the user's agencies (rows of no agency belong to the national team).

    ``national=True`` keeps the rows of no agency too: what every agency may *use* but not edit
    (the national application forms, in the form chooser). ``roles``: see :func:`agency_codes_for`.
    """
    codes = agency_codes_for(user, roles)
    if codes is None:
        return queryset
    rows = Q(**{f"{field}__code__in": codes})
    if national:
        rows |= Q(**{f"{field}__isnull": True})
    return queryset.filter(rows)


def filter_workflow_states(queryset, user, prefix=""):
    """Workflow states (``prefix=""``) or task states (``prefix="workflow_state__"``) of the objects
    ``user`` may work on: their agency's pages and forms (objects with an ``agency``), for the
    dashboard and the workflow reports, which Wagtail otherwise fills with every agency's forms."""
    codes = agency_codes_for(user)
    if codes is None:
        return queryset
    allowed = Q(pk__in=[])
    for content_type_id in queryset.order_by().values_list(f"{prefix}content_type", flat=True).distinct():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None or "agency" not in {field.name for field in model._meta.get_fields()}:
            continue
        ids = filter_by_agency(model._default_manager.all(), user).values_list(Cast("pk", CharField()), flat=True)
        allowed |= Q(**{f"{prefix}content_type_id": content_type_id, f"{prefix}object_id__in": ids})
    return queryset.filter(allowed)


def may_work_on(user, agency, roles=CONTENT_ROLES) -> bool:
    codes = agency_codes_for(user, roles)
    return codes is None or (agency is not None and agency.code in codes)


def reached_agency_codes(service_agency_code: str | None, stage_agencies, stage) -> set[str]:
    """The agencies an application belongs to: the service's, and each stage's it has reached
    (from a submission's columns, so that a values() query can ask it too)."""
    codes = set((stage_agencies or [])[: max(stage or 1, 1)])
    if service_agency_code:
        codes.add(service_agency_code)
    return codes


def submission_agency_codes(submission) -> set[str]:
    """:func:`reached_agency_codes` of one submission."""
    service_agency_code = submission.agency.code if submission.agency_id is not None else None
    return reached_agency_codes(service_agency_code, submission.stage_agencies, submission.stage)


def deciding_agency_code(submission) -> str:
    """The one agency that records decisions on an application now: its current stage's."""
    return submission.current_stage_agency_code


def filter_submissions(queryset, user):
    """The applications ``user`` may see (``submission_agency_codes`` as a query)."""
    codes = agency_codes_for(user)
    if codes is None:
        return queryset
    visible = Q(agency__code__in=codes)
    # Stage ``n`` (1-based) is ``stage_agencies[n - 1]``: seen from the moment the stage starts.
    deepest = queryset.model._default_manager.aggregate(deepest=Max("stage"))["deepest"] or 1
    for index in range(deepest):
        visible |= Q(**{f"stage_agencies__{index}__in": codes}, stage__gt=index)
    return queryset.filter(visible)


def may_see_submission(user, submission) -> bool:
    codes = agency_codes_for(user)
    return codes is None or bool(codes & submission_agency_codes(submission))


def may_decide(user, submission) -> bool:
    """Whether ``user`` may change the application's status (only for the current stage's agency)."""
    codes = agency_codes_for(user)
    return codes is None or deciding_agency_code(submission) in codes


def filter_pages(queryset, user):
    """The pages ``user`` sees in the admin: those of their sections and the sections' ancestors
    (Wagtail's "explorable" pages, from the page permissions ``sync_agency`` grants)."""
    if agency_codes_for(user) is None:
        return queryset
    from wagtail.models import Page
    from wagtail.permissions import policy_registry

    explorable = policy_registry.get_by_type(Page).explorable_instances(user)
    return queryset.filter(pk__in=explorable.values("pk"))


def _visible_records(model, user):
    """The rows of ``model`` whose history ``user`` may read, or ``None`` for "as Wagtail decides"
    (models that belong to no agency). A model with rules of its own (an application is seen by
    each of its stages' agencies) says so with a ``records_visible_to(user)`` class method."""
    if hasattr(model, "records_visible_to"):
        return model.records_visible_to(user)
    if "agency" not in {field.name for field in model._meta.get_fields()}:
        return None
    return filter_by_agency(model._default_manager.all(), user, national=True)


def filter_log_entries(queryset, user):
    """Audit-log entries (``PageLogEntry`` or ``ModelLogEntry``) of the objects ``user`` may see: of
    their agencies' records, and of national ones (no agency). Wagtail shows an entry to whoever
    has any permission on its *type*, so the site history would name every agency's forms and
    applications, and their editors. Entries of deleted agency records are left out too."""
    codes = agency_codes_for(user)
    if codes is None:
        return queryset
    pages = "page" in {field.name for field in queryset.model._meta.get_fields()}  # PageLogEntry
    allowed = Q(pk__in=[])
    for content_type_id in queryset.order_by().values_list("content_type", flat=True).distinct():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        records = _visible_records(model, user)
        if records is None:
            allowed |= Q(content_type_id=content_type_id)
        elif pages:
            allowed |= Q(content_type_id=content_type_id, page_id__in=records.values("pk"))
        else:
            ids = records.values_list(Cast("pk", CharField()), flat=True)
            allowed |= Q(content_type_id=content_type_id, object_id__in=ids)
    return queryset.filter(allowed)
