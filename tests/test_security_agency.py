"""Issue #13, findings 1, 2, 6 and 10: every path that checks agency rights reads one policy
(``service_pages.governance``): the service's agency, and for a multi-stage application each
stage's agency for its own stage. Each test is written from both sides: the agency that may,
and the one that may not."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from form_builder.models import Status, Submission
from service_pages.models import Agency, AgencyPage, ServicePage
from tests.test_forms import PDF, agency_member, answers, multipart, upload

pytestmark = pytest.mark.django_db


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def exported_codes(client):
    response = client.get("/admin/submissions/?export=csv")
    if response.status_code != 200:
        return set()
    rows = csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    return {row[0] for row in rows}


# -- finding 1: multi-stage applications ---------------------------------------------------------


@pytest.fixture
def two_stage(demo_catalog, settings, tmp_path):
    """An application to a two-stage service, moved on to stage 2 (the second agency's)."""
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    with_pages = set(AgencyPage.objects.values_list("agency__code", flat=True))
    service = next(
        page
        for page in ServicePage.objects.live().canonical().filter(stages=2, channel_online=True).order_by("code")
        if all(code.strip() in with_pages for code in page.stage_agencies.split("|"))
        and page.stage_agencies.split("|")[0].strip() == page.agency.code
    )
    first, second = (Agency.objects.get(code=code.strip()) for code in service.stage_agencies.split("|"))
    code = multipart(Client(), service.code, answers(), attachment=upload("a.pdf", PDF)).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    admin = logged_in(agency_member("first-moderator", first))
    assert admin.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "completed"}).status_code == 302
    submission.refresh_from_db()
    assert submission.stage == 2 and submission.current_stage_agency_code == second.code
    return submission, first, second


def test_the_first_agency_cannot_decide_the_second_agencys_stage(two_stage):
    submission, first, _second = two_stage
    moderator = logged_in(agency_member("first-again", first))
    events = submission.events.count()
    response = moderator.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "approved"})
    refused = response.status_code in (403, 404) or (response.status_code == 302 and response.url == "/admin/")
    assert refused, "Wagtail's permission-denied answer (a redirect to the dashboard), not the listing"
    submission.refresh_from_db()
    assert submission.status == Status.IN_PROGRESS and submission.events.count() == events, "nothing recorded"
    # It took part in stage 1: it still sees the application, read only.
    assert moderator.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 200
    assert submission.tracking_code in moderator.get("/admin/submissions/").content.decode()


def test_the_second_agency_sees_the_application_and_its_files_and_decides(two_stage):
    submission, _first, second = two_stage
    moderator = logged_in(agency_member("second-moderator", second))
    assert submission.tracking_code in moderator.get("/admin/submissions/").content.decode()
    assert submission.tracking_code in exported_codes(moderator)
    inspect = moderator.get(f"/admin/submissions/inspect/{submission.pk}/")
    assert inspect.status_code == 200 and "a.pdf" in inspect.content.decode()
    download = moderator.get(reverse("form_builder_download_file", args=[submission.files.get().pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    response = moderator.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "approved"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == Status.APPROVED
    assert submission.events.last().agency_code == second.code


def test_an_agency_of_a_later_stage_sees_nothing_before_its_stage(two_stage):
    submission, _first, second = two_stage
    Submission.objects.filter(pk=submission.pk).update(stage=1)
    moderator = logged_in(agency_member("too-early", second))
    assert submission.tracking_code not in moderator.get("/admin/submissions/").content.decode()
    assert moderator.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 404
    assert moderator.get(reverse("form_builder_download_file", args=[submission.files.get().pk])).status_code == 404
    assert moderator.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "approved"}).status_code == 404


def test_an_unrelated_agency_sees_nothing_of_a_multi_stage_application(two_stage):
    submission, first, second = two_stage
    other = Agency.objects.filter(pages__isnull=False).exclude(pk__in=[first.pk, second.pk]).first()
    outsider = logged_in(agency_member("outsider", other))
    assert submission.tracking_code not in outsider.get("/admin/submissions/").content.decode()
    assert submission.tracking_code not in exported_codes(outsider)
    assert outsider.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 404
    assert outsider.get(reverse("form_builder_download_file", args=[submission.files.get().pk])).status_code == 404
    assert outsider.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "approved"}).status_code == 404


# -- finding 6: content editors do not read citizen data ----------------------------------------


@pytest.fixture
def application(demo_catalog, settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    service = ServicePage.objects.live().canonical().filter(channel_online=True, stages=1).order_by("code").first()
    code = multipart(Client(), service.code, answers(), attachment=upload("a.pdf", PDF)).json()["tracking_code"]
    return Submission.objects.get(tracking_code=code)


def assert_reads_no_citizen_data(client, submission):
    listing = client.get("/admin/submissions/")
    assert listing.status_code in (302, 403, 404) and submission.tracking_code not in listing.content.decode()
    assert submission.tracking_code not in exported_codes(client)
    assert client.get(f"/admin/submissions/inspect/{submission.pk}/").status_code in (302, 403, 404)
    inspect = client.get(f"/admin/submissions/inspect/{submission.pk}/", follow=True)
    assert "register_number" not in inspect.content.decode()
    assert client.get(reverse("form_builder_download_file", args=[submission.files.get().pk])).status_code == 404


def test_an_agency_editor_reads_no_submissions(application):
    editor = logged_in(agency_member("content-editor", application.agency, role="editors"))
    assert_reads_no_citizen_data(editor, application)
    moderator = logged_in(agency_member("moderator", application.agency))
    assert application.tracking_code in moderator.get("/admin/submissions/").content.decode()
    assert application.tracking_code in exported_codes(moderator)
    assert moderator.get(f"/admin/submissions/inspect/{application.pk}/").status_code == 200
    assert moderator.get(reverse("form_builder_download_file", args=[application.files.get().pk])).status_code == 200


def give_editors_the_old_rights():
    """An existing database: editors' groups as ``create_agency_groups`` made them before the fix."""
    from django.contrib.auth.models import Group, Permission

    view = Permission.objects.get(content_type__app_label="form_builder", codename="view_submission")
    for group in Group.objects.filter(name__endswith=" editors"):
        group.permissions.add(view)


def test_running_create_agency_groups_again_takes_the_right_from_existing_editors(application):
    from django.core.management import call_command

    editor = agency_member("old-editor", application.agency, role="editors")
    give_editors_the_old_rights()
    assert editor.has_perm("form_builder.view_submission")
    call_command("create_agency_groups", stdout=io.StringIO())
    assert_reads_no_citizen_data(logged_in(editor), application)


def test_the_migration_takes_the_right_from_existing_editors(application):
    import importlib

    from django.apps import apps

    editor = agency_member("old-editor", application.agency, role="editors")
    give_editors_the_old_rights()
    migration = importlib.import_module("service_pages.migrations.0010_editors_read_no_submissions")
    migration.editors_read_no_submissions(apps, None)
    assert_reads_no_citizen_data(logged_in(editor), application)
    moderator = agency_member("moderator", application.agency)
    assert moderator.has_perm("form_builder.view_submission") and moderator.has_perm("form_builder.change_submission")


# -- finding 10: other agencies' form names do not leak -----------------------------------------


def modal_html(response):
    """A chooser answers with a modal step in JSON (its text escaped) or, for results, plain HTML."""
    if response["Content-Type"].startswith("application/json"):
        return json.loads(response.content)["html"]
    return response.content.decode()


def form_in_review(agency, name, slug, editor):
    from form_builder import defaults
    from form_builder.models import FormDefinition

    steps = [{"title": "Алхам", "fields": [{"type": "short_text", "key": "name", "label": "Нэр", "required": True}]}]
    definition = FormDefinition.objects.create(
        name=name, slug=slug, agency=agency, steps=defaults.stream_data(steps), live=False
    )
    definition.save_revision(user=editor)
    definition.get_workflow().start(definition, editor)
    return definition


@pytest.fixture
def two_agencies_forms(demo_catalog):
    own, other = (page.agency for page in AgencyPage.objects.canonical().select_related("agency").order_by("path")[:2])
    editor = agency_member("a-editor", own, role="editors")
    moderator = agency_member("a-moderator", own)
    theirs = form_in_review(other, "Б агентлагийн дотоод маягт", "b-internal", agency_member("b-editor", other, role="editors"))
    mine = form_in_review(own, "А агентлагийн өөрийн маягт", "a-own", editor)
    return editor, moderator, mine, theirs


def test_the_form_chooser_lists_own_and_national_forms_only(two_agencies_forms):
    from form_builder.defaults import GENERAL_FORM_SLUG
    from form_builder.models import FormDefinition

    editor, _moderator, mine, theirs = two_agencies_forms
    national = FormDefinition.objects.get(slug=GENERAL_FORM_SLUG)
    client = logged_in(editor)
    namespace = "wagtailsnippetchoosers_form_builder_formdefinition"
    for url in (reverse(f"{namespace}:choose"), reverse(f"{namespace}:choose_results")):
        html = modal_html(client.get(url))
        assert theirs.name not in html, url
        assert mine.name in html, url
        assert national.name in html, "national forms stay choosable"
    assert client.get(reverse(f"{namespace}:chosen", args=[theirs.pk])).status_code == 404
    assert client.get(reverse(f"{namespace}:chosen", args=[mine.pk])).status_code == 200
    assert client.get(reverse(f"{namespace}:chosen", args=[national.pk])).status_code == 200


def test_the_dashboard_shows_no_other_agencys_form(two_agencies_forms):
    editor, moderator, mine, theirs = two_agencies_forms
    assert theirs.name not in logged_in(editor).get("/admin/").content.decode()
    dashboard = logged_in(moderator).get("/admin/").content.decode()
    assert theirs.name not in dashboard
    assert mine.name in dashboard, "their own agency's form awaits their review"


@pytest.mark.parametrize("report", ["workflow", "workflow_tasks"])
def test_the_workflow_reports_show_no_other_agencys_form(two_agencies_forms, report):
    editor, moderator, mine, theirs = two_agencies_forms
    for user in (editor, moderator):
        client = logged_in(user)
        for url in (f"/admin/reports/{report}/", f"/admin/reports/{report}/results/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert theirs.name not in response.content.decode(), url
            assert mine.name in response.content.decode(), url
        export = client.get(f"/admin/reports/{report}/?export=csv")
        assert theirs.name not in b"".join(export.streaming_content).decode("utf-8-sig")


# -- finding 2: nothing is published under another agency's name ---------------------------------


@pytest.fixture
def sections(demo_catalog):
    own, other = AgencyPage.objects.canonical().select_related("agency").order_by("path")[:2]
    return own, other


def service_post(page, **changes):
    """The admin's page form, filled in as an editor would leave it."""
    from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

    data = {
        "title": page.title, "slug": page.slug, "code": page.code, "title_en": page.title_en,
        "summary": page.summary, "description": rich_text(page.description or "<p>Тайлбар</p>"),
        "agency": page.agency_id, "category": page.category_id or "", "required_documents": page.required_documents,
        "fee_mnt": page.fee_mnt, "processing_days": page.processing_days, "channel_online": "on",
        "stages": page.stages, "stage_agencies": page.stage_agencies, "legal_basis": page.legal_basis,
        "aimag": page.aimag_id or "", "soum": page.soum_id or "", "xyp_code": page.xyp_code, "keywords": page.keywords,
        "accepts_applications": "on", "form_definition": "", "comments": inline_formset([]),
    }  # fmt: skip
    data.update(changes)
    return nested_form_data(data)


def test_a_new_service_takes_the_agency_of_its_section(sections):
    own, other = sections
    editor = logged_in(agency_member("a-editor", own.agency, role="editors"))
    draft = ServicePage(title="Шинэ үйлчилгээ", slug="shine-uilchilgee", code="SEC-00001", agency=other.agency)
    response = editor.post(f"/admin/pages/add/service_pages/servicepage/{own.pk}/", service_post(draft))
    assert response.status_code == 302, response.context and response.context["form"].errors
    page = ServicePage.objects.get(code="SEC-00001")
    assert page.get_parent().pk == own.pk
    assert page.get_latest_revision_as_object().agency_id == own.agency_id, "never under the other agency's name"


def test_an_edited_service_keeps_the_agency_of_its_section(sections):
    own, other = sections
    moderator = logged_in(agency_member("a-moderator", own.agency))
    page = ServicePage.objects.child_of(own).live().order_by("path").first().specific
    response = moderator.post(f"/admin/pages/{page.pk}/edit/", service_post(page, agency=other.agency_id, **{"action-publish": "1"}))
    assert response.status_code == 302
    page.refresh_from_db()
    assert page.agency_id == own.agency_id and page.get_latest_revision_as_object().agency_id == own.agency_id


def test_every_imported_and_translated_service_has_its_sections_agency(demo_catalog):
    """The bulk importer and translate_catalog place each page under its agency's section."""
    mismatched = [
        page.code
        for page in ServicePage.objects.select_related("agency")
        if page.get_parent().specific.agency_id != page.agency_id
    ]
    assert mismatched == []


def form_create_errors(client, agency):
    response = client.post(
        "/admin/snippets/form_builder/formdefinition/add/",
        {"name": "Маягт", "slug": "sec-form", "agency": agency.pk if agency else "", "steps-count": "0"},
    )
    assert response.status_code in (200, 302)
    return response.context["form"].errors if response.status_code == 200 else {}


def test_an_editor_creates_forms_for_their_own_agency_only(sections):
    from form_builder.models import FormDefinition

    own, other = sections
    editor = logged_in(agency_member("a-editor", own.agency, role="editors"))
    assert "agency" in form_create_errors(editor, other.agency)
    assert "agency" in form_create_errors(editor, None), "national forms are the national team's"
    assert "agency" not in form_create_errors(editor, own.agency)
    assert not FormDefinition.objects.filter(slug="sec-form").exclude(agency=own.agency).exists()
    page = editor.get("/admin/snippets/form_builder/formdefinition/add/").content.decode()
    assert other.agency.name_mn not in page, "the choice lists only the editor's agencies"


def test_unknown_stage_agency_codes_are_a_form_error(sections):
    from django.core.exceptions import ValidationError

    own, other = sections
    page = ServicePage.objects.child_of(own).live().order_by("path").first().specific
    page.stages, page.stage_agencies = 2, f"{own.agency.code} | {other.agency.code}x"
    with pytest.raises(ValidationError) as refused:
        page.full_clean()
    assert f"{other.agency.code}x" in str(refused.value.message_dict["stage_agencies"])
    page.stage_agencies = own.agency.code
    with pytest.raises(ValidationError) as refused:
        page.full_clean()
    assert "stage_agencies" in refused.value.message_dict, "two stages need two agencies"
    page.stage_agencies = f"{own.agency.code} | {other.agency.code}"
    page.full_clean()
    moderator = logged_in(agency_member("a-moderator", own.agency))
    response = moderator.post(f"/admin/pages/{page.pk}/edit/", service_post(page, stages=2, stage_agencies="ubeg | mtaa"))
    assert response.status_code == 200 and "mtaa" in str(response.context["form"].errors["stage_agencies"])


def test_the_importer_refuses_unknown_stage_agency_codes(demo_catalog):
    from service_pages.catalog import Lookups, RowError, service_fields
    from tests.test_import import new_row

    lookups = Lookups.load()
    with pytest.raises(RowError) as refused:
        service_fields(new_row("SEC-00002", "Гарчиг", stages="2", stage_agencies="ubeg | mtaa"), lookups)
    assert "mtaa" in str(refused.value.errors["stage_agencies"])
    with pytest.raises(RowError):
        service_fields(new_row("SEC-00003", "Гарчиг", stages="3", stage_agencies="ubeg | mta"), lookups)
    assert service_fields(new_row("SEC-00004", "Гарчиг", stages="2", stage_agencies="ubeg | mta"), lookups)["stages"] == 2


def test_a_decision_for_a_stage_that_moved_on_is_refused(two_stage):
    from form_builder.stages import StatusRefused, apply_status

    submission, first, _second = two_stage
    events = submission.events.count()
    with pytest.raises(StatusRefused) as refused:
        apply_status(submission, Status.APPROVED, agency_code=first.code, actor="late")
    assert refused.value.code == "not_current_stage" and submission.events.count() == events


# -- finding 10 (review): the site history and the bulk actions -----------------------------------


@pytest.fixture
def logged_elsewhere(two_agencies_forms):
    """Agency B's form and service page, each edited by B's editor (in Wagtail's audit log)."""
    from django.contrib.auth import get_user_model
    from wagtail.log_actions import log

    editor, moderator, mine, theirs = two_agencies_forms
    their_editor = get_user_model().objects.get(username="b-editor")
    their_page = ServicePage.objects.canonical().filter(agency=theirs.agency).order_by("code").first()
    log(instance=theirs, action="wagtail.edit", user=their_editor)
    log(instance=their_page, action="wagtail.edit", user=their_editor)
    log(instance=mine, action="wagtail.edit", user=editor)
    return editor, moderator, mine, theirs, their_page


def site_history(client, query=""):
    response = client.get("/admin/reports/site-history/" + query)
    assert response.status_code == 200
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def test_the_site_history_shows_no_other_agencys_forms_pages_or_editors(logged_elsewhere):
    editor, moderator, mine, theirs, their_page = logged_elsewhere
    for user in (editor, moderator):
        client = logged_in(user)
        for query in ("", "results/", "?export=csv"):
            text = site_history(client, query) if query != "results/" else client.get(
                "/admin/reports/site-history/results/"
            ).content.decode()
            assert theirs.name not in text, (user, query)
            assert "b-editor" not in text, (user, query)
            assert their_page.title not in text, (user, query)
            assert mine.name in text, (user, query)


def test_a_superuser_still_sees_every_agencys_history(logged_elsewhere):
    from django.contrib.auth import get_user_model

    _editor, _moderator, mine, theirs, their_page = logged_elsewhere
    root = get_user_model().objects.create_superuser("root", password="pw")
    text = site_history(logged_in(root), "?export=csv")
    assert theirs.name in text and mine.name in text and their_page.title in text and "b-editor" in text


def test_the_history_of_another_agencys_form_is_not_found(logged_elsewhere):
    editor, moderator, mine, theirs, _their_page = logged_elsewhere
    for user in (editor, moderator):
        client = logged_in(user)
        assert client.get(f"/admin/snippets/form_builder/formdefinition/history/{theirs.pk}/").status_code == 404
        assert client.get(f"/admin/snippets/form_builder/formdefinition/history/{mine.pk}/").status_code == 200


def test_the_bulk_delete_of_forms_names_no_other_agencys_form(two_agencies_forms):
    editor, moderator, mine, theirs = two_agencies_forms
    url = "/admin/bulk/form_builder/formdefinition/delete/"
    for user in (editor, moderator):
        client = logged_in(user)
        response = client.get(f"{url}?id={theirs.pk}")
        assert response.status_code == 404 or theirs.name not in response.content.decode()
        both = client.get(f"{url}?id={theirs.pk}&id={mine.pk}")
        assert both.status_code == 200 and mine.name in both.content.decode()
        assert theirs.name not in both.content.decode()
        assert client.post(f"{url}?id={theirs.pk}").status_code in (302, 404)
    from form_builder.models import FormDefinition

    assert FormDefinition.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("action", ["delete", "publish", "unpublish", "move"])
def test_the_page_bulk_actions_name_no_other_agencys_page(two_agencies_forms, action):
    editor, moderator, mine, theirs = two_agencies_forms
    their_page = ServicePage.objects.canonical().filter(agency=theirs.agency).order_by("code").first()
    their_draft = their_page.title + " (ноорог)"
    their_page.title = their_draft
    their_page.save_revision()
    their_page.refresh_from_db()
    own_page = ServicePage.objects.canonical().filter(agency=mine.agency).order_by("code").first()
    url = f"/admin/bulk/wagtailcore/page/{action}/"
    for user in (editor, moderator):
        client = logged_in(user)
        response = client.get(f"{url}?id={their_page.pk}")
        assert response.status_code == 404 or their_page.title not in response.content.decode(), action
        own = client.get(f"{url}?id={their_page.pk}&id={own_page.pk}")
        assert own.status_code == 200 and own_page.title in own.content.decode(), action
        assert their_page.title not in own.content.decode(), action


def test_the_site_history_shows_no_other_agencys_applications(application):
    """A moderator may view applications (by type, for Wagtail): only their agency's in the history."""
    from wagtail.log_actions import log

    theirs = agency_member("their-moderator", application.agency)
    log(instance=application, action="wagtail.edit", user=theirs, title="their-application-label")
    other = Agency.objects.exclude(pk=application.agency_id).filter(pages__isnull=False).order_by("code").first()
    client = logged_in(agency_member("other-moderator", other))
    for query in ("", "?export=csv", "?export=xlsx"):
        response = client.get("/admin/reports/site-history/" + query)
        assert response.status_code == 200
        text = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"their-application-label" not in text and b"their-moderator" not in text, query
    own = site_history(logged_in(agency_member("own-moderator", application.agency)), "?export=csv")
    assert "their-application-label" in own and "their-moderator" in own
