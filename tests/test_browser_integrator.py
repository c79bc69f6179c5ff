"""An agency integrator in a real browser (issue #16): signs in to the admin, adds a webhook target
for their agency, runs "Test connection" against a real HTTP server on loopback, replays a dead
delivery, and cannot see another agency's rows. Headless Chromium (Debian's) driven by Playwright,
against ``live_site`` (gunicorn + the demo catalog)."""

import json
import re
import subprocess
import sys

import pytest

from tests import gunicorn_site, integrator_site
from tests.agency import AgencyServer


@pytest.fixture(scope="module")
def seeded(live_site):
    result = subprocess.run(
        [sys.executable, "-m", "tests.integrator_site"], cwd=gunicorn_site.ROOT, env=gunicorn_site.LIVE_SITE_ENV,
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def agency_endpoint():
    server = AgencyServer()
    yield server
    server.stop()


def test_an_integrator_configures_tests_and_replays_only_their_agency(live_site, seeded, browser, agency_endpoint):
    context = browser.new_context(locale="mn-MN")
    page = context.new_page()
    page.goto(f"{live_site}/admin/login/?next=/admin/")
    page.locator("#id_username").fill(integrator_site.USERNAME)
    page.locator("#id_password").fill(integrator_site.PASSWORD)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.wait_for_url("**/admin/")

    # A new webhook target: the agency choice is their own agency only.
    page.goto(f"{live_site}/admin/plugin_configs/new/?plugin=webhook")
    options = page.locator("#id_agency option")
    assert options.count() == 1, "only their own agency is offered"
    page.locator("#id_name").fill("registry")
    page.locator("#id_option__url").fill(agency_endpoint.url)
    page.locator("#id_option__secret").fill("a-long-shared-signing-secret")
    with page.expect_navigation():
        page.locator("#id_name").press("Enter")
    page.goto(f"{live_site}/admin/plugin_configs/")
    listing = page.content()
    edit_links = re.findall(r'href="/admin/plugin_configs/edit/(\d+)/"', listing)
    assert len(set(edit_links)) == 2 and "registry" in listing, "their two targets, not the other agency's"
    pk = max(edit_links, key=int)  # the one just added

    # Test connection: a real request to the loopback server.
    page.goto(f"{live_site}/admin/plugin_configs/inspect/{pk}/")
    assert "a-long-shared-signing-secret" not in page.content(), "the secret is never shown again"
    with page.expect_navigation():
        page.locator(f'form[action$="/plugin_configs/check/{pk}/"] button').click()
    assert "HTTP 200" in page.locator(".messages").inner_text()
    assert agency_endpoint.received and agency_endpoint.received[-1].method == "HEAD"

    # Their dead delivery: listed, replayed.
    page.goto(f"{live_site}/admin/deliveries/?state=dead")
    rows = page.content()
    assert seeded["own_tracking_code"] in rows and seeded["their_tracking_code"] not in rows
    page.goto(f"{live_site}/admin/deliveries/inspect/{seeded['own_delivery']}/")
    with page.expect_navigation():
        page.locator('form[action*="/deliveries/replay/"] button').click()
    assert page.locator(".messages").inner_text().strip()
    assert page.locator('form[action*="/deliveries/replay/"]').count() == 0, "no longer dead: nothing to replay"

    # The other agency's rows: not on the dashboard, 404 by URL.
    page.goto(f"{live_site}/admin/delivery-dashboard/")
    dashboard = page.content()
    assert f'data-agency="{seeded["own_agency"]}"' in dashboard
    assert f'data-agency="{seeded["their_agency"]}"' not in dashboard
    response = page.goto(f"{live_site}/admin/deliveries/inspect/{seeded['their_delivery']}/")
    assert response.status == 404
    context.close()
