"""Forms attached to services: definitions and versions, steps and conditions, drafts, uploads,
submissions through the HTML steps and the API, tracking, rate limits and the admin."""

import csv
import datetime
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from form_builder import defaults
from form_builder.models import (
    Draft,
    FormDefinition,
    FormVersion,
    Status,
    StoredFile,
    Submission,
    form_for_service,
    key_from_label,
    normalize_tracking_code,
)
from form_builder.spec import FormSchemaError, FormSpec
from form_builder.submissions import purge_expired_drafts
from service_pages.models import Category, ServicePage

pytestmark = pytest.mark.django_db

TRACKING_RE = re.compile(r"^TMN-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.TUMEN_PRIVATE_MEDIA_ROOT


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True, accepts_applications=True).order_by("code").first()


def soum_of(aimag_code="65"):
    from service_pages.models import Soum

    return Soum.objects.filter(aimag__code=aimag_code).values_list("code", flat=True).first()


def answers(**changes):
    data = {
        "register_number": "УБ99010112",
        "last_name": "Бат",
        "first_name": "Дорж",
        "phone": "9911 2233",
        "address": {"aimag": "65", "soum": soum_of(), "bag": "3-р баг"},
        "request": "Иргэний үнэмлэх шинээр авах хүсэлтэй байна.",
        "consent": True,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def post_api(client, code, data, **extra):
    return client.post(
        f"/api/v1/services/{code}/submissions", {"data": data}, content_type="application/json", **extra
    )


def publish(definition, user=None):
    definition.save()
    definition.save_revision(user=user).publish(user=user)
    definition.refresh_from_db()
    return definition.current_version


def make_form(steps, slug="test-form", **kwargs):
    definition = FormDefinition(name=slug, slug=slug, steps=defaults.stream_data(steps), **kwargs)
    publish(definition)
    return definition


BRANCHING = [
    {
        "title": "Хүсэлт",
        "fields": [
            {"type": "register_number", "key": "register_number", "label": "Регистр", "required": True},
            {"type": "yes_no", "key": "has_vehicle", "label": "Тээврийн хэрэгсэлтэй юу?", "required": True},
            {"type": "short_text", "key": "plate", "label": "Улсын дугаар", "required": False,
             "show_if": {"field": "has_vehicle", "op": "equals", "value": "true"},
             "required_if": {"field": "has_vehicle", "op": "equals", "value": "true"}},
        ],
    },
    {
        "title": "Тээврийн хэрэгсэл",
        "skip_if": {"field": "has_vehicle", "op": "equals", "value": "false"},
        "fields": [
            {"type": "choice", "key": "vehicle_kind", "label": "Төрөл", "required": True,
             "choices": "car | Суудлын | Car\ntruck | Ачааны | Truck"},
        ],
    },
    {
        "title": "Баталгаа",
        "fields": [{"type": "checkbox", "key": "consent", "label": "Зөвшөөрч байна", "required": True}],
    },
]  # fmt: skip


@pytest.fixture
def branching_service(service):
    definition = make_form(BRANCHING, slug="vehicle")
    service.form_definition = definition
    service.save()
    return service


# -- definitions, versions, resolution ----------------------------------------------------------


def test_shipped_general_form_is_the_default_and_its_version_matches_the_editor(service):
    definition = FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG)
    assert definition.live and definition.is_default
    assert definition.current_version.number == 1
    assert definition.build_schema() == definition.current_version.schema
    assert form_for_service(service) == definition
    keys = list(definition.current_version.spec.fields)
    assert keys[:4] == ["register_number", "last_name", "first_name", "phone"]
    assert "attachment" in keys and "address" in keys


def test_every_online_demo_service_can_be_applied_for(client, demo_catalog):
    codes = ServicePage.objects.live().canonical().filter(channel_online=True).values_list("code", flat=True)[:40]
    for code in codes:
        assert client.get(f"/api/v1/services/{code}/form").status_code == 200, code


def test_category_form_then_service_form_override_the_default(service):
    category_form = make_form(BRANCHING, slug="category-form")
    own_form = make_form(BRANCHING, slug="own-form")
    category = service.category or Category.objects.first()
    service.category = category
    category.default_form = category_form
    category.save()
    assert form_for_service(service) == category_form
    service.form_definition = own_form
    assert form_for_service(service) == own_form
    own_form.live = False
    assert form_for_service(service) == category_form


def test_keys_come_from_labels_and_survive_renaming(service, client):
    steps = [{"title": "Алхам", "fields": [{"type": "short_text", "label": "Утасны дугаар", "required": True}]}]
    definition = make_form(steps, slug="renamed")
    v1 = definition.current_version
    assert list(v1.spec.fields) == ["utasny_dugaar"]
    service.form_definition = definition
    service.save()
    response = post_api(client, service.code, {"utasny_dugaar": "99112233"})
    assert response.status_code == 201
    old = Submission.objects.get(tracking_code=response.json()["tracking_code"])

    definition.steps[0].value["fields"][0]["label"] = "Холбоо барих утас"
    v2 = publish(definition)
    assert v2.number == 2 and list(v2.spec.fields) == ["utasny_dugaar"]
    assert v2.spec.fields["utasny_dugaar"].label["mn"] == "Холбоо барих утас"
    # The old submission still reads with the label it was answered under.
    old.refresh_from_db()
    assert old.form_version == v1
    assert [row.label for row in old.answer_rows()] == ["Утасны дугаар"]
    new = post_api(client, service.code, {"utasny_dugaar": "99112234"}).json()
    assert Submission.objects.get(tracking_code=new["tracking_code"]).form_version == v2


def test_publishing_an_unchanged_form_keeps_its_version_and_versions_are_frozen(service):
    definition = FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG)
    assert publish(definition).number == 1
    version = definition.current_version
    version.schema = {"steps": []}
    with pytest.raises(ValidationError):
        version.save()
    assert FormVersion.objects.get(pk=version.pk).schema == definition.build_schema()


def test_key_from_label():
    assert key_from_label("Утасны дугаар", set()) == "utasny_dugaar"
    assert key_from_label("Утасны дугаар", {"utasny_dugaar"}) == "utasny_dugaar_2"
    assert key_from_label("123", set()) == "q_123"
    assert key_from_label("!!!", set()) == "q"


@pytest.mark.parametrize(
    "steps, problem",
    [
        ([{"title": "A", "fields": [{"type": "short_text", "key": "a", "label": "A"}, {"type": "email", "key": "a", "label": "B"}]}], "two fields"),
        ([{"title": "A", "fields": [{"type": "short_text", "key": "a", "label": "A", "show_if": {"field": "b", "op": "filled", "value": ""}}, {"type": "short_text", "key": "b", "label": "B"}]}], "not an earlier"),
        ([{"title": "A", "fields": [{"type": "choice", "key": "a", "label": "A"}]}], "choices"),
        ([{"title": "A", "fields": [{"type": "heading", "key": "h", "label": "H"}]}], "at least one question"),
        ([{"title": "A", "skip_if": {"field": "z", "op": "equals", "value": "1"}, "fields": [{"type": "short_text", "key": "a", "label": "A"}]}], "not an earlier"),
    ],
)  # fmt: skip
def test_unusable_forms_are_refused_when_saved_in_the_admin(steps, problem):
    definition = FormDefinition(name="x", slug="x", steps=defaults.stream_data(steps))
    with pytest.raises(ValidationError) as error:
        definition.clean()
    assert problem in str(error.value)
    with pytest.raises(FormSchemaError):
        definition.freeze_version()


# -- conditions and steps -----------------------------------------------------------------------


def spec_of(steps):
    return FormSpec.from_schema(FormDefinition(name="s", slug="s", steps=defaults.stream_data(steps)).build_schema())


def test_show_if_and_required_if():
    spec = spec_of(BRANCHING)
    answers_, errors = spec.validate({"register_number": "УБ99010112", "has_vehicle": "true", "vehicle_kind": "car", "consent": True})
    assert errors == {"plate": errors["plate"]} and errors["plate"][0].code == "required"
    answers_, errors = spec.validate({"register_number": "УБ99010112", "has_vehicle": "false", "plate": "1234УБА", "consent": True})
    assert not errors
    assert "plate" not in answers_, "a hidden question's answer is dropped"


def test_skip_if_skips_a_step_and_its_requirements():
    spec = spec_of(BRANCHING)
    assert spec.active_steps({"has_vehicle": False}) == [0, 2]
    assert spec.active_steps({"has_vehicle": True}) == [0, 1, 2]
    answers_, errors = spec.validate({"register_number": "УБ99010112", "has_vehicle": False, "vehicle_kind": "car", "consent": True})
    assert not errors and "vehicle_kind" not in answers_
    _answers, errors = spec.validate({"register_number": "УБ99010112", "has_vehicle": True, "plate": "1", "consent": True})
    assert list(errors) == ["vehicle_kind"]


def test_condition_operators():
    steps = [
        {"title": "A", "fields": [
            {"type": "multiple_choice", "key": "docs", "label": "D", "choices": "a\nb\nc"},
            {"type": "short_text", "key": "one_of", "label": "x", "required": True, "show_if": {"field": "docs", "op": "in", "value": "b, c"}},
            {"type": "short_text", "key": "not_a", "label": "x", "required": True, "show_if": {"field": "docs", "op": "not_equals", "value": "a"}},
            {"type": "short_text", "key": "none", "label": "x", "required": True, "show_if": {"field": "docs", "op": "empty", "value": ""}},
        ]}
    ]  # fmt: skip
    spec = spec_of(steps)
    _a, errors = spec.validate({"docs": ["a"]})
    assert set(errors) == set()
    _a, errors = spec.validate({"docs": ["c"]})
    assert set(errors) == {"one_of", "not_a"}
    _a, errors = spec.validate({})
    assert set(errors) == {"not_a", "none"}


# -- the API ------------------------------------------------------------------------------------


def test_form_api_describes_steps_fields_validation_and_conditions(client, branching_service):
    response = client.get(f"/api/v1/services/{branching_service.code}/form", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["form"]["slug"] == "vehicle" and body["form"]["version"] == 1
    steps = body["form"]["steps"]
    assert [len(step["fields"]) for step in steps] == [3, 1, 1]
    assert steps[1]["skip_if"] == {"field": "has_vehicle", "op": "equals", "value": "false"}
    plate = steps[0]["fields"][2]
    assert plate["show_if"]["field"] == "has_vehicle" and plate["required"] is False
    kinds = steps[1]["fields"][0]
    assert kinds["options"]["choices"] == [{"value": "car", "label": "Car"}, {"value": "truck", "label": "Truck"}]
    assert body["schema"]["properties"]["register_number"]["pattern"].startswith("^[А-Я")
    assert set(body["schema"]["required"]) == {"register_number", "has_vehicle", "vehicle_kind", "consent"}


def test_api_submission_is_stored_with_its_status(client, service):
    response = post_api(client, service.code, answers(email="bat@example.mn"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert TRACKING_RE.match(body["tracking_code"]) and body["status"] == "received"
    assert response["Location"].endswith(f"/api/v1/submissions/{body['tracking_code']}")
    submission = Submission.objects.get(tracking_code=body["tracking_code"])
    assert submission.service == service and submission.agency == service.agency
    assert submission.service_code == service.code and submission.source == "api"
    assert submission.data["phone"] == "+97699112233" and submission.data["register_number"] == "УБ99010112"
    assert submission.applicant_register_number == "УБ99010112"
    assert submission.form_version == FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG).current_version
    assert list(submission.events.values_list("status", flat=True)) == ["received"]

    status = client.get(body["status_url"])
    assert status.status_code == 200
    assert status.json()["status"] == "received" and status.json()["service"]["code"] == service.code
    text = status.content.decode()
    for private in ("УБ99010112", "Дорж", "97699112233", "bat@example.mn"):
        assert private not in text and private not in json.dumps(status.json(), ensure_ascii=False)


def test_api_refuses_bad_answers_per_field_in_both_languages_and_stores_nothing(client, service):
    before = Submission.objects.count()
    response = post_api(client, service.code, answers(register_number="УБ99130112", phone="12", consent=None))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"register_number", "phone", "consent"}
    assert errors["register_number"][0]["code"] == "birth_date"
    assert errors["register_number"][0]["message"]["en"] == "The register number does not contain a valid birth date."
    assert errors["register_number"][0]["message"]["mn"] != errors["register_number"][0]["message"]["en"]
    assert errors["consent"][0]["code"] == "required"
    assert Submission.objects.count() == before


@pytest.mark.parametrize(
    "body, content_type, code",
    [
        ("{not json", "application/json", "invalid_body"),
        ('{"answers": {}}', "application/json", "invalid_body"),
        ("[1, 2]", "application/json", "invalid_body"),
        ("data=1", "text/plain", "invalid_body"),
        # No boundary: Django's own parser refused it with an HTML 400 before the API could answer.
        ("--x--", "multipart/form-data", "invalid_body"),
    ],
)
def test_api_refuses_malformed_bodies_clearly(client, service, body, content_type, code):
    response = client.post(f"/api/v1/services/{service.code}/submissions", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]["message"]) == {"mn", "en"}


def test_api_answers_too_many_files_with_its_json_413(client, service, settings):
    """Over Django's file count limit the API says ``too_large`` in JSON, not Django's HTML 400."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    parts = {f"file{number}": SimpleUploadedFile(f"{number}.pdf", PDF) for number in range(4)}
    response = client.post(f"/api/v1/services/{service.code}/submissions", {"data": json.dumps(answers()), **parts})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_api_refuses_unknown_questions_and_non_object_data(client, service):
    response = post_api(client, service.code, answers(favourite_colour="blue"))
    assert response.status_code == 400
    assert response.json()["errors"]["__all__"][0]["code"] == "unknown_field"
    response = post_api(client, service.code, ["not", "an", "object"])
    assert response.status_code == 400 and response.json()["errors"]["__all__"][0]["code"] == "invalid_data"


def test_closed_unpublished_and_unknown_services_are_refused_clearly(client, service):
    assert post_api(client, "NO-SUCH-CODE", answers()).status_code == 404
    service.accepts_applications = False
    service.save()
    response = post_api(client, service.code, answers())
    assert response.status_code == 409 and response.json()["error"]["code"] == "service_closed"
    assert client.get(f"/api/v1/services/{service.code}/form").status_code == 409
    assert client.get(f"/apply/{service.code}/step/1/").status_code == 409
    service.accepts_applications = True
    service.live = False
    service.save()
    response = post_api(client, service.code, answers())
    assert response.status_code == 409 and response.json()["error"]["code"] == "service_unpublished"
    assert Submission.objects.count() == 0


def multipart(client, code, data, **files):
    return client.post(f"/api/v1/services/{code}/submissions", {"data": json.dumps(data), **files})


def upload(name, content, content_type="application/pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def test_uploads_are_stored_privately_with_their_real_type(client, service, private_media):
    response = multipart(client, service.code, answers(), attachment=upload("Паспорт скан.pdf", PDF, "text/html"))
    assert response.status_code == 201, response.content
    submission = Submission.objects.get(tracking_code=response.json()["tracking_code"])
    stored = submission.files.get()
    assert stored.name == "Паспорт скан.pdf" and stored.content_type == "application/pdf"
    assert stored.size == len(PDF) and len(stored.sha256) == 64
    path = Path(stored.file.path)
    assert private_media in path.parents and path.read_bytes() == PDF
    assert "Паспорт" not in str(path), "stored under a random name"
    assert submission.data["attachment"]["id"] == str(stored.pk)


@pytest.mark.parametrize(
    "name, content, code",
    [
        ("evil.pdf", b"MZ\x90\x00 this is a windows program", "file_content"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "file_content"),
        ("photo.pdf", PNG, "file_extension_mismatch"),
        ("script.exe", PDF, "invalid_extension"),
        ("big.pdf", b"%PDF-1.4" + b"0" * (10 * 1024 * 1024), "file_size"),
    ],
)
def test_forged_and_oversized_uploads_are_refused(client, service, name, content, code):
    response = multipart(client, service.code, answers(), attachment=upload(name, content))
    assert response.status_code == 400
    assert response.json()["errors"]["attachment"][0]["code"] == code
    assert StoredFile.objects.count() == 0 and Submission.objects.count() == 0


def test_office_documents_are_told_apart_by_their_content(client, service):
    from form_builder.uploads import sniff

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert sniff(upload("a.docx", buffer.getvalue())) == "docx"
    assert sniff(upload("a.zip", b"PK\x03\x04 broken")) is None


def test_file_limits_over_the_whole_submission(client, service, settings):
    settings.TUMEN_UPLOAD_MAX_TOTAL_MB = 0
    response = multipart(client, service.code, answers(), attachment=upload("a.pdf", PDF))
    assert response.status_code == 400 and response.json()["errors"]["__all__"][0]["code"] == "files_too_large"
    settings.TUMEN_UPLOAD_MAX_FILES = 0
    response = multipart(client, service.code, answers(), attachment=upload("a.pdf", PDF))
    assert response.json()["errors"]["__all__"][0]["code"] == "too_many_files"


def test_files_must_be_uploads_not_json(client, service):
    response = post_api(client, service.code, answers(attachment={"name": "x.pdf", "size": 1, "content_type": "application/pdf"}))
    assert response.status_code == 400 and response.json()["errors"]["attachment"][0]["code"] == "file_expected"


def test_private_uploads_are_never_served_by_url(client, service, settings):
    response = multipart(client, service.code, answers(), attachment=upload("a.pdf", PDF))
    stored = Submission.objects.get(tracking_code=response.json()["tracking_code"]).files.get()
    relative = Path(stored.file.path).relative_to(settings.MEDIA_ROOT) if settings.MEDIA_ROOT in Path(stored.file.path).parents else None
    from django.http import Http404
    from django.test import RequestFactory

    from cms.media import public_media

    settings.MEDIA_ROOT = settings.TUMEN_PRIVATE_MEDIA_ROOT.parent
    for path in (f"private/{stored.file.name}", f"./private/{stored.file.name}", f"x/../private/{stored.file.name}"):
        with pytest.raises(Http404):
            public_media(RequestFactory().get("/media/" + path), path)
    assert relative is None or client.get(f"/media/{relative}").status_code == 404


def test_rate_limits_per_address_and_per_service(client, service, settings):
    settings.TUMEN_RATE_PER_IP = "2/m"
    assert post_api(client, service.code, answers()).status_code == 201
    assert post_api(client, service.code, answers()).status_code == 201
    refused = post_api(client, service.code, answers())
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited"
    assert post_api(client, service.code, answers(), REMOTE_ADDR="10.1.2.3").status_code == 201
    settings.TUMEN_RATE_PER_IP = "0"
    settings.TUMEN_RATE_PER_SERVICE = "1/h"
    assert post_api(client, service.code, answers(), REMOTE_ADDR="10.9.9.8").status_code == 201
    assert post_api(client, service.code, answers(), REMOTE_ADDR="10.9.9.9").status_code == 429
    assert Submission.objects.count() == 4


def test_rate_limit_windows_start_again():
    from form_builder.ratelimit import Rate, hit

    rate = Rate.parse("2/m")
    assert rate == Rate(2, 60) and Rate.parse("5/2h") == Rate(5, 7200) and Rate.parse("0") is None
    with pytest.raises(ValueError):
        Rate.parse("many")
    assert hit("k", rate, now=60).allowed and hit("k", rate, now=61).allowed
    verdict = hit("k", rate, now=62)
    assert not verdict.allowed and verdict.retry_after == 58
    assert hit("k", rate, now=120).allowed


def test_tracking_codes_are_forgiving_to_type():
    assert normalize_tracking_code("tmn 7k3q 9xwd") == "TMN-7K3Q-9XWD"
    assert normalize_tracking_code("TMN7K3Q9XWO") == "TMN-7K3Q-9XW0"
    assert normalize_tracking_code("TMN-7K3Q") == "" and normalize_tracking_code("") == ""


def test_tracking_page_and_api(client, service):
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    submission.set_status(Status.APPROVED, actor="agency")
    page = client.get(f"/en/track/{code}/")
    assert page.status_code == 200
    assert "Approved" in page.content.decode() and "Дорж" not in page.content.decode()
    sloppy = client.get(f"/track/{code.lower().replace('-', '')}/")
    assert sloppy.status_code == 302 and sloppy.url == f"/track/{code}/"
    assert client.get("/track/TMN-0000-0000/").status_code == 404
    api = client.get(f"/api/v1/submissions/{code}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert [event["status"] for event in api["timeline"]] == ["received", "approved"]
    assert api["status_label"] == "Approved"
    assert client.get("/api/v1/submissions/nonsense").status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "QUERY"])
def test_read_only_api_endpoints_answer_other_methods_with_405_not_a_csrf_page(service, method):
    """A client of the API has no CSRF token: another method than GET is "not allowed" (405, with
    ``Allow``), never the website's HTML "CSRF verification failed" page (403)."""
    code = post_api(Client(), service.code, answers()).json()["tracking_code"]
    browser = Client(enforce_csrf_checks=True)
    for url in (
        "/api/v1/services/search",
        "/api/v1/services/autocomplete?q=x",
        f"/api/v1/services/{service.code}/form",
        f"/api/v1/submissions/{code}",
        "/api/v1/operator/submissions",
    ):
        response = browser.generic(method, url)
        assert response.status_code == 405, (url, response.status_code)
        assert response["Allow"] == "GET", url


# -- the HTML steps -----------------------------------------------------------------------------


def step_post(client, service, number, data, **files):
    return client.post(f"/apply/{service.code}/step/{number}/", {**data, **files})


def place_post(aimag="65", soum=None, bag=""):
    return {"address_0": aimag, "address_1": soum or soum_of(aimag), "address_2": bag}


STEP1 = {"register_number": "уб99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "99112233", **{}}


def test_html_application_with_back_navigation_review_and_receipt(client, service):
    assert client.get(f"/apply/{service.code}/").url == f"/apply/{service.code}/step/1/"
    response = step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    assert response.status_code == 302 and response.url.endswith("/step/2/")
    # An error keeps what was typed and says what is wrong.
    response = step_post(client, service, 2, {"request": "Миний хүсэлт", "action": "next"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Миний хүсэлт" in html and 'role="alert"' in html
    # Back saves the valid part and returns to step 1 with its answers.
    response = step_post(client, service, 2, {"request": "Миний хүсэлт", "action": "back"})
    assert response.url.endswith("/step/1/")
    html = client.get(response.url).content.decode()
    assert "УБ99010112" in html and "Дорж" in html
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    html = client.get(f"/apply/{service.code}/step/2/").content.decode()
    assert "Миний хүсэлт" in html
    response = step_post(client, service, 2, {"request": "Миний хүсэлт", "consent": "on", "action": "next"}, attachment=upload("scan.png", PNG))
    assert response.url.endswith("/review/")
    review = client.get(response.url).content.decode()
    assert "+97699112233" in review and "scan.png" in review and "Миний хүсэлт" in review
    response = client.post(f"/apply/{service.code}/review/")
    assert response.status_code == 302
    code = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert TRACKING_RE.match(code)
    receipt = client.get(response.url).content.decode()
    assert code in receipt and "Дорж" in receipt
    download = client.get(f"/receipt/{code}/download/")
    assert download["Content-Disposition"] == f'attachment; filename="{code}.txt"' and code in download.content.decode()
    submission = Submission.objects.get(tracking_code=code)
    assert submission.source == "web" and submission.files.get().content_type == "image/png"
    assert Draft.objects.count() == 0, "the draft is gone once submitted"
    # Another browser cannot read the receipt (it holds personal data), only the status.
    other = Client()
    assert other.get(f"/receipt/{code}/").status_code == 404
    assert other.get(f"/track/{code}/").status_code == 200


def test_html_steps_branch_on_answers(client, branching_service):
    service = branching_service
    response = step_post(client, service, 1, {"register_number": "УБ99010112", "has_vehicle": "false", "action": "next"})
    assert response.url.endswith("/step/3/"), "the vehicle step is skipped"
    assert client.get(f"/apply/{service.code}/step/2/").url.endswith("/step/3/"), "a skipped step cannot be opened"
    response = step_post(client, service, 3, {"action": "back"})
    assert response.url.endswith("/step/1/")
    response = step_post(client, service, 1, {"register_number": "УБ99010112", "has_vehicle": "true", "action": "next"})
    assert response.status_code == 400 and "plate" in response.context["form"].errors
    response = step_post(client, service, 1, {"register_number": "УБ99010112", "has_vehicle": "true", "plate": "1234УБА", "action": "next"})
    assert response.url.endswith("/step/2/")
    step_post(client, service, 2, {"vehicle_kind": "truck", "action": "next"})
    step_post(client, service, 3, {"consent": "on", "action": "next"})
    response = client.post(f"/apply/{service.code}/review/")
    submission = Submission.objects.get()
    assert submission.data == {"register_number": "УБ99010112", "has_vehicle": True, "plate": "1234УБА", "vehicle_kind": "truck", "consent": True}


def test_html_and_api_accept_and_refuse_the_same_answers(client, service):
    bad = {**STEP1, "register_number": "УБ99023012", "phone": "+1 202 555 0100", **place_post()}
    html = step_post(client, service, 1, {**bad, "action": "next"})
    api = post_api(Client(), service.code, answers(register_number=bad["register_number"], phone=bad["phone"]))
    html_codes = {key: [e.code for e in errors.as_data()] for key, errors in html.context["form"].errors.items()}
    api_codes = {key: [e["code"] for e in errors] for key, errors in api.json()["errors"].items()}
    assert html_codes == api_codes == {"register_number": ["birth_date"], "phone": ["country"]}

    step_post(client, service, 1, {**STEP1, **place_post(bag="3-р баг"), "action": "next"})
    step_post(client, service, 2, {"request": answers()["request"], "consent": "on", "action": "next"})
    client.post(f"/apply/{service.code}/review/")
    made_html = Submission.objects.get(source="web").data
    made_api = Submission.objects.get(tracking_code=post_api(Client(), service.code, answers()).json()["tracking_code"]).data
    assert made_html == made_api


def test_honeypot_and_csrf(client, service):
    response = step_post(client, service, 1, {**STEP1, **place_post(), "website": "http://spam.example", "action": "next"})
    assert response.status_code == 400 and Draft.objects.count() == 0
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/apply/{service.code}/step/1/", {**STEP1, "action": "next"}).status_code == 403


def save_for_later(client, service):
    response = step_post(client, service, 1, {**STEP1, **place_post(), "action": "save"})
    assert response.url.endswith("/saved/")
    page = client.get(response.url)
    return page.context["resume_code"], page


def test_save_and_resume_on_another_device_with_a_one_time_code(client, service):
    resume_code, page = save_for_later(client, service)
    assert resume_code in page.content.decode() and f"/resume/{resume_code}/" not in page.content.decode()
    other = Client()
    link = other.get(f"/resume/{resume_code}/")
    assert link.status_code == 200 and Draft.objects.get().resume_token_hash, "opening the link alone does not use the code"
    response = other.post("/resume/", {"code": resume_code.lower().replace("-", " ")})
    assert response.status_code == 302 and response.url.endswith("/step/1/")
    assert "Дорж" in other.get(response.url).content.decode()
    again = Client().post("/en/resume/", {"code": resume_code})
    assert again.status_code == 400 and "already used" in again.content.decode()
    # Saving again issues a new code.
    new_code, _page = save_for_later(other, service)
    assert new_code != resume_code


def test_drafts_expire(client, service, settings):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "action": "save"}, attachment=upload("a.pdf", PDF))
    code = client.get(f"/apply/{service.code}/saved/").context["resume_code"]
    draft = Draft.objects.get()
    assert draft.files.count() == 1 and draft.step == 1
    Draft.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = Client().post("/en/resume/", {"code": code})
    assert response.status_code == 400 and "expired" in response.content.decode()
    file_path = Path(draft.files.get().file.path)
    assert purge_expired_drafts() == 1
    assert Draft.objects.count() == 0 and StoredFile.objects.count() == 0 and not file_path.exists()


def test_purge_command_has_help_and_reports(capsys, service):
    from django.core.management import call_command

    Draft.objects.create(service=service, form_version=FormVersion.objects.first(), expires_at=timezone.now())
    call_command("purge_expired_drafts")
    assert "1" in capsys.readouterr().out and Draft.objects.count() == 0


# -- admin --------------------------------------------------------------------------------------


def agency_member(username, agency, role="moderators"):
    from service_pages.governance import sync_agency_groups

    if not Group.objects.filter(name=f"{agency.code} {role}").exists():
        sync_agency_groups()
    user = User.objects.create_user(username, password="pw")
    user.groups.add(Group.objects.get(name=f"{agency.code} {role}"))
    return user


@pytest.fixture
def staff(service):
    """A moderator of the service's agency: sees and handles that agency's submissions."""
    return agency_member("reviewer", service.agency)


@pytest.fixture
def other_agency_staff(service):
    from service_pages.models import Agency

    other = Agency.objects.exclude(pk=service.agency_id).filter(pages__isnull=False).first()
    return agency_member("outsider", other)


def test_admin_lists_filters_exports_and_changes_status(client, service, staff):
    made = [post_api(client, service.code, answers()).json()["tracking_code"] for _ in range(3)]
    Submission.objects.filter(tracking_code=made[0]).update(status=Status.APPROVED)
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/submissions/?status=received")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert made[1] in html and made[2] in html and made[0] not in html
    export = admin.get("/admin/submissions/?export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert {row[0] for row in rows[1:]} >= set(made)
    assert admin.get("/admin/submissions/?export=xlsx").status_code == 200

    submission = Submission.objects.get(tracking_code=made[1])
    inspect = admin.get(f"/admin/submissions/inspect/{submission.pk}/").content.decode()
    assert "+97699112233" in inspect and "register_number" in inspect
    response = admin.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "in_progress"})
    assert response.status_code == 302
    assert list(submission.events.values_list("status", "actor")) == [("received", "tumen"), ("in_progress", "reviewer")]
    assert admin.get("/admin/submissions/new/").status_code in (302, 403, 404)


def test_staff_see_only_their_own_agencys_submissions(client, service, staff, other_agency_staff):
    code = multipart(client, service.code, answers(), attachment=upload("a.pdf", PDF)).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    outsider = Client()
    outsider.force_login(other_agency_staff)
    assert code not in outsider.get("/admin/submissions/").content.decode()
    assert outsider.get(f"/admin/submissions/inspect/{submission.pk}/").status_code == 404
    assert outsider.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "rejected"}).status_code == 404
    assert outsider.get(reverse("form_builder_download_file", args=[submission.files.get().pk])).status_code == 404
    export = outsider.get("/admin/submissions/?export=csv")
    assert code not in b"".join(export.streaming_content).decode("utf-8-sig")
    submission.refresh_from_db()
    assert submission.status == "received"
    insider = Client()
    insider.force_login(staff)
    assert code in insider.get("/admin/submissions/").content.decode()


def test_agency_editors_edit_only_their_agencys_forms(service, other_agency_staff):
    from form_builder.wagtail_hooks import FormDefinitionPolicy

    editor = agency_member("form-editor", service.agency, role="editors")
    own = make_form(BRANCHING, slug="own-agency-form", agency=service.agency)
    national = FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG)
    policy = FormDefinitionPolicy(FormDefinition)
    assert policy.user_has_permission_for_instance(editor, "change", own)
    assert not policy.user_has_permission_for_instance(editor, "publish", own), "editors do not publish"
    assert not policy.user_has_permission_for_instance(editor, "change", national)
    assert not policy.user_has_permission_for_instance(other_agency_staff, "change", own)
    client = Client()
    client.force_login(editor)
    listing = client.get("/admin/snippets/form_builder/formdefinition/").content.decode()
    assert "own-agency-form" in listing and "Ерөнхий өргөдлийн маягт" not in listing
    assert client.get(f"/admin/snippets/form_builder/formdefinition/edit/{own.pk}/").status_code == 200
    assert client.get(f"/admin/snippets/form_builder/formdefinition/edit/{national.pk}/").status_code in (302, 403, 404)
    outsider = Client()
    outsider.force_login(other_agency_staff)
    assert outsider.get(f"/admin/snippets/form_builder/formdefinition/edit/{own.pk}/").status_code in (302, 403, 404)


def test_uploads_download_only_for_staff_with_permission(client, service, staff):
    code = multipart(client, service.code, answers(), attachment=upload("a.pdf", PDF)).json()["tracking_code"]
    stored = Submission.objects.get(tracking_code=code).files.get()
    url = reverse("form_builder_download_file", args=[stored.pk])
    assert client.get(url).status_code == 302, "anonymous users are sent to log in"
    nobody = User.objects.create_user("nobody", is_staff=True)
    nobody.user_permissions.add(Permission.objects.get(codename="access_admin"))  # no submission rights
    other = Client()
    other.force_login(nobody)
    assert other.get(url).status_code == 404
    admin = Client()
    admin.force_login(staff)
    response = admin.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]


def test_form_definitions_are_edited_in_the_admin(service, staff, admin_client):
    response = admin_client.get("/admin/snippets/form_builder/formdefinition/")
    assert response.status_code == 200 and "Ерөнхий өргөдлийн маягт" in response.content.decode()
    definition = FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG)
    edit = admin_client.get(f"/admin/snippets/form_builder/formdefinition/edit/{definition.pk}/")
    assert edit.status_code == 200 and "register_number" in edit.content.decode()


# -- fuzzing ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st


def defaults_keys():
    return [field["key"] for step in defaults.GENERAL_FORM_STEPS for field in step["fields"]]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from([*defaults_keys(), "other", ""])


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(JSON_VALUES, st.dictionaries(KEYS, JSON_VALUES, max_size=10)), partial=st.dictionaries(KEYS, JSON_VALUES, max_size=3))
def test_fuzzed_submissions_never_cause_a_server_error(client, service, data, partial):
    for body in ({"data": data}, {"data": {**answers(), **partial}}):
        response = client.post(f"/api/v1/services/{service.code}/submissions", body, content_type="application/json")
        assert response.status_code in (201, 400), response.content
        if response.status_code == 400:
            problems = response.json()
            assert "errors" in problems or "error" in problems


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", ""]))
def test_fuzzed_bodies_never_cause_a_server_error(client, service, raw, content_type):
    response = client.generic("POST", f"/api/v1/services/{service.code}/submissions", raw, content_type=content_type)
    assert response.status_code in (201, 400, 413), response.content


def test_a_valid_upload_is_kept_when_another_answer_on_the_step_is_wrong(client, service):
    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    response = step_post(client, service, 2, {"request": "x", "action": "next"}, attachment=upload("scan.pdf", PDF))
    assert response.status_code == 400
    html = response.content.decode()
    assert "scan.pdf" in html, "the page says the file is attached"
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert "Миний өгсөн мэдээлэл" in summary, "the error summary names the question"
    assert Draft.objects.get().files.get().name == "scan.pdf"
    response = step_post(client, service, 2, {"request": "x", "consent": "on", "action": "next"})
    assert response.url.endswith("/review/")
    client.post(f"/apply/{service.code}/review/")
    assert Submission.objects.get().files.get().name == "scan.pdf"


def test_other_agencies_cannot_reach_any_per_object_admin_page(client, service, staff, other_agency_staff):
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    national = FormDefinition.objects.get(slug=defaults.GENERAL_FORM_SLUG)
    outsider = Client()
    outsider.force_login(other_agency_staff)
    for url in (f"/admin/submissions/history/{submission.pk}/", f"/admin/submissions/usage/{submission.pk}/"):
        assert outsider.get(url).status_code == 404, url
    for action in ("unpublish", "history", "usage", "lock", "unlock"):
        url = f"/admin/snippets/form_builder/formdefinition/{action}/{national.pk}/"
        assert outsider.post(url).status_code in (403, 404), url
    national.refresh_from_db()
    assert national.live


def test_a_replaced_upload_that_cannot_be_removed_does_not_fail_the_application(
    client, service, monkeypatch, django_capture_on_commit_callbacks
):
    """Removing the citizen's replaced upload runs after the commit; a disk error there is logged,
    never a 500 for an application that was already accepted (the orphan is purged later)."""
    from django.core.files.storage import FileSystemStorage

    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "consent": "on", "action": "next"}, attachment=upload("kept.pdf", PDF))
    # An upload the answers no longer use (e.g. its question was hidden by a later answer).
    from form_builder.submissions import store_upload

    store_upload(upload("dropped.pdf", PDF), "hidden_question", draft=Draft.objects.get()).save()

    def disk_error(self, name):
        raise OSError("read-only file system")

    monkeypatch.setattr(FileSystemStorage, "delete", disk_error)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/apply/{service.code}/review/")
    assert response.status_code == 302
    assert Submission.objects.get().files.get().name == "kept.pdf"
