"""HTML pages travel gzipped to browsers that accept it; the JSON API stays as it is described."""

import gzip

import pytest

from service_pages.models import ServicePage

pytestmark = pytest.mark.django_db


def test_a_page_is_gzipped_for_a_browser_that_accepts_it(client, demo_catalog):
    url = ServicePage.objects.live().canonical().first().url
    plain = client.get(url)
    zipped = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content) / 2


def test_the_api_is_not_gzipped(client, demo_catalog):
    response = client.get("/api/v1/services/search?q=a", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "Content-Encoding" not in response
