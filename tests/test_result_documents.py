"""Result documents: an agency attaches the outcome of a multi-stage application through its signed
API (or with its status report); the citizen is told, downloads it from My documents, and anyone
can verify it. Another agency cannot attach to an application it never worked on."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from pypdf import PdfReader

from citizens.identity import Identity
from documents.content import content_from_json
from documents.models import IssuedDocument
from documents.pdf import Stamp, render_document
from form_builder.models import Submission
from plugins import signing
from plugins.models import AgencyCredential
from service_pages.governance import sync_agency_groups
from service_pages.models import Agency, ServicePage
from tests.reference_server import DOCUMENT
from tests.senders import MemorySender
from tests.test_forms import answers, post_api
from tests.test_references import citizen_client

pytestmark = pytest.mark.django_db
CERTIFICATE = {
    "title_mn": "Газар эзэмших эрхийн гэрчилгээ",
    "title_en": "Land possession certificate",
    "rows": [{"label_mn": "Нэгж талбарын дугаар", "label_en": "Parcel number", "value": "1866001234"},
             {"label_mn": "Хэмжээ", "label_en": "Area", "value": "0.07 га"}],
}  # fmt: skip


@pytest.fixture
def application(demo_catalog, settings, tmp_path):
    return two_stage_application(settings, tmp_path)


def two_stage_application(settings, tmp_path):
    """A two-stage application of the demo catalog (agencies A then B) and API keys of A, B and C."""
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.TUMEN_NOTIFY_SENDER = "tests.senders.MemorySender"
    MemorySender.outbox.clear()
    agencies = list(Agency.objects.filter(pages__isnull=False).distinct().order_by("code")[:3])
    service = ServicePage.objects.live().canonical().filter(channel_online=True, agency=agencies[0], instant_reference=False).first()
    service.stages = 2
    service.stage_agencies = f"{agencies[0].code} | {agencies[1].code}"
    service.save()
    code = post_api(Client(), service.code, answers()).json()["tracking_code"]
    keys = {agency.code: AgencyCredential.objects.create(agency=agency) for agency in agencies}
    return Submission.objects.get(tracking_code=code), agencies, keys


def signed_post(path_code, body: bytes, credential, endpoint="documents", **headers):
    timestamp = str(int(time.time()))
    return Client().post(
        f"/api/v1/submissions/{path_code}/{endpoint}", body, content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp,
        HTTP_X_TUMEN_SIGNATURE=signing.signature(credential.secret, timestamp, [path_code], body), **headers,
    )  # fmt: skip


HOLDER = Identity(subject="applicant", register_number="УБ99010112", last_name="Бат", first_name="Дорж")


def test_an_agency_attaches_a_result_document_the_citizen_downloads(application, django_capture_on_commit_callbacks):
    submission, agencies, keys = application
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(submission.tracking_code, json.dumps(CERTIFICATE).encode(), keys[agencies[0].code])
    assert response.status_code == 201, response.content
    data = response.json()
    document = IssuedDocument.objects.get()
    assert data["verification_code"] == document.verification_code and data["sha256"] == document.sha256
    assert document.kind == "result" and document.submission == submission and document.holder_register_number == "УБ99010112"
    assert document.agency == agencies[0]
    # The citizen is told by SMS, finds it in My documents and downloads it.
    assert any("document is ready" in text for _phone, text in MemorySender.outbox)
    client = citizen_client(HOLDER)
    pdf = client.get(f"/my/documents/{document.verification_code}.pdf")
    assert pdf.status_code == 200
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(b"".join(pdf.streaming_content))).pages).split())
    assert "Газар эзэмших эрхийн гэрчилгээ" in text and "1866001234" in text
    # My applications shows it on the application's own page (the documents app's hook section).
    page = client.get(f"/my/{submission.tracking_code}/").content.decode()
    assert document.verification_code in page and f"/my/documents/{document.verification_code}.pdf" in page
    # Anyone can verify it.
    assert Client().get(f"/api/v1/documents/{document.verification_code}/verify").json()["kind"] == "result"


def test_a_retried_upload_issues_the_document_once(application):
    submission, agencies, keys = application
    body = json.dumps(CERTIFICATE).encode()
    first = signed_post(submission.tracking_code, body, keys[agencies[0].code])
    second = signed_post(submission.tracking_code, body, keys[agencies[0].code])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["verification_code"] == second.json()["verification_code"]
    keyed = signed_post(submission.tracking_code, body, keys[agencies[0].code], HTTP_IDEMPOTENCY_KEY="decision-7")
    again = signed_post(submission.tracking_code, json.dumps({**CERTIFICATE, "title_en": "x"}).encode(), keys[agencies[0].code],
                        HTTP_IDEMPOTENCY_KEY="decision-7")  # fmt: skip
    assert keyed.json()["verification_code"] == again.json()["verification_code"]
    assert IssuedDocument.objects.count() == 2


def test_an_agencys_own_pdf_gets_a_verification_page(application):
    submission, agencies, keys = application
    stamp = Stamp("Агентлаг", "", "x", "Бат Дорж", "УБ99010112", "2025-01-01", "AAAA-BBBB-CCCC", "https://x/verify/AAAA-BBBB-CCCC/")
    agency_pdf = render_document(content_from_json(DOCUMENT), stamp)  # any real PDF of one page
    body = json.dumps({"title_mn": "Шийдвэр", "title_en": "Decision", "pdf_base64": base64.b64encode(agency_pdf).decode()}).encode()
    response = signed_post(submission.tracking_code, body, keys[agencies[0].code])
    assert response.status_code == 201
    document = IssuedDocument.objects.get()
    pages = PdfReader(io.BytesIO(document.file.open("rb").read())).pages
    assert len(pages) == 2
    assert document.verification_code in pages[1].extract_text() and "Шийдвэр" in pages[1].extract_text()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"title_mn": "x", "rows": []}).encode(), json.dumps({"title_mn": "x", "pdf_base64": "!!"}).encode(),
     json.dumps({"title_mn": "x", "pdf_base64": base64.b64encode(b"%PDF-1.4 garbage").decode()}).encode(),
     json.dumps({"title_mn": "x", "pdf_base64": base64.b64encode(b"hello").decode()}).encode()],
)  # fmt: skip
def test_a_document_that_cannot_be_issued_is_a_clear_400(application, body):
    submission, agencies, keys = application
    response = signed_post(submission.tracking_code, body, keys[agencies[0].code], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["error"]["message"]["en"]
    assert not IssuedDocument.objects.exists()


def test_another_agency_cannot_attach_to_an_application(application):
    submission, agencies, keys = application
    body = json.dumps(CERTIFICATE).encode()
    # Stage 2's agency has not been reached yet; the third agency never will be.
    assert signed_post(submission.tracking_code, body, keys[agencies[1].code]).status_code == 404
    assert signed_post(submission.tracking_code, body, keys[agencies[2].code]).status_code == 404
    assert signed_post("TMN-0000-0000", body, keys[agencies[0].code]).status_code == 404
    unsigned = Client().post(f"/api/v1/submissions/{submission.tracking_code}/documents", body, content_type="application/json")
    assert unsigned.status_code == 401
    assert not IssuedDocument.objects.exists()


def test_a_status_report_may_carry_the_result_document(application):
    submission, agencies, keys = application
    report = {"status": "in_progress", "message": "", "document": CERTIFICATE}
    response = signed_post(submission.tracking_code, json.dumps(report).encode(), keys[agencies[0].code], endpoint="status")
    assert response.status_code == 200, response.content
    assert response.json()["document"]["verification_code"] == IssuedDocument.objects.get().verification_code
    bad = signed_post(submission.tracking_code, json.dumps({**report, "document": {"rows": 3}}).encode(), keys[agencies[0].code],
                      endpoint="status")  # fmt: skip
    assert bad.status_code == 400 and IssuedDocument.objects.count() == 1


def test_the_agencys_moderators_download_its_result_documents_and_nobody_else(application):
    submission, agencies, keys = application
    signed_post(submission.tracking_code, json.dumps(CERTIFICATE).encode(), keys[agencies[0].code])
    url = f"/my/documents/{IssuedDocument.objects.get().verification_code}.pdf"
    sync_agency_groups()

    def staff(name, group):
        user = User.objects.create_user(name)
        user.groups.add(Group.objects.get(name=group))
        client = Client()
        client.force_login(user)
        return client

    assert staff("mod-a", f"{agencies[0].code} moderators").get(url).status_code == 200
    assert staff("editor-a", f"{agencies[0].code} editors").get(url).status_code == 404  # editors never see personal data
    assert staff("mod-c", f"{agencies[2].code} moderators").get(url).status_code == 404
    other = Identity(subject="x", register_number="ЧБ88051234", last_name="Дорж", first_name="Сараа")
    assert citizen_client(other).get(url).status_code == 404
    assert Client().get(url).status_code == 404
