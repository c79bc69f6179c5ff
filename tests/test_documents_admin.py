"""The admin's "Issued documents" and the access log of document downloads.

Moderators list, find, filter and revoke their own agency's documents, and nobody else's (404 on
every URL, GET and POST); the screen never shows whom a document is about or what it says.
Downloads of a document's file by an operator or staff go to the access log; the holder's own do
not. Documents are issued through the real path (``documents.issuing.issue``).
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from wagtail.models import ModelLogEntry

from documents import issuing
from documents.content import content_from_json
from documents.models import IssuedDocument
from documents.revocation import LOG_ACTION
from form_builder.access_log import AccessLogEntry
from service_pages.models import ServicePage
from tests import test_result_documents
from tests.reference_server import DOCUMENT
from tests.test_privacy import member
from tests.test_references import CITIZEN, citizen_client, operator_client

pytestmark = pytest.mark.django_db
REGISTER, NAME, ID_NUMBER = "ЧБ88051234", "Дорж Сараа", "НА1234567"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.TUMEN_PUBLIC_URL = "https://tumen.example.mn"


def issue(service, *, key, operator=None, valid_until=None):
    content = content_from_json({**DOCUMENT, **({"valid_until": valid_until} if valid_until else {})})
    in_person = {
        "method": "in_person_reference",
        "document": {"type": "national_id", "number": ID_NUMBER},
        "office": "Батцэнгэл",
    }
    document, _created = issuing.issue(
        kind=IssuedDocument.Kind.REFERENCE, service=service, agency=service.agency, holder=issuing.Holder(REGISTER, NAME),
        key=key, content=content, operator=operator, in_person=in_person if operator else None,
    )  # fmt: skip
    return document


@pytest.fixture
def documents(demo_catalog):
    """A document of each of two agencies (each with an agency page, hence groups)."""
    services = ServicePage.objects.live().canonical().filter(agency__pages__isnull=False).order_by("code")
    first = services.first()
    second = services.exclude(agency=first.agency).first()
    return issue(first, key="doc-a"), issue(second, key="doc-b")


def object_urls(document):
    return [f"/admin/issued_documents/{view}/{document.pk}/" for view in ("inspect", "history", "revoke")]


def test_moderators_see_their_agencys_documents_only(documents):
    mine, theirs = documents
    _user, moderator = member("moderator-a", mine.agency, "moderators")
    listing = moderator.get("/admin/issued_documents/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert mine.verification_code in html and theirs.verification_code not in html
    for url in object_urls(mine):
        assert moderator.get(url).status_code == 200, url
    for url in object_urls(theirs):
        assert moderator.get(url).status_code == 404, url
    assert moderator.post(f"/admin/issued_documents/revoke/{theirs.pk}/", {"reason": "not mine"}).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.revoked
    # The agency filter offers only the agency whose documents they see.
    assert theirs.agency.name_mn not in moderator.get("/admin/issued_documents/").content.decode()


def test_a_superuser_sees_every_agencys_documents(documents):
    admin = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(admin)
    html = client.get("/admin/issued_documents/").content.decode()
    assert all(document.verification_code in html for document in documents)


def test_editors_operators_and_citizens_have_no_document_screen(documents):
    mine, _theirs = documents
    _editor, editor = member("editor-a", mine.agency, "editors")
    _operator, operator = operator_client("some-operator")
    for client in (editor, operator, citizen_client(), Client()):
        for url in ["/admin/issued_documents/", *object_urls(mine)]:
            response = client.get(url)
            assert (
                response.status_code in (302, 403, 404) and mine.verification_code not in response.content.decode()
            ), url
        assert client.post(f"/admin/issued_documents/revoke/{mine.pk}/", {"reason": "x"}).status_code in (302, 403, 404)
    mine.refresh_from_db()
    assert not mine.revoked


def test_the_screen_shows_the_metadata_and_no_personal_content(documents, monkeypatch):
    mine, _theirs = documents
    operator_user, _client = operator_client("batcengel-operator")
    by_operator = issue(mine.service, key="doc-op", operator=operator_user)
    _user, moderator = member("moderator-a", mine.agency, "moderators")
    for document in (mine, by_operator):
        html = moderator.get(f"/admin/issued_documents/inspect/{document.pk}/").content.decode()
        assert document.verification_code in html and document.sha256 in html and document.title in html
        for secret in (REGISTER, "Дорж", "Сараа", ID_NUMBER, *[str(row["value"]) for row in DOCUMENT["rows"]]):
            assert secret not in html, secret
        assert 'data-testid="download"' not in html  # a citizen's reference is not the agency's to read
    assert "batcengel-operator" in moderator.get(f"/admin/issued_documents/inspect/{by_operator.pk}/").content.decode()
    listing = moderator.get("/admin/issued_documents/").content.decode()
    assert REGISTER not in listing and "Сараа" not in listing


def test_filters_and_finding_a_document_by_the_code_on_the_paper(documents):
    mine, _theirs = documents
    expired = issue(mine.service, key="doc-old", valid_until="2020-01-01")
    revoked = issue(mine.service, key="doc-revoked")
    revoked.revoke("wrong person")
    _user, moderator = member("moderator-a", mine.agency, "moderators")

    def listed(query):
        html = moderator.get(f"/admin/issued_documents/?{query}").content.decode()
        return {document for document in (mine, expired, revoked) if document.verification_code in html}

    assert listed("state=valid") == {mine}
    assert listed("state=revoked") == {revoked}
    assert listed("state=expired") == {expired}
    assert listed(f"agency={mine.agency_id}") == {mine, expired, revoked}
    assert listed(f"service={mine.service.code.lower()}") == {mine, expired, revoked}
    assert listed("service=NO-SUCH") == set()
    assert listed("kind=result") == set()
    today = timezone.localdate()
    assert listed(f"issued_at_from={today.isoformat()}") == {mine, expired, revoked}
    assert listed(f"issued_at_to={(today - datetime.timedelta(days=1)).isoformat()}") == set()
    typed = mine.verification_code.replace("-", " ").lower()
    assert listed(f"q={typed}") == {mine}


def test_a_moderator_revokes_with_a_reason_and_verify_says_so(documents):
    mine, _theirs = documents
    user, moderator = member("moderator-a", mine.agency, "moderators")
    url = f"/admin/issued_documents/revoke/{mine.pk}/"
    assert 'name="reason"' in moderator.get(url).content.decode()
    empty = moderator.post(url, {"reason": "   "})
    assert empty.status_code == 400
    mine.refresh_from_db()
    assert not mine.revoked

    response = moderator.post(url, {"reason": "issued for the wrong person"})
    assert response.status_code == 302 and response["Location"] == f"/admin/issued_documents/inspect/{mine.pk}/"
    mine.refresh_from_db()
    assert mine.revoked and mine.revoked_reason == "issued for the wrong person"
    entry = ModelLogEntry.objects.get(action=LOG_ACTION)
    assert (
        entry.user == user and entry.data["reason"] == "issued for the wrong person" and entry.object_id == str(mine.pk)
    )
    assert "wrong person" in moderator.get(f"/admin/issued_documents/history/{mine.pk}/").content.decode()
    page = Client().get(f"/en/verify/{mine.verification_code}/").content.decode()
    assert 'data-valid="false"' in page and "wrong person" not in page

    # Again: nothing changes, the page says it is already revoked.
    again = moderator.post(url, {"reason": "twice"}, follow=True)
    assert again.status_code == 200
    mine.refresh_from_db()
    assert mine.revoked_reason == "issued for the wrong person"
    assert ModelLogEntry.objects.filter(action=LOG_ACTION).count() == 1


def test_the_command_and_the_admin_share_the_revocation(documents, capsys):
    mine, _theirs = documents
    call_command("revoke_document", mine.verification_code, "--reason", "  lost   paper ")
    mine.refresh_from_db()
    assert mine.revoked_reason == "lost paper"
    entry = ModelLogEntry.objects.get(action=LOG_ACTION)
    assert entry.user is None and entry.data == {"reason": "lost paper", "via": "command"}
    _user, moderator = member("moderator-a", mine.agency, "moderators")
    assert 'data-testid="revoke"' not in moderator.get(f"/admin/issued_documents/inspect/{mine.pk}/").content.decode()


# -- the access log of document downloads ----------------------------------------------------------


def test_an_operators_print_is_logged_and_the_holders_download_is_not(documents):
    mine, _theirs = documents
    operator_user, operator = operator_client("batcengel-operator")
    document = issue(mine.service, key="doc-op", operator=operator_user)
    url = f"/my/documents/{document.verification_code}.pdf"

    assert citizen_client(CITIZEN).get(url).status_code == 200  # the holder (ЧБ88051234)
    assert not AccessLogEntry.objects.exists()

    printed = operator.get(f"{url}?print=1")
    assert printed.status_code == 200
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.action, entry.agency_id, entry.document_code, entry.submission_id) == (
        operator_user, "document", document.agency_id, document.verification_code, None,
    )  # fmt: skip
    assert entry.detail == "print (operator)"
    text = json.dumps([entry.username, entry.tracking_codes, entry.detail, entry.what()], ensure_ascii=False)
    assert REGISTER not in text and "Сараа" not in text
    # Refused downloads leave no entry.
    _other, other_operator = operator_client("another-operator")
    assert other_operator.get(url).status_code == 404
    assert AccessLogEntry.objects.count() == 1

    # The agency's moderators read it in their access log; another agency's do not.
    _user, moderator = member("moderator-a", mine.agency, "moderators")
    assert document.verification_code in moderator.get("/admin/access_log/?action=document").content.decode()
    assert moderator.get(f"/admin/access_log/inspect/{entry.pk}/").status_code == 200
    _b, moderator_b = member("moderator-b", _theirs.agency, "moderators")
    assert moderator_b.get(f"/admin/access_log/inspect/{entry.pk}/").status_code == 404


@pytest.fixture
def application(demo_catalog, settings, tmp_path):
    return test_result_documents.two_stage_application(settings, tmp_path)


def test_staff_downloads_of_a_result_document_are_logged_under_their_agency(application):
    from tests.test_result_documents import CERTIFICATE, signed_post

    submission, agencies, keys = application
    signed_post(submission.tracking_code, json.dumps(CERTIFICATE).encode(), keys[agencies[0].code])
    document = IssuedDocument.objects.get()
    user, moderator = member("moderator-a", agencies[0], "moderators")
    inspect = moderator.get(f"/admin/issued_documents/inspect/{document.pk}/").content.decode()
    assert 'data-testid="download"' in inspect  # the agency reads the results of its applications
    assert moderator.get(f"/my/documents/{document.verification_code}.pdf").status_code == 200
    entry = AccessLogEntry.objects.get(action="document")
    assert (entry.user, entry.agency_id, entry.submission_id, entry.tracking_codes, entry.detail) == (
        user, agencies[0].pk, submission.pk, [submission.tracking_code], "download (staff)",
    )  # fmt: skip
    _c, moderator_c = member("moderator-c", agencies[2], "moderators")
    assert moderator_c.get(f"/admin/issued_documents/inspect/{document.pk}/").status_code == 404
