"""A citizen in a real browser: headless Chromium (Debian's) driven by Playwright.

Searches from the search page, narrows by a facet, opens a service. Runs
against ``live_site`` (gunicorn + the demo catalog).
"""

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="mn-MN")
    page = context.new_page()
    yield page
    context.close()


def test_search_filter_by_facet_and_open_a_service(live_site, page):
    page.goto(live_site + "/search/")
    page.get_by_label("Танд юу хэрэгтэй вэ?").fill("лавлагаа")
    page.keyboard.press("Enter")
    page.wait_for_selector(".result-list")
    heading = page.locator("#results-heading").inner_text()
    total = int(heading.split()[0])
    assert total > 10

    soum_link = page.locator('a[data-facet="soum"]').first
    expected = int(soum_link.locator(".count").inner_text().strip("()"))
    soum_link.click()
    page.wait_for_selector('a[data-facet="soum"][aria-current="true"]')
    assert int(page.locator("#results-heading").inner_text().split()[0]) == expected

    first = page.locator(".result-list .result h3 a").first
    title = first.inner_text()
    first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == title
    assert "Үйлчилгээний код" in page.content()
