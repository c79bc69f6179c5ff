"""The public site and the demo catalog that `make run` loads."""

import pytest
from django.core.management import call_command

from service_pages.catalog import read_csv
from service_pages.management.commands.load_demo_catalog import DEMO_DIR
from service_pages.models import AgencyPage, Aimag, ServicePage, Soum

pytestmark = pytest.mark.django_db


def test_places_ship_with_the_product():
    assert Aimag.objects.count() == 22
    assert Soum.objects.filter(kind="soum").count() == 330
    assert Soum.objects.filter(kind="district", aimag__is_capital=True).count() == 9


def test_demo_catalog_loads_every_shipped_service(demo_catalog):
    shipped = read_csv(DEMO_DIR / "services.csv")
    assert len(shipped) >= 200
    assert ServicePage.objects.live().canonical().count() == len(shipped)
    # Every service sits under its own agency's page: catalog → agency → service.
    for page in ServicePage.objects.select_related("agency")[:50]:
        assert page.get_parent().specific.agency == page.agency
    assert AgencyPage.objects.canonical().count() == len(read_csv(DEMO_DIR / "agencies.csv"))


def test_loading_the_demo_twice_changes_nothing(demo_catalog, capsys):
    before, pages_before = ServicePage.objects.canonical().count(), ServicePage.objects.count()
    call_command("load_demo_catalog")
    assert ServicePage.objects.count() == pages_before
    out = capsys.readouterr().out
    assert f"created=0 updated=0 unchanged={before} errors=0" in out
    assert f"language=en created=0 updated=0 unchanged={before}" in out


def test_service_page_shows_what_a_citizen_needs(client, demo_catalog):
    page = ServicePage.objects.by_code("DEMO-00003")
    response = client.get(page.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert page.title in html
    assert page.agency.name_mn in html
    for document in page.document_list:
        assert document in html
    assert "50,000" in html or "50 000" in html or "50000" in html


def test_home_page_and_agency_listing(client, demo_catalog):
    home = client.get("/")
    assert home.status_code == 200
    assert 'lang="mn"' in home.content.decode()
    agency_page = AgencyPage.objects.canonical().get(agency__code="ubeg")
    listing = client.get(agency_page.url).content.decode()
    assert "Гадаад паспорт олгох" in listing


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-service/")
    assert response.status_code == 404
    assert "<h1>" in response.content.decode()


def test_admin_is_served(client):
    assert client.get("/admin/login/").status_code == 200


def test_service_page_links_agency_category_and_place_to_listings(client, demo_catalog):
    page = ServicePage.objects.filter(soum__isnull=False).select_related("category", "aimag", "soum").first()
    html = client.get(page.url).content.decode()
    assert f'href="{page.get_parent().url}"' in html
    assert f"/search/?category={page.category.slug}" in html
    assert f"/search/?aimag={page.aimag.code}" in html and f"/search/?soum={page.soum.code}" in html
    listing = client.get(f"/search/?soum={page.soum.code}").content.decode()
    assert page.title in listing


@pytest.mark.parametrize("model", ["agency", "category", "aimag", "soum"])
def test_catalog_reference_data_is_editable_in_the_admin(admin_client, model):
    assert admin_client.get(f"/admin/snippets/service_pages/{model}/").status_code == 200
    assert admin_client.get(f"/admin/snippets/service_pages/{model}/add/").status_code == 200
