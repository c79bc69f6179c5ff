"""The services suite talks to a real search engine (never a mock)."""

import pytest
from django.conf import settings
from django.core.management import call_command
from wagtail.search.backends import get_search_backend

from search.backends import engine_family
from service_pages.catalog import Lookups, create_service_page, service_fields
from service_pages.models import ServicePage

pytestmark = [pytest.mark.engine, pytest.mark.django_db]


@pytest.fixture
def fresh_index(demo_catalog, capsys):
    """Rebuild the test index from the database, as an operator would."""
    call_command("update_index")
    capsys.readouterr()
    backend = get_search_backend()
    backend.get_index_for_model(ServicePage).refresh()
    return backend


def test_backend_is_the_configured_engine(fresh_index):
    assert type(fresh_index).__module__.startswith("wagtail.search.backends.") or "modelsearch" in type(
        fresh_index
    ).__module__
    assert "database" not in type(fresh_index).__module__
    # The engine the run asked for (SEARCH_BACKEND), not just any that answers: make test runs
    # these tests once on OpenSearch 2 and once on Elasticsearch 7.
    family, major = engine_family(settings.SEARCH_BACKEND)
    info = fresh_index.es.info()
    assert info["version"].get("distribution", "elasticsearch") == family
    assert info["version"]["number"].startswith(f"{major}.")


def test_demo_services_are_found_in_the_engine(fresh_index):
    results = list(ServicePage.objects.live().search("паспорт", backend="default"))
    titles = [page.title for page in results]
    assert "Гадаад паспорт олгох" in titles


def test_a_published_service_is_indexed_without_a_rebuild(fresh_index):
    row = {
        "code": "TEST-ENGINE-1",
        "title_mn": "Тэмээний уралдааны зөвшөөрөл олгох",
        "agency_code": "ubeg",
        "category": "business-licensing",
        "channels": "online",
    }
    create_service_page(service_fields(row, Lookups.load()))
    fresh_index.get_index_for_model(ServicePage).refresh()
    codes = [page.code for page in ServicePage.objects.live().search("тэмээний уралдааны")]
    assert codes[:1] == ["TEST-ENGINE-1"]
