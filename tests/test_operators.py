"""Operator mode: a soum operator applies for a citizen, the citizen confirms, both identities are
kept and delivered, and each office (or aimag supervisor) sees only its own applications."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from form_builder.models import OperatorProfile, Submission
from plugins.models import PluginConfig
from service_pages.models import ServicePage, Soum
from tests.agency import AgencyServer
from tests.deliveries import attempt
from tests.senders import MemorySender

pytestmark = pytest.mark.django_db
CITIZEN = {"register_number": "чб88051234", "last_name": "Дорж", "first_name": "Сараа", "phone": "8811 2233"}
# An in-person confirmation: a listed reason and the identity document the operator checked.
IN_PERSON = {"in_person_reason": "no_phone", "id_document_type": "national_id", "id_document_number": "0456789", "in_person_checked": "on"}


@pytest.fixture(autouse=True)
def memory_sms(settings, tmp_path):
    settings.TUMEN_CONSENT_SENDER = "tests.senders.MemorySender"
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    MemorySender.outbox.clear()


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).order_by("code").first()


def operator(username, soum=None, aimag=None, role="operator"):
    user = User.objects.create_user(username, password="pw", first_name="Оператор")
    OperatorProfile.objects.create(user=user, role=role, soum=soum, aimag=aimag, office_name=f"{username} office")
    client = Client()
    client.force_login(user)
    return user, client


def soums():
    first = Soum.objects.select_related("aimag").order_by("code").first()
    same_aimag = Soum.objects.filter(aimag=first.aimag).exclude(pk=first.pk).first()
    other_aimag = Soum.objects.exclude(aimag=first.aimag).first()
    return first, same_aimag, other_aimag


def apply_for_citizen(client, service, soum):
    response = client.post(f"/operator/apply/{service.code}/", CITIZEN)
    assert response.status_code == 302 and response.url.endswith("/step/1/"), getattr(response, "content", b"")[:500]
    step1 = client.get(response.url).content.decode()
    assert "ЧБ88051234" in step1 and "Сараа" in step1, "the citizen's identity is filled in"
    response = client.post(
        f"/apply/{service.code}/step/1/",
        {**CITIZEN, "register_number": "ЧБ88051234", "address_0": soum.aimag.code, "address_1": soum.code, "address_2": "", "action": "next"},
    )
    assert response.url.endswith("/step/2/")
    response = client.post(f"/apply/{service.code}/step/2/", {"request": "Иргэний өмнөөс", "consent": "on", "action": "next"})
    assert response.url.endswith("/review/")


def test_operator_applies_for_a_citizen_who_confirms_with_a_code(service, demo_catalog):
    soum, _same, _other = soums()
    user, client = operator("op-a", soum=soum)
    search = client.get("/operator/search/", {"q": service.title.split()[0]}).content.decode()
    assert f"/operator/apply/{service.code}/" in search
    apply_for_citizen(client, service, soum)

    refused = client.post(f"/apply/{service.code}/review/", {"action": "submit"})
    assert refused.status_code == 400 and Submission.objects.count() == 0, "no submission without the citizen's confirmation"
    client.post(f"/apply/{service.code}/review/", {"action": "send_code"})
    [(phone, text)] = MemorySender.outbox
    assert phone == "+97688112233"
    code = re.search(r"\b(\d{6})\b", text).group(1)
    wrong = client.post(f"/apply/{service.code}/review/", {"action": "submit", "consent_code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    response = client.post(f"/apply/{service.code}/review/", {"action": "submit", "consent_code": code})
    assert response.status_code == 302 and "/receipt/" in response.url
    submission = Submission.objects.get()
    assert submission.source == "operator" and submission.operator == user and submission.office_soum == soum
    assert submission.citizen["register_number"] == "ЧБ88051234" and submission.citizen["name"] == "Дорж Сараа"
    assert submission.applicant_register_number == "ЧБ88051234"
    assert submission.consent["method"] == "sms_code" and submission.consent["phone"] == "+97688112233"
    receipt = client.get(response.url).content.decode()
    assert submission.tracking_code in receipt and "Дорж Сараа" in receipt


def test_in_person_confirmation_is_recorded_and_delivered_with_both_identities(service, demo_catalog):
    soum, _same, _other = soums()
    user, client = operator("op-b", soum=soum)
    server = AgencyServer()
    try:
        PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": server.url, "secret": "x" * 20})
        apply_for_citizen(client, service, soum)
        short = client.post(f"/apply/{service.code}/review/", {"action": "submit", "in_person_reason": "ok"})
        assert short.status_code == 400
        client.post(f"/apply/{service.code}/review/", {"action": "submit", **IN_PERSON})
        submission = Submission.objects.get()
        assert submission.consent["method"] == "in_person" and submission.consent["recorded_by"] == "op-b"
        assert attempt(submission.deliveries.get().pk) == "delivered"
        metadata = server.received[0].json()["metadata"]
        assert metadata["operator"]["username"] == "op-b" and metadata["operator"]["office_soum"] == soum.code
        assert metadata["citizen"] == {"register_number": "ЧБ88051234", "name": "Дорж Сараа", "phone": "+97688112233"}
        assert metadata["consent"]["method"] == "in_person"
    finally:
        server.stop()


def test_offices_see_only_their_own_applications(service, demo_catalog):
    soum, same_aimag, other_aimag = soums()
    _user, office_a = operator("op-a", soum=soum)
    apply_for_citizen(office_a, service, soum)
    office_a.post(f"/apply/{service.code}/review/", {"action": "submit", **IN_PERSON})
    code = Submission.objects.get().tracking_code

    console = office_a.get("/operator/").content.decode()
    assert code in console
    assert f'<tr data-service="{service.code}"><th scope="row">{service.title}</th><td class="count">1</td>' in console
    _user, office_b = operator("op-b", soum=same_aimag)
    assert code not in office_b.get("/operator/").content.decode()
    _user, supervisor = operator("sup", aimag=soum.aimag, role="supervisor")
    assert code in supervisor.get("/operator/").content.decode()
    _user, other_supervisor = operator("sup2", aimag=other_aimag.aimag, role="supervisor")
    assert code not in other_supervisor.get("/operator/").content.decode()
    # The same scoping through the API.
    assert [r["tracking_code"] for r in office_a.get("/api/v1/operator/submissions").json()["results"]] == [code]
    assert office_b.get("/api/v1/operator/submissions").json()["results"] == []
    assert [r["tracking_code"] for r in supervisor.get("/api/v1/operator/submissions").json()["results"]] == [code]
    assert other_supervisor.get("/api/v1/operator/submissions").json()["results"] == []
    assert Client().get("/api/v1/operator/submissions").status_code == 401
    citizen_browser = Client()
    citizen_browser.force_login(User.objects.create_user("citizen"))
    assert citizen_browser.get("/operator/").status_code == 403
    assert citizen_browser.get("/api/v1/operator/submissions").status_code == 403
    assert Client().get("/operator/").status_code == 302, "anonymous users are sent to log in"


def test_an_operator_cannot_submit_another_operators_draft(service, demo_catalog):
    soum, same_aimag, _other = soums()
    _user, office_a = operator("op-a", soum=soum)
    apply_for_citizen(office_a, service, soum)
    _user, office_b = operator("op-b", soum=same_aimag)
    session = office_b.session
    session["tumen_drafts"] = office_a.session["tumen_drafts"]
    session.save()
    assert office_b.post(f"/apply/{service.code}/review/", {"action": "submit", **IN_PERSON}).status_code == 403
    assert Submission.objects.count() == 0


def test_the_citizen_identity_is_validated(service, demo_catalog):
    soum, _same, _other = soums()
    _user, client = operator("op-a", soum=soum)
    response = client.post(f"/operator/apply/{service.code}/", {**CITIZEN, "register_number": "XX", "phone": "12"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"register_number", "phone"}
