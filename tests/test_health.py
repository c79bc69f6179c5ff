"""GET /healthz tells a load balancer and an operator what is up."""

import os

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test import override_settings

from search.backends import engine_family, search_backends_setting

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_search_to_staff(admin_client):
    response = admin_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connection.vendor
    assert body["search"]["reachable"] is True
    assert body["status"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_is_down(client, monkeypatch, settings):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    settings.TUMEN_HEALTH_TOKEN = "monitor-token-0123456789"
    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "down"}
    # Without a database no session can be read: the token header still gets the details.
    response = client.get("/healthz", HTTP_X_HEALTH_TOKEN="monitor-token-0123456789")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"] == {"ok": False, "vendor": connection.vendor, "error": "OperationalError"}


def test_healthz_is_degraded_not_down_when_the_engine_is_unreachable(client, admin_client):
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    backends = search_backends_setting("http://user:pw@127.0.0.1:9", "opensearch2", "tumen_test", 1)
    with override_settings(WAGTAILSEARCH_BACKENDS=backends):
        assert client.get("/healthz").json() == {"status": "degraded"}
        response = admin_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["search"]["reachable"] is False
    assert body["search"]["backend"] == "opensearch2"
    assert "pw" not in body["search"]["url"]


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_anonymous_callers_get_only_the_status(client):
    # A load balancer needs the status code and "ok"/"degraded"; the engine's host, version and
    # the queue are for staff (issue 13: /healthz showed the search host and version to anyone).
    backends = search_backends_setting("http://user:pw@search.internal:9", "opensearch2", "tumen_test", 1)
    with override_settings(WAGTAILSEARCH_BACKENDS=backends):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded"}
    assert b"search.internal" not in response.content
    assert client.get("/healthz").json() == {"status": "ok"}


def test_signed_in_non_staff_get_only_the_status(client, django_user_model):
    user = django_user_model.objects.create_user("citizen", password="x")
    client.force_login(user)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_monitoring_token_header_gets_the_details(client, settings):
    settings.TUMEN_HEALTH_TOKEN = "monitor-token-0123456789"
    body = client.get("/healthz", HTTP_X_HEALTH_TOKEN="monitor-token-0123456789").json()
    assert body["database"]["ok"] is True and "search" in body and "tasks" in body
    assert client.get("/healthz", HTTP_X_HEALTH_TOKEN="wrong").json() == {"status": "ok"}
    settings.TUMEN_HEALTH_TOKEN = ""
    assert client.get("/healthz", HTTP_X_HEALTH_TOKEN="").json() == {"status": "ok"}


def test_staff_details_include_the_task_queue(admin_client):
    body = admin_client.get("/healthz").json()
    assert set(body["tasks"]) == {"ready", "running"}


@pytest.mark.engine
def test_healthz_names_the_real_engine_and_its_version(admin_client):
    body = admin_client.get("/healthz").json()
    backend = os.environ.get("SEARCH_BACKEND", "opensearch2")
    family, major = engine_family(backend)
    assert body["search"]["backend"] == backend
    assert body["search"]["engine"] == family
    assert body["search"]["version"].startswith(f"{major}.")
    assert body["status"] == "ok"


@pytest.mark.postgres
def test_services_suite_really_runs_on_postgresql():
    # Guards against a silent fallback to SQLite when DATABASE_URL is mistyped.
    assert connection.vendor == "postgresql"
