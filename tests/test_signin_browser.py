"""A citizen signs in through the demo national identity provider in a real browser (Debian's
headless Chromium driven by Playwright), applies with the verified answers locked, finds the
application in My applications, and signs out (here and at the provider)."""

import pytest

SERVICE = "DEMO-00001"
BOLD = "УБ90010112"


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="mn-MN")
    page = context.new_page()
    yield page
    context.close()


def _press(page, action):
    with page.expect_navigation() as navigation:
        page.locator(f'form.application-form button[name="action"][value="{action}"]').click()
    return navigation.value


def test_sign_in_apply_with_locked_answers_find_it_and_sign_out(live_site, oidc_provider, page):
    page.goto(f"{live_site}/apply/{SERVICE}/")
    page.wait_for_url(f"**/apply/{SERVICE}/step/1/")
    with page.expect_navigation():
        page.locator("a.citizen-signin").click()

    # At the provider: its own sign-in page.
    assert page.url.startswith(oidc_provider.base + "/login/")
    page.locator('input[name="username"][value="bold"]').check()
    page.locator("#id_password").fill("demo")
    with page.expect_navigation():
        page.locator('button[type="submit"]').click()
    page.wait_for_url(f"{live_site}/apply/{SERVICE}/step/1/")
    assert "Батбаяр Болд" in page.get_by_test_id("citizen-name").inner_text()

    # The verified answers are filled in and cannot be typed over.
    register = page.locator("#id_register_number")
    assert register.input_value() == BOLD and register.get_attribute("readonly") is not None
    assert page.locator("#id_last_name").input_value() == "Батбаяр"
    assert page.locator("#id_phone").input_value() == "+97699112233"
    assert page.get_by_test_id("locked-register_number").is_visible()
    register.press_sequentially("99")
    assert register.input_value() == BOLD
    page.locator("#id_email").fill("bold@example.mn")
    aimag = page.locator("#id_address_0 option:not([value=''])").nth(1).get_attribute("value")
    page.locator("#id_address_0").select_option(aimag)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#id_address_1 optgroup')).filter(g => !g.disabled).length === 1"
    )
    soum = page.locator("#id_address_1 optgroup:not([disabled]) option").first.get_attribute("value")
    page.locator("#id_address_1").select_option(soum)
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/step/2/")
    page.locator("#id_request").fill("Оршин суугаа газрын лавлагаа авах хүсэлтэй байна.")
    page.locator("#id_consent").check()
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/review/")
    assert BOLD in page.locator("dl.answers").inner_text()
    with page.expect_navigation():
        page.locator('form:has(input[name="website"]) button[type="submit"]').click()
    page.wait_for_url("**/receipt/TMN-*/")
    tracking = page.get_by_test_id("tracking-code").inner_text().strip()

    # My applications lists it; its page shows the timeline.
    page.get_by_test_id("citizen-nav").locator("a").first.click()
    page.wait_for_url(f"{live_site}/my/")
    row = page.locator(f'tr[data-tracking-code="{tracking}"]')
    assert row.count() == 1
    with page.expect_navigation():
        row.locator("a").click()
    assert page.get_by_test_id("tracking-code").inner_text().strip() == tracking
    assert page.get_by_test_id("timeline").locator("li").count() >= 1

    # Sign out: here, then at the provider, which sends the browser back.
    page.get_by_test_id("citizen-nav").locator('button[type="submit"]').click()
    page.wait_for_url(f"{live_site}/signout/done/")
    assert page.get_by_test_id("signed-out").is_visible()
    assert page.get_by_test_id("citizen-nav").count() == 0
    page.goto(f"{live_site}/my/")
    assert page.url.startswith(oidc_provider.base + "/login/"), "signed out at the provider too: it asks again"
