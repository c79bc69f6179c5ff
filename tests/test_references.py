"""Instant references (лавлагаа): the citizen's and the operator's flow, the PDF anyone can verify,
who may download it, and an agency reference source that is slow, failing or talking nonsense.

The agency is a real HTTP server on loopback (``tests/reference_server.py``) speaking signed JSON.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
from django.contrib.auth.models import Group, User
from django.test import Client
from pypdf import PdfReader

from citizens.identity import Identity, remember
from documents.access import documents_of
from documents.models import IssuedDocument, normalize_verification_code
from form_builder.models import OperatorProfile
from plugins.models import PluginConfig
from service_pages.models import ServicePage, Soum
from tests.reference_server import DOCUMENT, SECRET, ReferenceServer

pytestmark = pytest.mark.django_db
IN_CI = os.environ.get("CI", "").lower() == "true"
CITIZEN = Identity(subject="sub-1", register_number="ЧБ88051234", last_name="Дорж", first_name="Сараа", phone="+97688112233")
OTHER = Identity(subject="sub-2", register_number="УБ90010112", last_name="Бат", first_name="Өлзий")
REFERENCE = "DEMO-00008"  # Оршин суугаа хаягийн лавлагаа (ubeg), marked from its xyp_code and title


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.TUMEN_PUBLIC_URL = "https://tumen.example.mn"
    settings.TUMEN_REFERENCE_TIMEOUT = 1.5
    return settings.TUMEN_PRIVATE_MEDIA_ROOT


@pytest.fixture
def agency_source():
    server = ReferenceServer()
    yield server
    server.stop()


@pytest.fixture
def service(demo_catalog, agency_source):
    page = ServicePage.objects.by_code(REFERENCE)
    PluginConfig.objects.create(plugin_id="reference_json", agency=page.agency, options={"url": agency_source.url, "secret": SECRET})
    return page


def citizen_client(identity=CITIZEN) -> Client:
    """A signed-in citizen, as the real sign-in (OpenID Connect, tests/test_signin.py) leaves one:
    a logged-in user and the verified identity in the session."""
    user, _created = User.objects.get_or_create(username=f"citizen-{identity.subject}")
    client = Client()
    client.force_login(user)
    request = type("Request", (), {"session": client.session})()
    remember(request, identity)
    request.session.save()
    return client


def operator_client(username, soum_code="6504"):
    user = User.objects.create_user(username, password="pw", first_name="Оператор", last_name="Дулмаа")
    OperatorProfile.objects.create(user=user, soum=Soum.objects.get(code=soum_code), office_name=f"{username} office")
    client = Client()
    client.force_login(user)
    return user, client


def get_reference(client, code=REFERENCE, token="token-0123456789abcdef"):
    return client.post(f"/references/{code}/", {"request_token": token})


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.pdf")] if root.exists() else []


def pdf_text(data: bytes) -> str:
    """The text of every page, with line breaks and runs of spaces as one space (lines wrap)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


# -- the catalog -------------------------------------------------------------------------------------


def test_the_demo_catalog_marks_its_references_from_the_data(demo_catalog):
    references = ServicePage.objects.canonical().filter(instant_reference=True)
    codes = set(references.values_list("code", flat=True))
    assert {"DEMO-00008", "DEMO-00011", "DEMO-00016", "DEMO-00029"} <= codes
    assert all(page.xyp_code and "лавлагаа" in page.title.lower() and page.stages == 1 for page in references)
    # A livestock reference counted by the soum has no ХУР operation: citizens apply for it.
    assert not ServicePage.objects.get(code="DEMO-00034", locale__language_code="mn").instant_reference


def test_the_national_catalog_rule_finds_its_115_references():
    from service_pages.catalog import is_instant_reference, read_csv

    path = Path(__file__).resolve().parents[2] / "shared" / "catalog" / "services.csv"
    if not path.exists():
        pytest.skip("the shared national catalog is not beside the repository")
    rows = read_csv(path)
    marked = [row for row in rows if is_instant_reference(row["title_mn"], row["xyp_code"], int(row["stages"] or 1))]
    assert len(marked) == 115
    assert len({row["agency_code"] for row in marked}) == 32
    assert all("Лавлагааг ХУР системээс шууд гаргана" in row["description_mn"] for row in marked)


def test_the_service_page_offers_the_reference_instead_of_an_application(service):
    response = Client().get(service.url)
    assert response.status_code == 200
    assert f'href="/references/{REFERENCE}/"' in response.content.decode()
    assert f"/apply/{REFERENCE}/" not in response.content.decode()


# -- the citizen's flow ------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in_first(service, agency_source):
    response = Client().get(f"/references/{REFERENCE}/")
    assert response.status_code == 302
    assert "next=%2Freferences%2FDEMO-00008%2F" in response["Location"]
    response = Client().post(f"/references/{REFERENCE}/", {"request_token": "x" * 20})
    assert response.status_code == 302 and not IssuedDocument.objects.exists()
    assert agency_source.received == []


def test_a_signed_in_citizen_gets_the_reference_as_a_verifiable_pdf(service, agency_source, private_media):
    client = citizen_client()
    page = client.get(f"/references/{REFERENCE}/")
    assert page.status_code == 200 and "Дорж Сараа" in page.content.decode()
    response = get_reference(client)
    assert response.status_code == 302
    document = IssuedDocument.objects.get()
    assert response["Location"] == f"/references/{REFERENCE}/issued/{document.verification_code}/"
    # The agency was asked, signed, about this citizen and this service's ХУР operation.
    [received] = agency_source.received
    assert received.signature_ok
    assert received.json()["register_number"] == "ЧБ88051234" and received.json()["xyp_code"] == service.xyp_code
    assert document.kind == "reference" and document.holder_register_number == "ЧБ88051234"
    assert document.agency == service.agency and document.operator is None
    issued = client.get(response["Location"])
    assert issued.status_code == 200 and document.verification_code in issued.content.decode()
    pdf = client.get(f"/my/documents/{document.verification_code}.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "no-store" in pdf["Cache-Control"]
    data = b"".join(pdf.streaming_content)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == document.sha256
    text = pdf_text(data)
    assert "Оршин суугаа хаягийн лавлагаа" in text  # the exact Mongolian title, ө and ү included
    assert "Өлзийт гудамж 12" in text and "Сүхбаатар дүүрэг" in text
    assert "Дорж Сараа" in text and "ЧБ88051234" in text
    assert document.verification_code in text
    assert f"https://tumen.example.mn/verify/{document.verification_code}/" in text
    # The file is in private storage, where no URL serves it.
    assert len(stored_files(private_media)) == 1
    assert Client().get(f"/media/{document.file.name}").status_code == 404


def test_the_qr_code_holds_the_verify_url(service, tmp_path):
    client = citizen_client()
    get_reference(client)
    document = IssuedDocument.objects.get()
    url = f"https://tumen.example.mn/verify/{document.verification_code}/"
    from documents.pdf import qr_png

    # What is put on the page is a QR code of exactly that URL ...
    expected = segno.make(url, error="m", micro=False)
    assert expected.matrix  # segno's own encoding of the URL; decoding the printed page follows
    data = document.file.open("rb").read()
    images = [image for page in PdfReader(io.BytesIO(data)).pages for image in page.images]
    assert len(images) == 1
    assert qr_png(url)[:8] == b"\x89PNG\r\n\x1a\n"
    # ... and a QR reader finds it on the rendered page.
    assert read_qr(data, tmp_path) == url


def read_qr(pdf: bytes, folder: Path) -> str:
    """The text of the QR code on the PDF's first page, as a phone would read it from the paper:
    the page rendered by ``pdftoppm``, the code read by ``zbarimg``. Skips where they are missing,
    except in CI (``.ci/run`` installs poppler-utils and zbar-tools)."""
    if not (shutil.which("pdftoppm") and shutil.which("zbarimg")):
        if IN_CI:
            pytest.fail("pdftoppm and zbarimg are needed (poppler-utils, zbar-tools in .ci/run)")
        pytest.skip("pdftoppm or zbarimg is not installed")
    (folder / "document.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(folder / "document.pdf"), str(folder / "page")], check=True)
    scan = subprocess.run(["zbarimg", "--quiet", "--raw", str(folder / "page.png")], capture_output=True, check=True)
    return scan.stdout.decode().strip()


def test_a_double_click_or_retry_issues_the_reference_once(service, agency_source, private_media):
    client = citizen_client()
    first = get_reference(client, token="same-token-0123456789")
    second = get_reference(client, token="same-token-0123456789")
    assert first["Location"] == second["Location"]
    assert IssuedDocument.objects.count() == 1 and len(stored_files(private_media)) == 1
    assert len(agency_source.received) == 1  # the retry did not even ask the agency again
    # A new request (a new page, a new token) is a new reference.
    get_reference(client, token="another-token-0123456789")
    assert IssuedDocument.objects.count() == 2


def test_the_reference_appears_in_my_documents(service):
    client = citizen_client()
    get_reference(client)
    document = IssuedDocument.objects.get()
    html = client.get("/my/").content.decode()  # My applications (form_builder), its documents section (hook)
    assert 'data-testid="my-documents"' in html
    assert document.verification_code in html and "Оршин суугаа хаягийн лавлагаа" in html
    assert f"/my/documents/{document.verification_code}.pdf" in html
    other = citizen_client(OTHER).get("/my/").content.decode()
    assert 'data-testid="my-documents"' in other and document.verification_code not in other
    assert list(documents_of(OTHER)) == []


def test_a_representative_gets_the_organisations_reference(service, agency_source):
    representative = Identity(subject="sub-3", register_number="УБ90010112", last_name="Бат", first_name="Өлзий", represents="5012345")
    client = citizen_client(representative)
    get_reference(client)
    document = IssuedDocument.objects.get()
    assert document.holder_register_number == "5012345"
    assert agency_source.received[0].json()["register_number"] == "5012345"
    assert client.get(f"/my/documents/{document.verification_code}.pdf").status_code == 200
    # The person's own documents are not the organisation's.
    assert citizen_client(OTHER).get(f"/my/documents/{document.verification_code}.pdf").status_code == 404


def test_a_service_that_is_not_a_reference_has_no_reference_page(demo_catalog):
    client = citizen_client()
    assert client.get("/references/DEMO-00001/").status_code == 404
    assert client.get("/references/NO-SUCH/").status_code == 404


# -- the agency's reference source failing ------------------------------------------------------------

FAULTS = ["slow", 500, 503, "wrong_types", "missing", "huge", "notjson", "unsigned", "badsig"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_reference_source_issues_nothing_and_says_so(service, agency_source, private_media, fault):
    agency_source.plan = [fault, 200]
    agency_source.slow_seconds = 3
    client = citizen_client()
    response = get_reference(client, token="retry-token-0123456789")
    assert response.status_code == 503
    body = response.content.decode()
    assert "data-code=\"agency_unavailable\"" in body
    assert 'role="alert"' in body  # the translated "try again later, or ask the soum operator"
    assert not IssuedDocument.objects.exists() and stored_files(private_media) == []
    # The same request again, once the agency answers: one document.
    retried = get_reference(client, token="retry-token-0123456789")
    assert retried.status_code == 302
    again = get_reference(client, token="retry-token-0123456789")
    assert again["Location"] == retried["Location"]
    assert IssuedDocument.objects.count() == 1 and len(stored_files(private_media)) == 1


def test_a_slow_agency_is_given_up_on_at_the_deadline(service, agency_source, settings):
    import time

    settings.TUMEN_REFERENCE_TIMEOUT = 1.0
    agency_source.plan = ["slow"]
    agency_source.slow_seconds = 5
    started = time.monotonic()
    response = get_reference(citizen_client())
    assert response.status_code == 503
    assert time.monotonic() - started < 2.5


def test_the_message_is_in_english_on_the_english_site(service, agency_source):
    agency_source.plan = [503]
    response = citizen_client().post(f"/en/references/{REFERENCE}/", {"request_token": "english-token-0123456789"})
    assert response.status_code == 503
    assert "Try again later, or ask the soum operator." in response.content.decode()


def test_no_record_in_the_register_shows_the_agencys_message(service, agency_source):
    agency_source.plan = [404]
    response = get_reference(citizen_client())
    assert response.status_code == 404
    assert "Бүртгэлд олдсонгүй." in response.content.decode()
    assert not IssuedDocument.objects.exists()


def test_an_agency_without_a_reference_source_is_a_clear_message(demo_catalog):
    response = get_reference(citizen_client())
    assert response.status_code == 503 and "no_reference_source" in response.content.decode()
    assert not IssuedDocument.objects.exists()


def test_references_per_citizen_are_rate_limited(service, settings):
    settings.TUMEN_RATE_REFERENCES = "2/h"
    client = citizen_client()
    assert get_reference(client, token="a" * 20).status_code == 302
    assert get_reference(client, token="b" * 20).status_code == 302
    assert get_reference(client, token="a" * 20).status_code == 302  # the same request again is not counted
    refused = get_reference(client, token="c" * 20)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert IssuedDocument.objects.count() == 2


# -- verification ------------------------------------------------------------------------------------


@pytest.fixture
def issued(service):
    get_reference(citizen_client())
    return IssuedDocument.objects.get()


def test_verify_shows_who_issued_what_and_never_the_personal_content(issued):
    for prefix in ("", "/en"):
        response = Client().get(f"{prefix}/verify/{issued.verification_code}/")
        assert response.status_code == 200
        body = response.content.decode()
        assert issued.sha256 in body and 'data-valid="true"' in body
        assert issued.agency.name_mn in body or issued.agency.name_en in body
        for secret in ("ЧБ88051234", "Дорж", "Сараа", "Өлзийт", "2019-05-04"):
            assert secret not in body


def test_verify_accepts_the_code_as_people_type_it(issued):
    typed = issued.verification_code.replace("-", " ").lower()
    response = Client().get("/verify/", {"code": typed})
    assert response.status_code == 302 and response["Location"] == f"/verify/{issued.verification_code}/"
    assert normalize_verification_code(typed) == issued.verification_code


def test_an_unknown_or_forged_code_is_not_found(issued):
    code = issued.verification_code
    forged = ("0" if code[0] != "0" else "1") + code[1:]
    assert Client().get(f"/verify/{forged}/").status_code == 404
    assert Client().get("/verify/NOT-A-CODE/").status_code == 404
    assert Client().get(f"/api/v1/documents/{forged}/verify").status_code == 404


def test_the_verify_api_answers_machines(issued):
    response = Client().get(f"/api/v1/documents/{issued.verification_code}/verify", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    data = response.json()
    assert data["valid"] is True and data["sha256"] == issued.sha256 and data["agency"]["code"] == issued.agency.code
    assert data["service"]["code"] == REFERENCE and data["kind"] == "reference"
    assert "ЧБ88051234" not in response.content.decode() and "holder" not in data


def test_a_revoked_document_is_reported_as_no_longer_valid(issued):
    issued.revoke("issued for the wrong person")
    response = Client().get(f"/verify/{issued.verification_code}/")
    assert 'data-valid="false"' in response.content.decode()
    assert "wrong person" not in response.content.decode()
    assert Client().get(f"/api/v1/documents/{issued.verification_code}/verify").json()["valid"] is False


def test_someone_can_check_that_a_pdf_is_the_issued_one(issued):
    data = issued.file.open("rb").read()
    client = Client()
    same = client.post(f"/verify/{issued.verification_code}/", {"file": io.BytesIO(data)})
    assert 'data-testid="file-check"' in same.content.decode() and "exactly the document" in Client().post(
        f"/en/verify/{issued.verification_code}/", {"file": _named(data)}
    ).content.decode()
    changed = client.post(f"/en/verify/{issued.verification_code}/", {"file": _named(data.replace(b"Tumen", b"Tumeh"))})
    assert "NOT the document" in changed.content.decode()


def _named(data: bytes):
    handle = io.BytesIO(data)
    handle.name = "reference.pdf"
    return handle


def test_verify_lookups_are_rate_limited_per_client(issued, settings):
    settings.TUMEN_RATE_VERIFY = "3/m"
    client = Client()
    codes = [client.get(f"/verify/{issued.verification_code}/").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    page = client.get(f"/verify/{issued.verification_code}/")
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    api = client.get(f"/api/v1/documents/{issued.verification_code}/verify")
    assert api.status_code == 429 and api.json()["error"]["code"] == "rate_limited"


# -- who may download --------------------------------------------------------------------------------


def test_nobody_but_the_holder_downloads_a_citizens_reference(issued):
    url = f"/my/documents/{issued.verification_code}.pdf"
    assert citizen_client().get(url).status_code == 200
    assert citizen_client(OTHER).get(url).status_code == 404
    assert Client().get(url).status_code == 404
    _user, operator = operator_client("not-the-issuer")
    assert operator.get(url).status_code == 404
    # The agency's moderators read its applications, not the references citizens get.
    moderator = User.objects.create_user("ubeg-moderator")
    from service_pages.governance import sync_agency_groups

    sync_agency_groups()
    moderator.groups.add(Group.objects.get(name=f"{issued.agency.code} moderators"))
    staff = Client()
    staff.force_login(moderator)
    assert staff.get(url).status_code == 404
    # The issued page too.
    assert citizen_client(OTHER).get(f"/references/{REFERENCE}/issued/{issued.verification_code}/").status_code == 404


# -- the operator's flow -----------------------------------------------------------------------------

IN_PERSON = {
    "register_number": "чб88051234", "last_name": "Дорж", "first_name": "Сараа", "in_person_reason": "cannot_sign_in",
    "id_document_type": "national_id", "id_document_number": "НА1234567", "in_person_checked": "on",
    "request_token": "operator-token-0123456789",
}  # fmt: skip


def test_an_operator_issues_a_reference_for_a_citizen_at_the_office(service, agency_source):
    user, client = operator_client("batcengel-operator")
    form = client.get(f"/operator/references/{REFERENCE}/")
    assert form.status_code == 200
    response = client.post(f"/operator/references/{REFERENCE}/", IN_PERSON)
    assert response.status_code == 302
    document = IssuedDocument.objects.get()
    assert document.operator == user and document.holder_register_number == "ЧБ88051234"
    assert document.holder_name == "Дорж Сараа"
    proof = document.in_person
    assert proof["method"] == "in_person_reference" and proof["document"] == {"type": "national_id", "number": "НА1234567"}
    assert proof["recorded_by"] == "batcengel-operator" and proof["office"] == "batcengel-operator office"
    assert agency_source.received[0].json()["operator"]["username"] == "batcengel-operator"
    # A retry of the same form is the same document; the operator prints it.
    assert client.post(f"/operator/references/{REFERENCE}/", IN_PERSON)["Location"] == response["Location"]
    assert IssuedDocument.objects.count() == 1
    printed = client.get(f"/my/documents/{document.verification_code}.pdf?print=1")
    assert printed.status_code == 200 and printed["Content-Disposition"].startswith("inline")
    assert "batcengel-operator office" in pdf_text(b"".join(printed.streaming_content))
    # The citizen finds it among their documents too; another operator does not.
    assert citizen_client().get(f"/my/documents/{document.verification_code}.pdf").status_code == 200
    _other, other_operator = operator_client("another-operator")
    assert other_operator.get(f"/my/documents/{document.verification_code}.pdf").status_code == 404


def test_the_operators_service_search_offers_the_reference_instead_of_an_application(service):
    _user, client = operator_client("searching-operator")
    html = client.get("/operator/search/", {"q": "Оршин суугаа хаягийн лавлагаа"}).content.decode()
    row = html[html.index(f'data-service="{REFERENCE}"'):].split("</li>")[0]
    assert f'/operator/references/{REFERENCE}/"' in row and "/operator/apply/" not in row


def test_the_operator_must_record_how_the_citizen_was_identified(service, agency_source):
    _user, client = operator_client("careless-operator")
    response = client.post(f"/operator/references/{REFERENCE}/", {**IN_PERSON, "id_document_number": "", "in_person_checked": ""})
    assert response.status_code == 400
    assert not IssuedDocument.objects.exists() and agency_source.received == []
    bad_number = client.post(f"/operator/references/{REFERENCE}/", {**IN_PERSON, "register_number": "12345"})
    assert bad_number.status_code == 400


def test_only_operators_reach_the_operator_page(service):
    assert citizen_client().get(f"/operator/references/{REFERENCE}/").status_code == 403
    assert Client().get(f"/operator/references/{REFERENCE}/").status_code == 302  # to the staff sign-in


def test_the_operator_sees_the_agencys_message_when_it_fails(service, agency_source):
    agency_source.plan = [500]
    _user, client = operator_client("unlucky-operator")
    response = client.post(f"/en/operator/references/{REFERENCE}/", IN_PERSON)
    assert response.status_code == 503 and "ask the soum operator" in response.content.decode()
    assert not IssuedDocument.objects.exists()


def test_the_reference_data_limits(service):
    from documents.content import InvalidContent, content_from_json

    assert content_from_json(DOCUMENT).title_mn == DOCUMENT["title_mn"]
    for bad in (
        [],
        {**DOCUMENT, "rows": []},
        {**DOCUMENT, "rows": [{"label_mn": "x", "value": True}]},
        {**DOCUMENT, "title_mn": "x" * 300},
        {**DOCUMENT, "valid_until": "tomorrow"},
        {**DOCUMENT, "rows": [{"label_mn": "a\x07b", "value": "1"}]},
    ):
        with pytest.raises(InvalidContent):
            content_from_json(bad)


def test_staff_revoke_a_document_from_the_command_line(issued, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("revoke_document", issued.verification_code.lower().replace("-", " "), "--reason", "wrong person")
    assert f"revoked {issued.verification_code}" in capsys.readouterr().out
    issued.refresh_from_db()
    assert issued.revoked and issued.revoked_reason == "wrong person"
    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_document", issued.verification_code, "--reason", "again")
    with pytest.raises(CommandError, match="no document"):
        call_command("revoke_document", "0000-0000-0000", "--reason", "x")


# -- the ХУР-style reference source ------------------------------------------------------------------


@pytest.fixture
def xyp_service(demo_catalog, agency_source):
    agency_source.format = "xml"
    page = ServicePage.objects.by_code(REFERENCE)
    PluginConfig.objects.create(plugin_id="xyp_reference", agency=page.agency, options={"url": agency_source.url, "secret": SECRET})
    return page


def test_the_xyp_style_source_asks_for_the_services_operation(xyp_service, agency_source):
    response = get_reference(citizen_client())
    assert response.status_code == 302
    [received] = agency_source.received
    assert received.signature_ok and received.headers["soapaction"] == xyp_service.xyp_code
    body = received.body.decode()
    assert "<RegisterNumber>ЧБ88051234</RegisterNumber>" in body and "<OperatorIdentity/>" in body
    document = IssuedDocument.objects.get()
    assert document.title == DOCUMENT["title_mn"]
    assert "Өлзийт гудамж 12" in pdf_text(document.file.open("rb").read())


@pytest.mark.parametrize("fault", [404, 500, "unsigned", "huge"])
def test_the_xyp_style_source_fails_cleanly(xyp_service, agency_source, fault):
    agency_source.plan = [fault]
    response = get_reference(citizen_client())
    assert response.status_code == (404 if fault == 404 else 503)
    assert not IssuedDocument.objects.exists()


def test_an_xml_bomb_is_refused():
    from plugins.base import PluginUnavailable
    from plugins.contrib.xyp.reference import read_answer

    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>'
    with pytest.raises(PluginUnavailable):
        read_answer(bomb)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_issue_one_document(demo_catalog, agency_source, private_media):
    """Two workers handle the same request at once (a double click reaching two processes): both ask
    the agency, one row wins the unique key, the other's file is removed and it answers the same."""
    import threading

    from django.db import connection

    from documents.issuing import Holder
    from plugins.references import get_reference as issue_reference

    page = ServicePage.objects.by_code(REFERENCE)
    PluginConfig.objects.create(plugin_id="reference_json", agency=page.agency, options={"url": agency_source.url, "secret": SECRET})
    agency_source.delay_ms = 300  # both are waiting on the agency at the same time
    results, barrier = [], threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(issue_reference(page, Holder("ЧБ88051234", "Дорж Сараа"), last_name="Дорж", first_name="Сараа", key="race-key"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2 and len(agency_source.received) == 2
    assert {document.verification_code for document, _created in results} == {IssuedDocument.objects.get().verification_code}
    assert sorted(created for _document, created in results) == [False, True]
    assert len(stored_files(private_media)) == 1
