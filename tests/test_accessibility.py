"""axe-core (bundled by axe-playwright-python) in headless Chromium over the citizen's pages:
no serious or critical violations on the home page, search results, a service page, a form step
(also with errors shown), check your answers, the receipt and the tracking page."""

import pytest

from tests.test_browser import SERVICE, _fill_step_one, _press

BLOCKING = ("serious", "critical")


def blocking_violations(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("language", ["mn", "en"])
def test_public_pages_have_no_serious_accessibility_violations(live_site, browser, language, tmp_path):
    prefix = "" if language == "mn" else "/en"
    context = browser.new_context(locale="mn-MN")
    page = context.new_page()
    checked = {}

    def check(name):
        page.wait_for_load_state()
        checked[name] = blocking_violations(page)

    page.goto(f"{live_site}{prefix}/")
    check("home")
    page.goto(f"{live_site}{prefix}/search/?q=лавлагаа")
    check("search results")
    page.goto(f"{live_site}{prefix}/apply/{SERVICE}/")
    service_url = page.locator(".breadcrumb a").get_attribute("href")
    page.goto(live_site + service_url)
    check("service page")
    page.goto(f"{live_site}{prefix}/apply/{SERVICE}/step/1/")
    check("form step")
    _press(page, "next")
    check("form step with errors")
    _fill_step_one(page)
    _press(page, "next")
    page.locator("#id_request").fill("Лавлагаа авах хүсэлтэй байна.")
    page.locator("#id_consent").check()
    _press(page, "next")
    check("check your answers")
    with page.expect_navigation():
        page.locator('button[name="action"][value="submit"]').click()
    check("receipt")
    code = page.locator("[data-testid=tracking-code]").inner_text().strip()
    page.goto(f"{live_site}{prefix}/track/{code}/")
    check("tracking page")
    context.close()
    failures = {name: problems for name, problems in checked.items() if problems}
    assert len(checked) == 8
    assert not failures, failures
