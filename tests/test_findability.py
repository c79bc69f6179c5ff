"""Search engines and other portals find every service: sitemap, robots.txt, meta, JSON-LD, redirects."""

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xmlschema
from django.core.cache import cache
from wagtail.contrib.redirects.models import Redirect
from wagtail.models import Locale, Page, PageViewRestriction

from service_pages.models import ServicePage

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).parent / "data" / "sitemaps"
XHTML = "http://www.w3.org/1999/xhtml"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": XHTML}


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _sitemap_urls(client) -> dict[str, dict[str, str]]:
    """Every ``<loc>`` of every file of the index, with its hreflang alternates."""
    index = client.get("/sitemap.xml")
    assert index.status_code == 200 and index["Content-Type"].startswith("application/xml")
    xmlschema.XMLSchema(SCHEMAS / "siteindex.xsd").validate(index.content.decode())
    urls = {}
    sitemap_schema = xmlschema.XMLSchema(SCHEMAS / "sitemap.xsd", locations=[(XHTML, str(SCHEMAS / "xhtml-link.xsd"))])
    for loc in ElementTree.fromstring(index.content).findall("s:sitemap/s:loc", NS):
        section = client.get(loc.text.replace("http://testserver", ""))
        assert section.status_code == 200
        sitemap_schema.validate(section.content.decode())
        for url in ElementTree.fromstring(section.content).findall("s:url", NS):
            location = url.find("s:loc", NS).text
            assert location not in urls, f"{location} listed twice"
            urls[location] = {link.get("hreflang"): link.get("href") for link in url.findall("x:link", NS)}
    return urls


def test_sitemap_lists_every_public_page_once_per_language_with_its_alternates(client, demo_catalog):
    urls = _sitemap_urls(client)
    expected = set()
    for page in Page.objects.live().public().filter(depth__gte=2).specific():
        expected.add(f"http://testserver{page.url}")
    assert set(urls) == expected
    service = ServicePage.objects.live().canonical().first()
    english = service.get_translation(Locale.objects.get(language_code="en"))
    mongolian_url, english_url = f"http://testserver{service.url}", f"http://testserver{english.url}"
    assert english_url.startswith("http://testserver/en/")
    assert urls[mongolian_url] == {"mn": mongolian_url, "en": english_url, "x-default": mongolian_url}
    assert urls[english_url] == urls[mongolian_url]


def test_sitemap_follows_publication_and_view_restrictions(client, demo_catalog):
    service = ServicePage.objects.live().canonical().first()
    url = f"http://testserver{service.url}"
    assert url in _sitemap_urls(client)
    service.unpublish()
    assert url not in _sitemap_urls(client)  # the cache key moved with the unpublish's log entry

    other = ServicePage.objects.live().canonical().exclude(pk=service.pk).first()
    other_url = f"http://testserver{other.url}"
    PageViewRestriction.objects.create(page=other, restriction_type=PageViewRestriction.PASSWORD, password="x")
    cache.clear()
    assert other_url not in _sitemap_urls(client)


def test_sitemap_is_split_into_files_when_large(client, demo_catalog, monkeypatch):
    from cms import sitemaps

    monkeypatch.setattr(sitemaps, "SECTION_SIZE", 100)
    urls = _sitemap_urls(client)
    originals = Page.objects.live().public().filter(depth__gte=2, locale__language_code="mn").count()
    index = client.get("/sitemap.xml").content.decode()
    assert index.count("<sitemap>") == -(-originals // 100) > 1
    assert len(urls) > 100
    assert client.get(f"/sitemap-{-(-originals // 100) + 1}.xml").status_code == 404


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_private_paths(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    for private in ("/admin/", "/apply/", "/en/apply/", "/api/", "/receipt/", "/operator/"):
        assert f"Disallow: {private}" in lines
    assert "Disallow: /" not in lines


def test_service_page_has_a_description_a_canonical_url_and_structured_data(client, demo_catalog):
    service = ServicePage.objects.live().canonical().filter(fee_mnt__gt=0).exclude(summary="").first()
    html = client.get(service.url).content.decode()
    assert f'<meta name="description" content="{service.summary[:40]}' in html
    assert f'<link rel="canonical" href="http://testserver{service.url}">' in html
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(match.group(1))
    assert data["@type"] == "GovernmentService"
    assert (data["name"], data["identifier"]) == (service.title, service.code)
    assert data["provider"] == {"@type": "GovernmentOrganization", "name": service.agency.name_mn}
    assert data["offers"] == {"@type": "Offer", "price": service.fee_mnt, "priceCurrency": "MNT"}
    assert data["url"] == f"http://testserver{service.url}"


def test_structured_data_cannot_break_out_of_its_script_block(client, demo_catalog):
    service = ServicePage.objects.live().canonical().first()
    service.title = "Лавлагаа </script><script>alert(1)</script>"
    service.save_revision().publish()
    html = client.get(service.url).content.decode()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and json.loads(block)["name"] == service.title


def test_pages_without_their_own_description_get_the_sites(client, demo_catalog):
    html = client.get("/").content.decode()
    assert re.search(r'<meta name="description" content="[^"]{40,}">', html)
    assert '<link rel="canonical" href="http://testserver/">' in html


def test_an_editors_redirect_sends_old_links_to_the_service(client, demo_catalog):
    service = ServicePage.objects.live().canonical().first()
    Redirect.objects.create(old_path="/old-service-link", redirect_page=service, is_permanent=True)
    response = client.get("/old-service-link")
    assert response.status_code == 301
    assert response["Location"].endswith(service.url)
