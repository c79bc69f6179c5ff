"""GET /healthz tells a load balancer and an operator what is up."""

import os

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test import override_settings

from search.backends import search_backends_setting

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_search(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connection.vendor
    assert body["search"]["reachable"] is True
    assert body["status"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"] == {"ok": False, "vendor": connection.vendor, "error": "OperationalError"}


def test_healthz_is_degraded_not_down_when_the_engine_is_unreachable(client):
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    backends = search_backends_setting("http://user:pw@127.0.0.1:9", "opensearch2", "tumen_test", 1)
    with override_settings(WAGTAILSEARCH_BACKENDS=backends):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["search"]["reachable"] is False
    assert body["search"]["backend"] == "opensearch2"
    assert "pw" not in body["search"]["url"]


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.engine
def test_healthz_names_the_real_engine_and_its_version(client):
    body = client.get("/healthz").json()
    assert body["search"]["backend"] == os.environ.get("SEARCH_BACKEND", "opensearch2")
    assert body["search"]["engine"] == "opensearch"
    assert body["search"]["version"].startswith("2.")
    assert body["status"] == "ok"


@pytest.mark.postgres
def test_services_suite_really_runs_on_postgresql():
    # Guards against a silent fallback to SQLite when DATABASE_URL is mistyped.
    assert connection.vendor == "postgresql"
