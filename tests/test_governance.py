"""Per-agency editing rights, moderation, scheduled publishing, revert and the audit log."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from wagtail.models import PageLogEntry

from service_pages.governance import NATIONAL_TEAM, sync_agency_groups
from service_pages.models import AgencyPage, ServicePage

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups(demo_catalog):
    sync_agency_groups()
    pages = list(AgencyPage.objects.select_related("agency").order_by("path")[:2])
    return pages


def member(username, *group_names):
    from django.contrib.auth.models import Group

    user = User.objects.create_user(username, password="pw")
    user.groups.add(*Group.objects.filter(name__in=group_names))
    return user


def service_of(agency_page):
    return ServicePage.objects.child_of(agency_page).live().order_by("path").first().specific


def test_the_command_creates_groups_permissions_and_workflows_for_every_agency(demo_catalog, capsys):
    call_command("create_agency_groups")
    out = capsys.readouterr().out
    count = AgencyPage.objects.canonical().count()
    assert f"in place for {count} agencies" in out
    from django.contrib.auth.models import Group
    from wagtail.models import WorkflowPage

    assert Group.objects.filter(name__endswith=" editors").count() == count
    assert Group.objects.filter(name=NATIONAL_TEAM).exists()
    # The workflow covers each agency's section in both languages.
    assert WorkflowPage.objects.filter(page__in=AgencyPage.objects.all()).count() == 2 * count
    call_command("create_agency_groups")  # idempotent
    assert Group.objects.filter(name__endswith=" moderators").count() == count


def test_an_agency_editor_edits_only_their_agencys_services(groups):
    own, other = groups
    editor = member("editor", f"{own.agency.code} editors")
    mine, theirs = service_of(own), service_of(other)
    assert mine.permissions_for_user(editor).can_edit()
    assert not mine.permissions_for_user(editor).can_publish(), "editors submit for review"
    assert not theirs.permissions_for_user(editor).can_edit()
    client = Client()
    client.force_login(editor)
    assert client.get(f"/admin/pages/{mine.pk}/edit/").status_code == 200
    denied = client.get(f"/admin/pages/{theirs.pk}/edit/")
    assert denied.status_code in (302, 403)
    response = client.post(f"/admin/pages/{theirs.pk}/unpublish/")
    assert response.status_code in (302, 403)
    theirs.refresh_from_db()
    assert theirs.live


def test_a_moderators_approval_publishes_and_the_audit_log_records_it(groups):
    own, _other = groups
    editor = member("editor", f"{own.agency.code} editors")
    moderator = member("moderator", f"{own.agency.code} moderators")
    page = service_of(own)
    old_title = page.title
    page.title = "Шинэчилсэн нэр"
    revision = page.save_revision(user=editor)
    workflow = page.get_workflow()
    assert workflow is not None and workflow.name == f"{own.agency.code} review"
    workflow_state = workflow.start(page, editor)
    page.refresh_from_db()
    assert page.title == old_title, "nothing changes on the live site before approval"
    task_state = workflow_state.current_task_state
    assert task_state.task.specific.user_can_access_editor(page, moderator)
    assert not task_state.task.specific.user_can_access_editor(page, member("stranger"))
    task_state.approve(user=moderator, comment="Зөв байна")
    page.refresh_from_db()
    assert page.title == "Шинэчилсэн нэр" and page.live_revision_id == revision.pk
    actions = list(PageLogEntry.objects.filter(page=page).values_list("action", flat=True))
    assert "wagtail.workflow.start" in actions and "wagtail.workflow.approve" in actions and "wagtail.publish" in actions


def test_changes_requested_keep_the_live_page(groups):
    own, _other = groups
    editor = member("editor", f"{own.agency.code} editors")
    moderator = member("moderator", f"{own.agency.code} moderators")
    page = service_of(own)
    page.fee_mnt = 999999
    page.save_revision(user=editor)
    state = page.get_workflow().start(page, editor)
    state.current_task_state.reject(user=moderator, comment="Хураамж буруу")
    page.refresh_from_db()
    assert page.fee_mnt != 999999
    assert PageLogEntry.objects.filter(page=page, action="wagtail.workflow.reject").exists()


def test_scheduled_publishing_fires(groups):
    own, _other = groups
    page = service_of(own)
    original = page.title
    page.title = "1-р сараас эхэлнэ"
    page.go_live_at = timezone.now() + datetime.timedelta(days=30)
    revision = page.save_revision()
    revision.publish()  # a future go-live date only schedules it
    page.refresh_from_db()
    revision.refresh_from_db()
    assert page.title == original and revision.approved_go_live_at is not None
    # The date arrives.
    past = timezone.now() - datetime.timedelta(seconds=1)
    revision.content["go_live_at"] = past.isoformat()
    revision.approved_go_live_at = past
    revision.save()
    call_command("publish_scheduled")
    page.refresh_from_db()
    assert page.title == "1-р сараас эхэлнэ"


def test_revert_to_an_earlier_revision(groups):
    own, _other = groups
    page = service_of(own)
    first = page.save_revision()
    first.publish()
    original = page.summary
    page.summary = "Буруу засвар"
    page.save_revision().publish()
    page.refresh_from_db()
    assert page.summary == "Буруу засвар"
    first.as_object().save_revision(previous_revision=first, log_action=True).publish(previous_revision=first)
    page.refresh_from_db()
    assert page.summary == original
    assert PageLogEntry.objects.filter(page=page, action="wagtail.revert").exists()


def test_publishing_a_form_goes_through_its_agencys_moderators(groups):
    from form_builder import defaults
    from form_builder.models import FormDefinition, FormVersion

    own, other = groups
    editor = member("editor", f"{own.agency.code} editors")
    moderator = member("moderator", f"{own.agency.code} moderators")
    outsider = member("outsider", f"{other.agency.code} moderators")
    steps = [{"title": "Алхам", "fields": [{"type": "short_text", "key": "name", "label": "Нэр", "required": True}]}]
    definition = FormDefinition.objects.create(
        name="Газрын хүсэлт", slug="land-request", agency=own.agency, steps=defaults.stream_data(steps), live=False
    )
    definition.save_revision(user=editor)
    workflow = definition.get_workflow()
    assert workflow is not None and workflow.name == "Application forms review"
    state = workflow.start(definition, editor)
    assert not FormVersion.objects.filter(definition=definition).exists(), "nothing reaches citizens before approval"
    task = state.current_task_state.task.specific
    assert task.get_actions(definition, outsider) == [], "another agency's moderator cannot approve"
    assert "approve" in {action[0] for action in task.get_actions(definition, moderator)}
    state.current_task_state.approve(user=moderator)
    definition.refresh_from_db()
    assert definition.live
    version = FormVersion.objects.get(definition=definition)
    assert version.number == 1 and list(version.spec.fields) == ["name"]
