"""Shared fixtures, and the rule that a services suite never silently skips.

Tests marked ``engine`` need ``SEARCH_URL`` (a real OpenSearch/Elasticsearch)
and tests marked ``postgres`` need a PostgreSQL ``DATABASE_URL``. On a
developer machine without them those tests are deselected (and say so); with
``CI=true`` they are kept and fail, because a green CI must mean they ran.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


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
