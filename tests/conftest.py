"""Shared fixtures, and the rule that a services suite never silently skips.

Tests marked ``engine`` need ``SEARCH_URL`` (a real OpenSearch/Elasticsearch)
and tests marked ``postgres`` need a PostgreSQL ``DATABASE_URL``. On a
developer machine without them those tests are deselected (and say so); with
``CI=true`` they are kept and fail, because a green CI must mean they ran.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import gunicorn_site
from tests import oidc_provider as oidc_provider_support
from tests.agency import AgencyServer

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

# Files whose searches (API, page, autocomplete, facets, failover, analysis) go to the engine when
# SEARCH_URL is set, though most of their tests also pass without one. Their tests get the
# ``engine_path`` marker, so a run can pick "everything that talks to the engine": make test's
# Elasticsearch run is ``-m "engine or engine_path"`` (the OpenSearch run takes every test).
ENGINE_PATH_FILES = {
    "test_engine.py",
    "test_health.py",
    "test_languages.py",
    "test_mongolian.py",
    "test_search.py",
    "test_security_public.py",
}


def pytest_itemcollected(item):
    if item.path.name in ENGINE_PATH_FILES:
        item.add_marker(pytest.mark.engine_path)


def _missing_services() -> dict[str, str]:
    missing = {}
    if not os.environ.get("SEARCH_URL"):
        missing["engine"] = "SEARCH_URL is not set (start one with scripts/search-engine.sh start)"
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        missing["postgres"] = "DATABASE_URL does not point at PostgreSQL (scripts/postgres.sh start)"
    return missing


def pytest_collection_modifyitems(config, items):
    missing = _missing_services()
    if IN_CI or not missing:
        return
    kept, deselected = [], []
    for item in items:
        (deselected if any(item.get_closest_marker(name) for name in missing) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
        reasons = "; ".join(missing.values())
        print(f"\nNOTE: {len(deselected)} services tests deselected: {reasons}")


def pytest_runtest_setup(item):
    missing = _missing_services()
    for name, reason in missing.items():
        if item.get_closest_marker(name):
            pytest.fail(f"this test needs a real service: {reason}", pytrace=False)


def pytest_report_header(config):
    import django
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    search = settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"tumen suite: database={db} search={search} CI={IN_CI} django={django.get_version()}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the shipped demo catalog once, through the command `make run` uses.

    Each test then runs inside a transaction that is rolled back, so tests see
    the same ~300 services and cannot disturb each other.
    """
    from django.core.management import call_command

    with django_db_blocker.unblock(), open(os.devnull, "w") as devnull:
        call_command("load_demo_catalog", stdout=devnull)


@pytest.fixture
def demo_catalog(db):
    """Marks a test that relies on the demo catalog loaded at session start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """The demo national identity provider (a real OpenID Connect provider, scripts/oidc_provider/)
    on a free loopback port, with its fault accounts; stopped at the end of the session."""
    provider = oidc_provider_support.start(tmp_path_factory.mktemp("oidc-provider"), _free_port())
    yield provider
    provider.process.terminate()
    provider.process.wait(timeout=30)


@pytest.fixture
def signin_settings(settings, oidc_provider):
    """Tumen configured to sign citizens in at ``oidc_provider``."""
    from citizens.oidc import forget_metadata

    settings.TUMEN_OIDC_ISSUER = oidc_provider.issuer
    settings.TUMEN_OIDC_CLIENT_ID = oidc_provider.client_id
    settings.TUMEN_OIDC_CLIENT_SECRET = oidc_provider.client_secret
    forget_metadata()
    yield oidc_provider
    forget_metadata()


@pytest.fixture(scope="session")
def live_site(tmp_path_factory, oidc_provider):
    """A real gunicorn serving the demo catalog on a free loopback port (embedded mode).

    Prepared like `make serve` does it (migrate, load the demo, collectstatic),
    in a throw-away folder, and stopped at the end of the session.
    """
    var = tmp_path_factory.mktemp("live-site")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL")},
        "DJANGO_SETTINGS_MODULE": "cms.settings.base",
        "TUMEN_VAR_DIR": str(var),
        "DEBUG": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        # The administrator of the admin browser tests (tests/test_csp.py), made by ensure_admin.
        "ADMIN_USERNAME": "live-admin",
        "ADMIN_PASSWORD": "live-admin-pw",
        # Citizens sign in at the demo identity provider (tests/test_signin.py's browser test).
        "TUMEN_OIDC_ISSUER": oidc_provider.issuer,
        "TUMEN_OIDC_CLIENT_ID": oidc_provider.client_id,
        "TUMEN_OIDC_CLIENT_SECRET": oidc_provider.client_secret,
        # "Test connection" to the stand-in agency endpoints the browser tests start on loopback.
        "TUMEN_DELIVERY_ALLOW_HTTP": "true",
        # The verify URL printed on issued documents and in their QR codes points at this site.
        "TUMEN_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    commands = (
        ["migrate", "--noinput", "-v0"],
        ["load_demo_catalog"],
        ["collectstatic", "--noinput", "-v0"],
        # A soum operator for the operator-mode browser test (Архангай, Батцэнгэл).
        ["create_operator", "live-operator", "--soum", "6504", "--password", "live-operator-pw"],
        ["ensure_admin"],
    )
    for command in commands:
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300, capture_output=True
        )
    process, base, _log = gunicorn_site.start(env, var, port)
    gunicorn_site.LIVE_SITE_ENV.update(env)  # for tests that add data to the site's database
    yield base
    process.terminate()
    process.wait(timeout=30)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (its own browser download is not possible here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# -- the delivery tests' shared fixtures -----------------------------------------------------------


@pytest.fixture
def fast_retries(settings, tmp_path):
    """Deliveries retry at once, uploads go to the test's own folder, e-mail stays in memory (the
    delivery test modules use it for every test: ``pytest.mark.usefixtures("fast_retries")``)."""
    settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = 0
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def agency_server():
    """A stand-in agency endpoint on loopback (tests/agency.py), stopped after the test."""
    server = AgencyServer()
    yield server
    server.stop()

