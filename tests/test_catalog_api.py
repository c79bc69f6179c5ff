"""The open catalog API (/api/v1/services, /services/<code>, agencies, categories, downloads).

On the demo catalog loaded for the session (about 300 services): the cursor reaches every
public service once, restricted and unpublished services never appear, conditional requests
get 304 until the catalog changes, and bad parameters get a 400 in both languages.
"""

import csv
import io
import json

import pytest
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction

from service_pages.models import AgencyPage, ServicePage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def open_data_dir(settings, tmp_path):
    settings.TUMEN_OPEN_DATA_DIR = tmp_path / "open-data"


def public_codes() -> set[str]:
    return set(ServicePage.objects.live().public().canonical().values_list("code", flat=True))


def walk(client, url="/api/v1/services?limit=7") -> list[str]:
    codes = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        codes += [item["code"] for item in body["results"]]
        url = body["next"]
    return codes


def restrict_some() -> tuple[ServicePage, AgencyPage]:
    """A password on one service, and a login restriction on a whole agency's section."""
    service = ServicePage.objects.canonical().live().order_by("code").first()
    PageViewRestriction.objects.create(page=service, restriction_type=PageViewRestriction.PASSWORD, password="x")
    section = AgencyPage.objects.canonical().get(agency__code="police")
    PageViewRestriction.objects.create(page=section, restriction_type=PageViewRestriction.LOGIN)
    return service, section


def test_the_cursor_walks_every_public_service_exactly_once(client, demo_catalog):
    restricted, section = restrict_some()
    unpublished = ServicePage.objects.canonical().live().exclude(agency__code="police").order_by("-code").first()
    unpublished.unpublish()
    codes = walk(client)
    assert len(codes) == len(set(codes)), "no service twice"
    assert set(codes) == public_codes()
    assert len(codes) > 250
    hidden = {restricted.code, unpublished.code, *ServicePage.objects.child_of(section).values_list("code", flat=True)}
    assert len(hidden) > 3 and not hidden & set(codes)
    # Another page size walks the same services in the same order.
    assert walk(client, "/api/v1/services?limit=1000") == codes


def test_filters_as_in_search(client, demo_catalog):
    codes = walk(client, "/api/v1/services?agency=ubeg&channel=online&limit=50")
    expected = ServicePage.objects.live().canonical().filter(agency__code="ubeg", channel_online=True)
    assert sorted(codes) == sorted(expected.values_list("code", flat=True)) and codes
    local = walk(client, "/api/v1/services?category=livestock-agriculture&stages=single&limit=50")
    expected = ServicePage.objects.live().canonical().filter(category__slug="livestock-agriculture", stages=1)
    assert sorted(local) == sorted(expected.values_list("code", flat=True)) and local
    soum = ServicePage.objects.live().canonical().exclude(soum=None).first().soum
    assert set(walk(client, f"/api/v1/services?soum={soum.code}")) == set(
        ServicePage.objects.live().canonical().filter(soum=soum).values_list("code", flat=True)
    )


def test_updated_since_gives_what_changed_for_harvesting(client, demo_catalog):
    since = timezone.now().isoformat()
    page = ServicePage.objects.canonical().get(code="DEMO-00005")
    page.title_en = "Register a marriage (updated)"
    page.save_revision().publish()
    response = client.get("/api/v1/services", {"updated_since": since})
    assert [item["code"] for item in response.json()["results"]] == ["DEMO-00005"]
    assert client.get("/api/v1/services?updated_since=2000-01-01").json()["next"], "everything since 2000"


def test_a_service_in_full(client, demo_catalog):
    page = ServicePage.objects.canonical().filter(stages=2, channel_online=True, instant_reference=False).first()
    response = client.get(f"/api/v1/services/{page.code}")
    assert response.status_code == 200
    item = response.json()
    english = ServicePage.objects.in_language("en").get(translation_key=page.translation_key)
    assert item["code"] == page.code
    assert item["title"] == {"mn": page.title, "en": english.title}
    assert item["url"] == {"mn": page.url, "en": english.url}
    assert item["summary"]["mn"] == page.summary and item["description"]["mn"] == page.description
    assert item["fee_mnt"] == page.fee_mnt and item["processing_days"] == page.processing_days
    assert item["required_documents"] == page.document_list
    assert item["legal_basis"] == page.legal_basis
    assert item["agency"]["code"] == page.agency.code and item["agency"]["name"]["en"] == page.agency.name_en
    stage_codes = [code.strip() for code in page.stage_agencies.split("|")]
    assert [stage["agency"]["code"] for stage in item["stages"]] == stage_codes and len(stage_codes) == 2
    assert all(stage["agency"]["name"]["mn"] for stage in item["stages"])
    assert "online" in item["channels"]
    # The form link works: the application starts there, and its JSON form is served.
    assert client.get(item["apply"]["url"]["mn"]).status_code in (200, 302)
    assert client.get(item["apply"]["form_api"]).status_code == 200
    local = ServicePage.objects.canonical().exclude(soum=None).first()
    place = client.get(f"/api/v1/services/{local.code}").json()["place"]
    assert place["soum"]["code"] == local.soum.code and place["aimag"]["code"] == local.aimag.code


def test_restricted_unpublished_and_unknown_services_are_404(client, demo_catalog):
    restricted, section = restrict_some()
    in_section = ServicePage.objects.child_of(section).first()
    unpublished = ServicePage.objects.canonical().get(code="DEMO-00003")
    unpublished.unpublish()
    for code in (restricted.code, in_section.code, unpublished.code, "NO-SUCH-CODE"):
        response = client.get(f"/api/v1/services/{code}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "service_not_found"
        assert set(response.json()["error"]["message"]) == {"mn", "en"}


def test_a_restricted_english_page_is_left_out_of_its_service(client, demo_catalog):
    page = ServicePage.objects.canonical().get(code="DEMO-00001")
    english = ServicePage.objects.in_language("en").get(translation_key=page.translation_key)
    PageViewRestriction.objects.create(page=english, restriction_type=PageViewRestriction.LOGIN)
    item = client.get("/api/v1/services/DEMO-00001").json()
    assert item["url"]["en"] is None and item["summary"]["en"] is None


def test_agencies_and_categories_count_public_services(client, demo_catalog):
    restrict_some()
    agencies = client.get("/api/v1/agencies").json()["results"]
    by_code = {agency["code"]: agency for agency in agencies}
    assert sum(agency["services"] for agency in agencies) == len(public_codes())
    assert by_code["police"]["services"] == 0
    assert by_code["ubeg"]["name"]["en"] == "General Authority for State Registration"
    categories = client.get("/api/v1/categories").json()["results"]
    assert sum(category["services"] for category in categories) == len(public_codes())
    first = categories[0]
    assert len(walk(client, first["services_url"])) == first["services"]


def test_conditional_requests_get_304_until_the_catalog_changes(client, demo_catalog):
    for url in ("/api/v1/services?limit=5", "/api/v1/services/DEMO-00002", "/api/v1/agencies", "/api/v1/services.csv"):
        response = client.get(url)
        assert response.status_code == 200
        etag, modified = response["ETag"], response["Last-Modified"]
        assert "public" in response["Cache-Control"] and "max-age" in response["Cache-Control"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    response = client.get("/api/v1/services/DEMO-00002")
    page = ServicePage.objects.canonical().get(code="DEMO-00002")
    page.fee_mnt += 1000
    page.save_revision().publish()
    changed = client.get("/api/v1/services/DEMO-00002", headers={"If-None-Match": response["ETag"]})
    assert changed.status_code == 200 and changed.json()["fee_mnt"] == page.fee_mnt
    # A restriction writes no audit-log entry, and still changes the answer's ETag.
    before = client.get("/api/v1/services?limit=5")["ETag"]
    PageViewRestriction.objects.create(page=Page.objects.get(pk=page.pk), restriction_type=PageViewRestriction.LOGIN)
    assert client.get("/api/v1/services?limit=5", headers={"If-None-Match": before}).status_code == 200


@pytest.mark.parametrize(
    "query, field, code",
    [
        ("cursor=not-a-cursor", "cursor", "invalid_cursor"),
        ("cursor=WyJ4IiwxXQ", "cursor", "invalid_cursor"),  # valid base64 and JSON, not a position
        ("updated_since=yesterday", "updated_since", "invalid_date"),
        ("updated_since=2026-13-45", "updated_since", "invalid_date"),
        ("agency=no-such-agency", "agency", "unknown_value"),
        ("category=nothing", "category", "unknown_value"),
        ("soum=999999", "soum", "unknown_value"),
        ("channel=fax", "channel", "unknown_value"),
        ("stages=three", "stages", "unknown_value"),
        ("limit=0", "limit", "invalid_parameter"),
        ("limit=abc", "limit", "invalid_parameter"),
        ("limit=100000", "limit", "invalid_parameter"),
        ("agency=%00", "agency", "invalid_parameter"),
    ],
)
def test_bad_parameters_are_400_in_both_languages(client, demo_catalog, query, field, code):
    response = client.get(f"/api/v1/services?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["field"] == field
    assert error["message"]["mn"] and error["message"]["en"]


def test_bulk_downloads_hold_the_whole_public_catalog(client, demo_catalog):
    restricted, _section = restrict_some()
    response = client.get("/api/v1/services.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(b"".join(response.streaming_content))
    assert data["count"] == len(data["services"]) == len(public_codes())
    assert {item["code"] for item in data["services"]} == public_codes()
    assert data["services"][0] == client.get(f"/api/v1/services/{data['services'][0]['code']}").json()
    response = client.get("/api/v1/services.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))
    assert {row["code"] for row in rows} == public_codes() and restricted.code not in {row["code"] for row in rows}
    row = next(row for row in rows if row["code"] == "DEMO-00002")
    assert row["title_mn"] == ServicePage.objects.canonical().get(code="DEMO-00002").title
    assert row["url_en"].startswith("/en/")


def test_the_csv_download_imports_as_it_is(client, demo_catalog, tmp_path):
    """Open data in the import's own format: importing it changes nothing."""
    from django.core.management import call_command

    path = tmp_path / "catalog.csv"
    path.write_bytes(b"".join(client.get("/api/v1/services.csv").streaming_content))
    out = io.StringIO()
    call_command("import_services", str(path), stdout=out)
    assert "created=0 updated=0" in out.getvalue()


def test_only_get(client, demo_catalog):
    assert client.post("/api/v1/services").status_code == 405
    assert client.delete("/api/v1/services/DEMO-00001").status_code == 405
