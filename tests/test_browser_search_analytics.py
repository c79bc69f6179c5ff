"""Search analytics in a real browser (issue #17): a citizen's search finds nothing, the editor sees
it in the report, turns it into a synonym in one step, and the same search then finds services;
a click on a result is counted (the beacon of search/static/search/clicks.js, under the CSP).
Headless Chromium (Debian's) driven by Playwright, against ``live_site`` (gunicorn, embedded)."""

import time
from urllib.parse import quote

NOTHING = "зуурмагжуулалт"  # found in no demo service, even by the embedded search's typo and stem matching
ADMIN = ("live-admin", "live-admin-pw")  # made by ensure_admin in the live_site fixture


def sign_in(page, base):
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.locator("#id_username").fill(ADMIN[0])
    page.locator("#id_password").fill(ADMIN[1])
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")


def test_a_zero_result_search_becomes_a_synonym_that_finds_services(live_site, browser):
    context = browser.new_context(locale="mn-MN")
    citizen = context.new_page()
    errors = []
    citizen.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    citizen.goto(f"{live_site}/search/?q={quote(NOTHING)}")
    assert citizen.locator(".no-results").count() == 1

    editor_context = browser.new_context(locale="mn-MN")
    editor = editor_context.new_page()
    sign_in(editor, live_site)
    editor.goto(f"{live_site}/admin/search-report/")
    row = editor.locator(f'table[data-report="zero"] tr[data-query="{NOTHING}"]')
    assert row.count() == 1, "the zero-result search is in the report"
    row.locator('form[data-fix="synonym"] input[name="words"]').fill("гадаад паспорт")
    with editor.expect_navigation():
        row.locator('form[data-fix="synonym"] button').click()
    assert NOTHING in editor.locator(".messages").inner_text()

    citizen.goto(f"{live_site}/search/?q={quote(NOTHING)}")
    results = citizen.locator(".result-list li")
    assert results.count() > 0, "the same search now finds services"
    assert citizen.locator(".no-results").count() == 0

    # Following a result sends the click beacon; the report counts it for this search.
    first = citizen.locator(".result-list li h3 a").first
    with citizen.expect_navigation():
        first.click()
    clicked = ""
    for _attempt in range(20):
        editor.goto(f"{live_site}/admin/search-report/")
        top = editor.locator(f'table[data-report="top"] tr[data-query="{NOTHING}"] td')
        clicked = top.nth(3).inner_text()
        if clicked == "1":
            break
        time.sleep(0.25)
    assert clicked == "1", "one of the two searches was followed by a click"
    assert not [error for error in errors if "Content Security Policy" in error], errors
    context.close()
    editor_context.close()
