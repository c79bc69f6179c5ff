"""Privacy (issue 13): retention and anonymisation of citizens' data, and the access log.

- ``purge_personal_data`` anonymises applications past their retention (the service's period, else
  ``TUMEN_RETENTION_DAYS``, never below ``TUMEN_RETENTION_MIN_DAYS``, counted from the last closing
  of an application that is closed now; open ones and ones still being delivered wait), deletes their
  files, expired drafts and delivery error texts, keeps what the statistics need, is idempotent,
  and counts what it did in Wagtail's audit log.
- Every view, export and download of a submission in the admin and every operator look-up writes
  an access-log entry; an agency's moderators read their agency's entries, nobody changes them.
"""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from form_builder.access_log import AccessLogEntry, AppendOnlyError
from form_builder.models import (
    Draft,
    OperatorProfile,
    Source,
    Status,
    StoredFile,
    Submission,
    form_for_service,
    new_tracking_code,
)
from form_builder.retention import ANONYMISED, LOG_ACTION
from form_builder.statistics import processing_times
from plugins.models import Delivery, DeliveryAttempt
from service_pages.governance import sync_agency_groups
from service_pages.models import Agency, ServicePage, Soum

pytestmark = pytest.mark.django_db

NAME = "Должинсүрэн"
REGISTER = "УБ99112233"
PHONE = "+97699112233"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.TUMEN_RETENTION_DAYS = 1826
    settings.TUMEN_RETENTION_MIN_DAYS = 90
    return tmp_path / "private"


@pytest.fixture
def services(demo_catalog):
    """Two online services of two different agencies (each with an agency page, hence groups)."""
    first = ServicePage.objects.live().canonical().filter(channel_online=True).order_by("code").first()
    second = (
        ServicePage.objects.live().canonical().filter(channel_online=True, agency__pages__isnull=False)
        .exclude(agency=first.agency).order_by("code").first()
    )  # fmt: skip
    return first, second


def days_ago(days):
    return timezone.now() - datetime.timedelta(days=days)


def make_submission(service, *, received_days_ago=0, closed_days_ago=None, status=None, source=Source.WEB, **extra):
    version = form_for_service(service).current_version
    submission = Submission.objects.create(
        tracking_code=new_tracking_code(), service=service, service_code=service.code, service_title=service.title,
        agency=service.agency, form_version=version, data={"name": NAME, "register_number": REGISTER, "phone": PHONE},
        applicant_register_number=REGISTER, citizen={"name": NAME, "register_number": REGISTER, "phone": PHONE},
        consent={"method": "sms", "phone": PHONE}, submitted_at=days_ago(received_days_ago), source=source, **extra,
    )  # fmt: skip
    submission.events.create(status=Status.RECEIVED, created_at=submission.submitted_at, actor="tumen", message=f"from {NAME}")
    if closed_days_ago is not None:
        submission.events.create(
            status=Status.COMPLETED, created_at=days_ago(closed_days_ago), actor="agency",
            message=f"{NAME} came in", public_message=f"Dear {NAME}, your document is ready",
        )  # fmt: skip
        status = status or Status.COMPLETED
    if status:
        Submission.objects.filter(pk=submission.pk).update(status=status)
        submission.refresh_from_db()
    return submission


def attach_file(submission=None, draft=None, content=b"%PDF-1.4 passport scan"):
    return StoredFile.objects.create(
        submission=submission, draft=draft, field_key="passport", file=ContentFile(content, name="upload"),
        name=f"{NAME} passport.pdf", size=len(content), content_type="application/pdf", sha256="0" * 64,
    )  # fmt: skip


def member(username, agency, role):
    if not Group.objects.filter(name=f"{agency.code} {role}").exists():
        sync_agency_groups()
    user = User.objects.create_user(username, password="pw")
    user.groups.add(Group.objects.get(name=f"{agency.code} {role}"))
    client = Client()
    client.force_login(user)
    return user, client


def purge(*args):
    out = io.StringIO()
    call_command("purge_personal_data", *args, stdout=out)
    return out.getvalue()


# -- A. retention and anonymisation ------------------------------------------------------------


def test_a_service_has_a_retention_period_in_its_editor_panel(services):
    service = services[0]
    assert service.retention_days is None, "blank means the national default"
    admin = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(admin)
    html = client.get(f"/admin/pages/{service.pk}/edit/").content.decode()
    assert 'name="retention_days"' in html
    from django.utils import translation
    from django.utils.html import escape

    from service_pages.models import RETENTION_HELP

    with translation.override("mn"):  # the admin speaks the site's first language
        rule = str(RETENTION_HELP)
    with translation.override("en"):
        assert "Open applications are kept until staff close them" in str(RETENTION_HELP)
    assert escape(rule) in html or rule in html, "the editor reads the current rule"


def test_a_retention_period_of_zero_days_is_refused_clearly(services):
    from django.core.exceptions import ValidationError

    service = services[0]
    service.retention_days = 0
    with pytest.raises(ValidationError) as refused:
        service.full_clean()
    assert "retention_days" in refused.value.message_dict


def test_a_retention_period_below_the_national_floor_is_refused_in_both_languages(services):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    service = services[0]
    service.retention_days = 30
    for language, words in (("en", "at least 90 days"), ("mn", "90")):
        with translation.override(language), pytest.raises(ValidationError) as refused:
            service.full_clean()
        assert any(words in message for message in refused.value.message_dict["retention_days"])
    service.retention_days = 90
    service.full_clean()


def test_open_applications_are_never_purged_however_old(services):
    service, other = services
    other.retention_days = 120
    other.save(update_fields=["retention_days"])
    worked_on = make_submission(other, received_days_ago=400, status=Status.IN_PROGRESS)
    never_answered = make_submission(service, received_days_ago=2000)
    out = purge()
    for submission in (worked_on, never_answered):
        submission.refresh_from_db()
        assert submission.data["name"] == NAME and submission.anonymised_at is None
    assert "2 open applications are older than their retention period" in out


def test_a_reopened_application_is_not_purged_and_counts_from_its_last_close(services):
    service = services[1]
    service.retention_days = 120
    service.save(update_fields=["retention_days"])
    reopened = make_submission(service, received_days_ago=400, closed_days_ago=300, status=Status.IN_PROGRESS)
    closed_again = make_submission(service, received_days_ago=400, closed_days_ago=300)
    closed_again.events.create(status=Status.IN_PROGRESS, created_at=days_ago(200), actor="agency")
    closed_again.events.create(status=Status.COMPLETED, created_at=days_ago(30), actor="agency")
    purge()
    for submission in (reopened, closed_again):
        submission.refresh_from_db()
        assert submission.anonymised_at is None and submission.data["name"] == NAME


def test_an_application_still_being_delivered_is_held_back(services):
    service = services[0]
    waiting = make_submission(service, received_days_ago=2000, closed_days_ago=1900)
    done = make_submission(service, received_days_ago=2000, closed_days_ago=1900)
    for submission, state in ((waiting, Delivery.State.RETRYING), (done, Delivery.State.DEAD)):
        Delivery.objects.create(submission=submission, plugin_id="webhook", target="a", agency=service.agency, state=state)
    assert "form_builder.Submission: 1 would be purged" in purge("--dry-run")
    purge()
    waiting.refresh_from_db()
    done.refresh_from_db()
    assert waiting.anonymised_at is None and waiting.data["name"] == NAME
    assert done.anonymised_at is not None


def test_the_production_deploy_check_refuses_a_retention_below_the_floor(settings):
    from cms.checks import check_retention

    settings.TUMEN_RETENTION_DAYS = 30
    assert [error.id for error in check_retention()] == ["tumen.E005"]
    settings.TUMEN_RETENTION_DAYS = 90
    assert check_retention() == []


def test_purge_anonymises_what_is_past_retention_and_keeps_the_statistics(services, private_media):
    service, other = services
    old_closed = make_submission(service, received_days_ago=2000, closed_days_ago=1900)
    recently_closed = make_submission(service, received_days_ago=2000, closed_days_ago=100)
    rejected_long_ago = make_submission(service, received_days_ago=1900, closed_days_ago=1850, status=Status.REJECTED)
    fresh = make_submission(service, received_days_ago=10)
    other.retention_days = 120
    other.save(update_fields=["retention_days"])
    short_retention = make_submission(other, received_days_ago=200, closed_days_ago=150)
    within_short = make_submission(other, received_days_ago=200, closed_days_ago=100)
    stored = attach_file(old_closed)
    kept_file = attach_file(recently_closed)
    delivery = Delivery.objects.create(
        submission=old_closed, plugin_id="webhook", target="default", agency=service.agency, state=Delivery.State.DELIVERED,
        last_error=f"agency said: {NAME} unknown",
    )  # fmt: skip
    DeliveryAttempt.objects.create(delivery=delivery, number=1, error=f"422 {{'name': '{NAME}'}}", status_code=422)
    path = private_media / stored.file.name
    assert path.exists()

    out = purge()

    for submission in (old_closed, rejected_long_ago, short_retention):
        submission.refresh_from_db()
        assert submission.data == ANONYMISED and submission.citizen == ANONYMISED and submission.consent == ANONYMISED
        assert submission.applicant_register_number == "" and submission.anonymised_at is not None
        assert not submission.files.exists()
        assert all(not e.message and not e.public_message for e in submission.events.all())
    for submission in (recently_closed, fresh, within_short):
        submission.refresh_from_db()
        assert submission.data["name"] == NAME and submission.anonymised_at is None
    assert not path.exists(), "the file is deleted from disk"
    assert (private_media / kept_file.file.name).exists()
    # What the statistics need stays: service, agency, status, channel, dates, the timeline's statuses.
    old_closed.refresh_from_db()
    assert (old_closed.service_code, old_closed.agency_id, old_closed.status, old_closed.source) == (
        service.code, service.agency_id, Status.COMPLETED, Source.WEB,
    )  # fmt: skip
    assert list(old_closed.events.values_list("status", flat=True)) == [Status.RECEIVED, Status.COMPLETED]
    delivery.refresh_from_db()
    assert delivery.last_error == "" and delivery.state == Delivery.State.DELIVERED
    assert DeliveryAttempt.objects.get(delivery=delivery).error == ""
    assert "form_builder.Submission: 3 purged" in out

    entry = ModelLogEntry.objects.get(action=LOG_ACTION)
    assert entry.data["counts"]["form_builder.Submission"] == 3
    assert entry.data["counts"]["form_builder.StoredFile"] == 1
    assert entry.data["counts"]["plugins.DeliveryAttempt"] == 1
    dumped = json.dumps(entry.data, ensure_ascii=False) + entry.label
    assert NAME not in dumped and REGISTER not in dumped and old_closed.tracking_code not in dumped


def test_purge_is_idempotent_and_safe_to_run_twice(services):
    make_submission(services[0], received_days_ago=2000, closed_days_ago=1900)
    purge()
    assert "Nothing purged." in purge()
    assert ModelLogEntry.objects.filter(action=LOG_ACTION).count() == 1, "an empty run logs nothing"


def test_purge_works_in_batches_with_progress(services):
    made = [make_submission(services[0], received_days_ago=2000, closed_days_ago=1900) for _ in range(5)]
    out = purge("--batch-size", "2")
    assert "submissions: 2 so far" in out and "submissions: 5 so far" in out
    assert Submission.objects.filter(pk__in=[s.pk for s in made], anonymised_at__isnull=False).count() == 5


def test_dry_run_counts_and_changes_nothing(services, private_media):
    submission = make_submission(services[0], received_days_ago=2000, closed_days_ago=1900)
    stored = attach_file(submission)
    out = purge("--dry-run")
    assert "form_builder.Submission: 1 would be purged" in out
    submission.refresh_from_db()
    assert submission.data["name"] == NAME and (private_media / stored.file.name).exists()
    assert not ModelLogEntry.objects.filter(action=LOG_ACTION).exists()


def test_purge_deletes_expired_drafts_and_stray_uploads_with_their_files(services, private_media):
    service = services[0]
    version = form_for_service(service).current_version
    expired = Draft.objects.create(service=service, form_version=version, data={"name": NAME}, expires_at=days_ago(1))
    alive = Draft.objects.create(service=service, form_version=version, data={"name": NAME}, expires_at=days_ago(-5))
    draft_file, alive_file, stray = attach_file(draft=expired), attach_file(draft=alive), attach_file()
    StoredFile.objects.filter(pk=stray.pk).update(created_at=days_ago(3))
    purge()
    assert not Draft.objects.filter(pk=expired.pk).exists() and Draft.objects.filter(pk=alive.pk).exists()
    assert not StoredFile.objects.filter(pk__in=[draft_file.pk, stray.pk]).exists()
    assert not (private_media / draft_file.file.name).exists() and not (private_media / stray.file.name).exists()
    assert (private_media / alive_file.file.name).exists()


def test_anonymised_applications_still_count_in_the_statistics(services):
    submission = make_submission(services[0], received_days_ago=300, closed_days_ago=290)
    services[0].retention_days = 100
    services[0].save(update_fields=["retention_days"])
    before = processing_times(submissions=Submission.objects.filter(pk=submission.pk))
    purge()
    submission.refresh_from_db()
    assert submission.anonymised_at is not None
    after = processing_times(submissions=Submission.objects.filter(pk=submission.pk))
    assert [(r.key, r.count, r.median_days) for r in after[0]] == [(r.key, r.count, r.median_days) for r in before[0]]


def test_purge_command_explains_itself():
    from form_builder.management.commands.purge_personal_data import Command

    parser = Command().create_parser("manage.py", "purge_personal_data")
    text = parser.format_help()
    assert "--dry-run" in text and "--batch-size" in text and "TUMEN_RETENTION_DAYS" in text and "daily" in text


def test_the_purge_log_entry_reads_well_in_the_site_history(services):
    make_submission(services[0], received_days_ago=2000, closed_days_ago=1900)
    purge()
    admin = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/reports/site-history/?action=" + LOG_ACTION)
    assert response.status_code == 200
    assert "form_builder.Submission: 1" in response.content.decode()


# -- B. access log -----------------------------------------------------------------------------


def test_viewing_exporting_and_downloading_are_logged_without_personal_data(services):
    service = services[0]
    submission = make_submission(service, received_days_ago=1)
    stored = attach_file(submission)
    moderator, client = member("moderator-a", service.agency, "moderators")

    assert client.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 200
    view = AccessLogEntry.objects.get(action="view")
    assert (view.user, view.agency_id, view.submission_id, view.tracking_codes) == (
        moderator, service.agency_id, submission.pk, [submission.tracking_code],
    )  # fmt: skip

    export = client.get("/admin/submissions/?export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    entry = AccessLogEntry.objects.get(action="export")
    assert entry.count == len(rows) - 1 and submission.tracking_code in entry.tracking_codes and entry.detail == "csv"
    assert client.get("/admin/submissions/?export=xlsx").status_code == 200
    assert AccessLogEntry.objects.filter(action="export", detail="xlsx").count() == 1

    response = client.get(reverse("form_builder_download_file", args=[stored.pk]))
    assert response.status_code == 200
    download = AccessLogEntry.objects.get(action="download")
    assert download.file_id == stored.pk and download.submission_id == submission.pk

    for entry in AccessLogEntry.objects.all():
        text = json.dumps([entry.username, entry.tracking_codes, entry.detail, str(entry)], ensure_ascii=False)
        assert NAME not in text and REGISTER not in text and PHONE not in text


def test_an_outsider_is_refused_and_leaves_no_view_entry(services):
    submission = make_submission(services[0], received_days_ago=1)
    _user, outsider = member("moderator-b", services[1].agency, "moderators")
    assert outsider.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 404
    assert not AccessLogEntry.objects.filter(action="view").exists()


def test_operator_look_ups_are_logged(services):
    service = services[0]
    soum = Soum.objects.order_by("code").first()
    user = User.objects.create_user("soum-operator", password="pw")
    OperatorProfile.objects.create(user=user, soum=soum)
    submission = make_submission(service, source=Source.OPERATOR, office_soum=soum, operator=user)
    client = Client()
    client.force_login(user)

    assert submission.tracking_code in client.get("/operator/").content.decode()
    console = AccessLogEntry.objects.get(action="operator_list", detail="console")
    assert (console.user, console.agency_id, console.tracking_codes, console.count) == (user, service.agency_id, [submission.tracking_code], 1)

    assert client.get("/api/v1/operator/submissions").json()["results"][0]["tracking_code"] == submission.tracking_code
    assert AccessLogEntry.objects.filter(action="operator_list", detail="api", user=user).count() == 1


def test_moderators_read_their_agencys_log_only_and_editors_none(services):
    agency_a, agency_b = services[0].agency, services[1].agency
    _a, moderator_a = member("moderator-a", agency_a, "moderators")
    _b, moderator_b = member("moderator-b", agency_b, "moderators")
    _e, editor_a = member("editor-a", agency_a, "editors")
    mine = make_submission(services[0], received_days_ago=1)
    theirs = make_submission(services[1], received_days_ago=1)
    moderator_a.get(f"/admin/submissions/inspect/{mine.pk}/")
    moderator_b.get(f"/admin/submissions/inspect/{theirs.pk}/")
    entry_a = AccessLogEntry.objects.get(agency=agency_a)
    entry_b = AccessLogEntry.objects.get(agency=agency_b)

    listing = moderator_a.get("/admin/access_log/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert mine.tracking_code in html and theirs.tracking_code not in html
    assert moderator_a.get(f"/admin/access_log/inspect/{entry_a.pk}/").status_code == 200
    assert moderator_a.get(f"/admin/access_log/inspect/{entry_b.pk}/").status_code == 404
    assert moderator_b.get(f"/admin/access_log/inspect/{entry_a.pk}/").status_code == 404
    assert theirs.tracking_code in moderator_b.get("/admin/access_log/").content.decode()

    # Filters: by user, action and date.
    assert mine.tracking_code not in moderator_a.get("/admin/access_log/?username=nobody").content.decode()
    assert mine.tracking_code in moderator_a.get("/admin/access_log/?username=moderator-a&action=view").content.decode()
    assert mine.tracking_code not in moderator_a.get("/admin/access_log/?action=export").content.decode()
    today = timezone.localdate().isoformat()
    assert mine.tracking_code in moderator_a.get(f"/admin/access_log/?at_after={today}").content.decode()

    # An editor has no access to citizens' data, nor to who looked at it.
    for url in ("/admin/access_log/", f"/admin/access_log/inspect/{entry_a.pk}/"):
        response = editor_a.get(url)
        assert response.status_code in (302, 403, 404) and mine.tracking_code not in response.content.decode()


def test_nobody_can_edit_or_delete_access_log_entries(services):
    submission = make_submission(services[0], received_days_ago=1)
    _user, moderator = member("moderator-a", services[0].agency, "moderators")
    moderator.get(f"/admin/submissions/inspect/{submission.pk}/")
    entry = AccessLogEntry.objects.get()
    for name in ("add", "edit", "delete", "history", "usage"):
        with pytest.raises(NoReverseMatch):
            reverse(f"access_log:{name}", args=[entry.pk] if name != "add" else [])
    root = Client()
    root.force_login(User.objects.create_superuser("root", password="pw"))
    for url in ("/admin/access_log/new/", f"/admin/access_log/edit/{entry.pk}/", f"/admin/access_log/delete/{entry.pk}/"):
        assert root.post(url, {"username": "someone else"}).status_code == 404
    entry.username = "someone else"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AccessLogEntry.objects.filter(pk=entry.pk).update(username="someone else")
    with pytest.raises(AppendOnlyError):
        AccessLogEntry.objects.all().delete()
    assert AccessLogEntry.objects.get().username == "moderator-a"


def test_the_purge_keeps_the_access_log(services):
    submission = make_submission(services[0], received_days_ago=2000, closed_days_ago=1900)
    _user, moderator = member("moderator-a", services[0].agency, "moderators")
    moderator.get(f"/admin/submissions/inspect/{submission.pk}/")
    purge()
    entry = AccessLogEntry.objects.get()
    assert entry.submission_id == submission.pk and entry.tracking_codes == [submission.tracking_code]
    html = moderator.get(f"/admin/submissions/inspect/{submission.pk}/").content.decode()
    assert submission.tracking_code in html and NAME not in html and REGISTER not in html


def test_moderators_of_existing_agencies_get_the_permission(services):
    group = Group.objects.filter(name__endswith=" moderators").first() or (sync_agency_groups() and None)
    group = group or Group.objects.filter(name__endswith=" moderators").first()
    assert group.permissions.filter(codename="view_accesslogentry").exists()
    editors = Group.objects.get(name=group.name.replace(" moderators", " editors"))
    assert not editors.permissions.filter(codename="view_accesslogentry").exists()
    assert Agency.objects.exists()


def test_a_later_stages_access_is_logged_under_that_stages_agency(services, private_media):
    first, second = services  # the service's agency (stage 1), and stage 2's
    stage_agencies = [first.agency.code, second.agency.code]
    submission = make_submission(first, received_days_ago=3, stage=2, stage_agencies=stage_agencies)
    stored = attach_file(submission)
    _mta, mta = member("moderator-mta", second.agency, "moderators")
    _mta2, mta_colleague = member("moderator-mta-2", second.agency, "moderators")
    _ubeg, ubeg = member("moderator-ubeg", first.agency, "moderators")

    assert mta.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 200
    assert mta.get(reverse("form_builder_download_file", args=[stored.pk])).status_code == 200
    assert mta.get("/admin/submissions/?export=csv").status_code == 200
    assert ubeg.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 200
    theirs = AccessLogEntry.objects.filter(username="moderator-mta")
    assert {entry.action for entry in theirs} == {"view", "download", "export"}
    assert {entry.agency_id for entry in theirs} == {second.agency_id}
    assert AccessLogEntry.objects.get(username="moderator-ubeg").agency_id == first.agency_id

    # The stage-2 agency's other moderators see who of theirs looked; stage 1's do not.
    listing = mta_colleague.get("/admin/access_log/").content.decode()
    assert "moderator-mta" in listing and "moderator-ubeg" not in listing
    for entry in theirs:
        assert mta_colleague.get(f"/admin/access_log/inspect/{entry.pk}/").status_code == 200
        assert ubeg.get(f"/admin/access_log/inspect/{entry.pk}/").status_code == 404
    assert "moderator-mta" not in ubeg.get("/admin/access_log/").content.decode()
