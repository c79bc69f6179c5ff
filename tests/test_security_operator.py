"""Issue #13, operator mode and drafts: consent that proves something, codes that cannot be
sprayed, supervisors' queues, resume codes out of URLs, shared PCs, deleted services' files and
staff notes kept from the public tracking page."""

import datetime
import json
import re
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone, translation

from form_builder.models import Draft, OperatorProfile, StoredFile, Submission
from form_builder.submissions import purge_expired_drafts
from plugins import signing
from plugins.models import AgencyCredential
from service_pages.models import ServicePage
from tests.senders import MemorySender
from tests.test_forms import PDF, STEP1, place_post, step_post, upload
from tests.test_operators import CITIZEN, apply_for_citizen, operator, soums

pytestmark = pytest.mark.django_db

IN_PERSON = {
    "in_person_reason": "no_phone",
    "id_document_type": "national_id",
    "id_document_number": "ID 0456789",
    "in_person_checked": "on",
}


@pytest.fixture(autouse=True)
def memory_sms(settings, tmp_path):
    settings.TUMEN_CONSENT_SENDER = "tests.senders.MemorySender"
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    MemorySender.outbox.clear()


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).order_by("code").first()


def review(client, service, data):
    return client.post(f"/apply/{service.code}/review/", data)


def send_code(client, service, **extra):
    return review(client, service, {"action": "send_code", **extra})


def last_code():
    return re.search(r"\b(\d{6})\b", MemorySender.outbox[-1][1]).group(1)


def in_mongolian(text):
    with translation.override("mn"):
        return translation.gettext(text)


# -- 9. in-person consent is a structured record ---------------------------------------------------


def test_in_person_consent_needs_a_listed_reason_and_the_checked_identity_document(service):
    soum, _same, _other = soums()
    user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    for posted in (
        {"in_person_reason": "ok ok"},  # the old free text: no longer a reason
        {**IN_PERSON, "id_document_number": ""},
        {**IN_PERSON, "id_document_number": "ok"},
        {**IN_PERSON, "id_document_type": "library_card"},
        {k: v for k, v in IN_PERSON.items() if k != "in_person_checked"},
        {**IN_PERSON, "in_person_reason": "other", "in_person_note": "ok ok"},
    ):
        response = review(client, service, {"action": "submit", **posted})
        assert response.status_code == 400, posted
        assert response.context["consent_message"], posted
    assert Submission.objects.count() == 0
    response = review(client, service, {"action": "submit", **IN_PERSON, "in_person_note": "Утас нь эвдэрсэн, шинэ утас авна"})
    assert response.status_code == 302
    consent = Submission.objects.get().consent
    assert consent["method"] == "in_person" and consent["reason"] == "no_phone" and consent["recorded_by"] == "op-a"
    assert consent["document"] == {"type": "national_id", "number": "ID0456789"}
    assert consent["note"] == "Утас нь эвдэрсэн, шинэ утас авна"


def test_other_reason_needs_an_explanation_of_substance(service):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    explained = {**IN_PERSON, "in_person_reason": "other", "in_person_note": "Иргэн SMS уншиж чадахгүй, хараа муу"}
    assert review(client, service, {"action": "submit", **explained}).status_code == 302
    assert Submission.objects.get().consent["reason"] == "other"


# -- 9. "Send code" is limited; codes expire and die after wrong tries ------------------------------


def test_send_code_is_limited_per_draft_with_a_translated_429(service):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    for _ in range(3):
        assert send_code(client, service).status_code == 302
    refused = send_code(client, service)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert in_mongolian("Too many codes were sent for this application. Try again in %(minutes)s minutes.").split("%")[0] in (
        refused.content.decode()
    )
    assert len(MemorySender.outbox) == 3


def test_send_code_is_limited_per_phone_number_and_per_operator_per_day(service, settings):
    soum, same_aimag, _other = soums()
    _user, first = operator("op-a", soum=soum)
    _user, second = operator("op-b", soum=same_aimag)
    apply_for_citizen(first, service, soum)
    apply_for_citizen(second, service, soum)
    for client in (first, first, second):
        assert send_code(client, service).status_code == 302
    assert send_code(second, service).status_code == 429, "a fourth code to the same number within 15 minutes"
    assert len(MemorySender.outbox) == 3

    settings.TUMEN_CONSENT_CODES_PER_OPERATOR = "2/d"
    _user, third = operator("op-c", soum=soum)
    for number in ("88110001", "88110002", "88110003"):
        third.post(f"/operator/apply/{service.code}/", {**CITIZEN, "phone": number})
        last = send_code(third, service)
    assert last.status_code == 429 and len(MemorySender.outbox) == 5, last.context["consent_message"]


def test_a_code_dies_after_five_wrong_tries_and_expires(service):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    send_code(client, service)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert review(client, service, {"action": "submit", "consent_code": wrong}).status_code == 400
    refused = review(client, service, {"action": "submit", "consent_code": code})
    assert refused.status_code == 400 and Submission.objects.count() == 0, "the right code after 5 wrong ones is void"

    send_code(client, service)
    draft = Draft.objects.get()
    draft.consent = {**draft.consent, "expires": (timezone.now() - datetime.timedelta(seconds=1)).isoformat()}
    draft.save()
    assert review(client, service, {"action": "submit", "consent_code": last_code()}).status_code == 400
    assert Submission.objects.count() == 0


# -- 9. the number the code goes to -----------------------------------------------------------------


def test_the_code_is_bound_to_the_number_it_was_sent_to_which_is_shown_masked(service):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    send_code(client, service)
    page = client.get(f"/apply/{service.code}/review/").content.decode()
    consent_section = page[page.index('id="consent-heading"') :]
    assert "•••• ••33" in consent_section and "88112233" not in consent_section
    code = last_code()
    # The phone answer is changed after the code went out: the code no longer proves anything.
    step_post(client, service, 1, {**CITIZEN, "register_number": "ЧБ88051234", "phone": "99119911", **place_post(soum.aimag.code, soum.code), "action": "next"})
    changed = review(client, service, {"action": "submit", "consent_code": code})
    assert changed.status_code == 400 and Submission.objects.count() == 0
    send_code(client, service)
    assert MemorySender.outbox[-1][0] == "+97699119911"
    assert review(client, service, {"action": "submit", "consent_code": last_code()}).status_code == 302
    consent = Submission.objects.get().consent
    assert consent["method"] == "sms_code" and consent["phone"] == "+97699119911"


def test_the_answers_must_name_the_citizen_the_operator_identified(service):
    """An operator identifies one citizen, then puts another person's register number in the
    answers: neither a code nor an in-person record may confirm it for that other person."""
    soum, _same, _other = soums()
    _user, client = operator("op-id", soum=soum)
    apply_for_citizen(client, service, soum)
    other_person = {**CITIZEN, "register_number": "УБ99010112", **place_post(soum.aimag.code, soum.code), "action": "next"}
    step_post(client, service, 1, other_person)
    refused = send_code(client, service)
    assert refused.status_code == 400 and MemorySender.outbox == []
    assert "not the one of the citizen you identified" in refused.content.decode() or in_mongolian(
        "The register number in the answers is not the one of the citizen you identified. Correct the answers, or "
        "start a new application for that citizen."
    ) in refused.content.decode()
    assert review(client, service, {"action": "submit", **IN_PERSON}).status_code == 400
    assert Submission.objects.count() == 0
    # Back to the identified citizen: the in-person record is accepted again.
    step_post(client, service, 1, {**other_person, "register_number": "ЧБ88051234"})
    assert review(client, service, {"action": "submit", **IN_PERSON}).status_code == 302
    assert Submission.objects.get().applicant_register_number == "ЧБ88051234"


def test_a_number_that_confirmed_before_is_preferred_and_a_new_one_must_be_chosen(service):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    apply_for_citizen(client, service, soum)
    send_code(client, service)
    review(client, service, {"action": "submit", "consent_code": last_code()})
    assert Submission.objects.get().consent["phone"] == "+97688112233"

    client.post(f"/operator/apply/{service.code}/", {**CITIZEN, "phone": "99004455"})
    step_post(client, service, 1, {**CITIZEN, "register_number": "ЧБ88051234", "phone": "99004455", **place_post(soum.aimag.code, soum.code), "action": "next"})
    step_post(client, service, 2, {"request": "Дахин", "consent": "on", "action": "next"})
    draft = Draft.objects.get()
    page = client.get(f"/apply/{service.code}/review/").content.decode()
    assert 'name="code_to"' in page and "•••• ••33" in page and "99004455" not in page[page.index('id="consent-heading"') :]
    unchosen = send_code(client, service)
    assert unchosen.status_code == 400 and len(MemorySender.outbox) == 1
    send_code(client, service, code_to="earlier")
    assert MemorySender.outbox[-1][0] == "+97688112233", "the number that confirmed before"
    send_code(client, service, code_to="given")
    assert MemorySender.outbox[-1][0] == "+97699004455"
    draft.refresh_from_db()
    assert review(client, service, {"action": "submit", "consent_code": last_code()}).status_code == 302
    consent = Submission.objects.order_by("-submitted_at").first().consent
    assert consent["phone"] == "+97699004455" and consent["earlier_phone"] == "+976 •••• ••33" and consent["new_number"] is True


# -- a. an aimag supervisor's own applications ------------------------------------------------------


def test_a_supervisors_applications_land_in_the_aimags_queue(service):
    soum, _same, other = soums()
    _user, supervisor = operator("sup", aimag=soum.aimag, role="supervisor")
    apply_for_citizen(supervisor, service, soum)
    assert review(supervisor, service, {"action": "submit", **IN_PERSON}).status_code == 302
    submission = Submission.objects.get()
    assert submission.office_aimag == soum.aimag
    assert submission.tracking_code in supervisor.get("/operator/").content.decode()
    assert [r["tracking_code"] for r in supervisor.get("/api/v1/operator/submissions").json()["results"]] == [submission.tracking_code]
    _user, other_supervisor = operator("sup2", aimag=other.aimag, role="supervisor")
    assert submission.tracking_code not in other_supervisor.get("/operator/").content.decode()
    _user, soum_office = operator("op-a", soum=soum)
    assert submission.tracking_code not in soum_office.get("/operator/").content.decode()


# -- b. resume codes stay out of URLs ---------------------------------------------------------------


def test_resume_codes_never_travel_in_a_url(client, service):
    response = step_post(client, service, 1, {**STEP1, **place_post(), "action": "save"})
    page = client.get(response.url)
    resume_code = page.context["resume_code"]
    compact = resume_code.replace("-", "")
    links = re.findall(r'(?:href|action)="([^"]*)"', page.content.decode())
    assert not [link for link in links if resume_code in link or compact in link]
    # An old link still opens a form that posts the code, without using it up or echoing it in a URL.
    old = Client().get(f"/resume/{resume_code}/")
    assert old.status_code == 200 and Draft.objects.get().resume_token_hash
    assert old["Referrer-Policy"] == "same-origin" and "no-store" in old["Cache-Control"]
    assert re.search(r'<form method="post" action="/resume/"', old.content.decode())
    other = Client()
    refused = other.post("/resume/", {"code": "AAAA-BBBB-CCCC"})
    assert refused.status_code == 400 and resume_code not in refused.get("Location", "")
    response = other.post("/resume/", {"code": resume_code})
    assert response.status_code == 302 and compact not in response.url and resume_code not in response.url


# -- c. a shared PC ---------------------------------------------------------------------------------


def test_after_submitting_the_next_person_sees_neither_answers_nor_the_receipt(client, service, settings):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "Миний хүсэлт", "consent": "on", "action": "next"})
    response = client.post(f"/apply/{service.code}/review/")
    receipt_url = response.url
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200 and "no-store" in receipt["Cache-Control"]
    # The next person starts an application in the same browser: the receipt is gone.
    step = client.get(f"/apply/{service.code}/step/1/")
    assert "Дорж" not in step.content.decode() and "no-store" in step["Cache-Control"]
    step_post(client, service, 1, {**STEP1, "last_name": "Өөр", **place_post(), "action": "next"})
    assert client.get(receipt_url).status_code == 404


def test_a_receipt_expires_in_the_browser_that_submitted(client, service, settings):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "Миний хүсэлт", "consent": "on", "action": "next"})
    receipt_url = client.post(f"/apply/{service.code}/review/").url
    assert client.get(receipt_url).status_code == 200
    settings.TUMEN_RECEIPT_MINUTES = 0
    assert client.get(receipt_url).status_code == 404


def test_start_again_and_an_idle_browser_forget_the_draft(client, service, settings, django_capture_on_commit_callbacks):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "action": "save"}, attachment=upload("a.pdf", PDF))
    file_path = Path(StoredFile.objects.get().file.path)
    assert "Дорж" in client.get(f"/apply/{service.code}/step/1/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/apply/{service.code}/start-again/")
    assert response.status_code == 302 and response.url.endswith("/step/1/")
    assert "Дорж" not in client.get(response.url).content.decode()
    assert Draft.objects.count() == 0 and StoredFile.objects.count() == 0 and not file_path.exists()
    assert Client().post(f"/apply/{service.code}/start-again/").status_code == 302, "nothing to forget: harmless"

    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    Draft.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=settings.TUMEN_DRAFT_IDLE_MINUTES + 1))
    assert "Дорж" not in client.get(f"/apply/{service.code}/step/1/").content.decode(), "an idle browser forgets"


def test_a_disk_error_while_removing_draft_files_is_not_a_500(client, service, monkeypatch, django_capture_on_commit_callbacks):
    """The files go after the commit; a failure there is logged and the orphan purged later."""
    from django.core.files.storage import FileSystemStorage

    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "action": "save"}, attachment=upload("a.pdf", PDF))

    def disk_error(self, name):
        raise OSError("read-only file system")

    monkeypatch.setattr(FileSystemStorage, "delete", disk_error)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/apply/{service.code}/start-again/")
    assert response.status_code == 302
    assert Draft.objects.count() == 0


# -- d. deleted services and expired drafts leave no files -------------------------------------------


def test_deleting_a_service_deletes_its_drafts_and_their_files(client, service, django_capture_on_commit_callbacks):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "action": "save"}, attachment=upload("a.pdf", PDF))
    file_path = Path(StoredFile.objects.get().file.path)
    assert file_path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        ServicePage.objects.get(pk=service.pk).delete()
    assert Draft.objects.count() == 0 and StoredFile.objects.count() == 0 and not file_path.exists()


def test_purging_removes_files_orphaned_by_a_deleted_draft(client, service):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "action": "save"}, attachment=upload("a.pdf", PDF))
    stored = StoredFile.objects.get()
    StoredFile.objects.filter(pk=stored.pk).update(draft=None, created_at=timezone.now() - datetime.timedelta(days=2))
    Draft.objects.all().delete()
    purge_expired_drafts()
    assert StoredFile.objects.count() == 0 and not Path(stored.file.path).exists()


# -- e. staff notes stay with staff -----------------------------------------------------------------


def callback(code, body, credential):
    timestamp = str(int(time.time()))
    raw = json.dumps(body).encode()
    return Client().post(
        f"/api/v1/submissions/{code}/status", raw, content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp,
        HTTP_X_TUMEN_SIGNATURE=signing.signature(credential.secret, timestamp, [code], raw),
    )  # fmt: skip


def test_a_staff_note_on_a_rejection_is_never_shown_publicly(client, service):
    from tests.test_forms import answers, post_api

    key = AgencyCredential.objects.create(agency=service.agency)
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    response = callback(code, {"status": "rejected", "message": "Дотоод: хуурамч баримт гэж сэжиглэж байна"}, key)
    assert response.status_code == 200
    page = client.get(f"/track/{code}/").content.decode()
    assert "хуурамч" not in page
    assert in_mongolian("The agency rejected the application. Contact the agency to learn why.") in page
    api = json.dumps(client.get(f"/api/v1/submissions/{code}").json(), ensure_ascii=False)
    assert "хуурамч" not in api
    event = Submission.objects.get(tracking_code=code).events.get(status="rejected")
    assert event.message.startswith("Дотоод") and event.public_message == ""


def test_the_callback_takes_a_separate_message_for_the_citizen(client, service):
    from tests.test_forms import answers, post_api

    key = AgencyCredential.objects.create(agency=service.agency)
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    body = {"status": "rejected", "message": "Дотоод тэмдэглэл", "public_message": "Газрын зураг дутуу байна"}
    assert callback(code, body, key).status_code == 200
    page = client.get(f"/track/{code}/").content.decode()
    assert "Газрын зураг дутуу байна" in page and "Дотоод тэмдэглэл" not in page
    assert callback(code, {"status": "rejected", "public_message": 5}, key).status_code in (400, 409)


def test_an_operator_of_another_office_cannot_see_a_supervisors_application(service):
    soum, _same, other = soums()
    _user, supervisor = operator("sup", aimag=soum.aimag, role="supervisor")
    apply_for_citizen(supervisor, service, soum)
    review(supervisor, service, {"action": "submit", **IN_PERSON})
    code = Submission.objects.get().tracking_code
    _user, elsewhere = operator("op-x", soum=other)
    assert code not in json.dumps(elsewhere.get("/api/v1/operator/submissions").json())
    assert OperatorProfile.objects.get(user__username="sup").submissions().count() == 1
    assert User.objects.filter(username="op-x").exists()
