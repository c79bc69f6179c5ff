"""A citizen in a real browser: headless Chromium (Debian's) driven by Playwright.

Searches from the search page, narrows by a facet, opens a service. Runs
against ``live_site`` (gunicorn + the demo catalog).
"""

import re

import pytest

from tests.browser_steps import enter_citizen_identity, fill_general_form, press


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


# -- applying online: steps, upload, check your answers, receipt, tracking, save and resume ------

SERVICE = "DEMO-00001"
REGISTER = "УБ99010112"
PHONE = "9911 2233"
PHONE_NORMALIZED = "+97699112233"
HONEYPOT = "website"
TRACKING_CODE = re.compile(r"^TMN-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


_press = press  # the name the other browser tests import


def _open_application(page, base):
    """Open the service's page, check it takes online applications, and start at step 1."""
    page.goto(f"{base}/apply/{SERVICE}/")
    page.wait_for_url(f"**/apply/{SERVICE}/step/1/")
    service_url = page.locator(".breadcrumb a").get_attribute("href")
    page.goto(base + service_url)
    apply_link = page.locator(f'a[href$="/apply/{SERVICE}/"]')
    assert apply_link.count() == 1, "the demo service should take online applications"
    apply_link.click()
    page.wait_for_url(f"**/apply/{SERVICE}/step/1/")
    page.wait_for_selector('form.application-form[data-step="1"]')


def _visible_soum_groups(page):
    return page.locator("#id_address_1").evaluate(
        "select => Array.from(select.querySelectorAll('optgroup'))"
        ".filter(group => !group.hidden && !group.disabled).map(group => group.label)"
    )


def _fill_step_one(page):
    """Fill the applicant step; returns (aimag code, aimag name, soum code, soum name)."""
    page.locator("#id_register_number").fill(REGISTER)
    page.locator("#id_last_name").fill("Бат")
    page.locator("#id_first_name").fill("Болд")
    page.locator("#id_phone").fill(PHONE)
    page.locator("#id_email").fill("bold@example.mn")

    all_groups = page.locator("#id_address_1 optgroup").count()
    assert all_groups > 2, "the soum list should group soums by aimag"
    # An aimag that is not the first one, so narrowing has something to hide on both sides.
    aimag = page.locator("#id_address_0 option:not([value=''])").nth(1)
    aimag_code, aimag_name = aimag.get_attribute("value"), aimag.inner_text().strip()
    page.locator("#id_address_0").select_option(aimag_code)
    # form.js narrows the soum list to the chosen aimag's optgroup.
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#id_address_1 optgroup'))"
        ".filter(group => !group.disabled).length === 1"
    )
    assert _visible_soum_groups(page) == [aimag_name]
    soum = page.locator(f'#id_address_1 optgroup[label="{aimag_name}"] option').first
    soum_code, soum_name = soum.get_attribute("value"), soum.inner_text().strip()
    page.locator("#id_address_1").select_option(soum_code)
    page.locator("#id_address_2").fill("3-р баг")
    return aimag_code, aimag_name, soum_code, soum_name


def _assert_step_one_kept(page, aimag_code, soum_code):
    assert page.locator("#id_register_number").input_value() == REGISTER
    assert page.locator("#id_last_name").input_value() == "Бат"
    assert page.locator("#id_first_name").input_value() == "Болд"
    assert page.locator("#id_phone").input_value() in (PHONE, PHONE_NORMALIZED)
    assert page.locator("#id_email").input_value() == "bold@example.mn"
    assert page.locator("#id_address_0").input_value() == aimag_code
    assert page.locator("#id_address_1").input_value() == soum_code
    assert page.locator("#id_address_2").input_value() == "3-р баг"


def test_multi_step_application_with_upload_reaches_the_receipt(live_site, page, tmp_path):
    from django.utils import translation

    from form_builder.models import Status

    _open_application(page, live_site)
    aimag_code, aimag_name, soum_code, soum_name = _fill_step_one(page)
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/step/2/")

    # Step 2 without the required consent: the error summary, and what was typed is still there.
    request_text = "Лавлагаа авах хүсэлтэй байна.\nБаярлалаа."
    page.locator("#id_request").fill(request_text)
    response = _press(page, "next")
    assert response.status == 400
    assert page.url.endswith(f"/apply/{SERVICE}/step/2/")
    summary = page.get_by_role("alert")
    summary.wait_for()
    assert summary.locator('a[href="#field-consent"]').count() == 1
    assert page.locator("#field-consent.has-error .error-message").count() == 1
    assert page.locator("#id_request").input_value() == request_text
    assert not page.locator("#id_consent").is_checked()

    # Now complete it, with a small real PDF.
    pdf = tmp_path / "todorkhoilolt.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    page.locator("#id_attachment").set_input_files(str(pdf))
    page.locator("#id_consent").check()
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/review/")

    answers = page.locator("dl.answers")
    answers.wait_for()
    text = answers.inner_text()
    for expected in (REGISTER, "Бат", "Болд", PHONE_NORMALIZED, "bold@example.mn", aimag_name, soum_name, "3-р баг",
                     "Лавлагаа авах хүсэлтэй байна.", pdf.name):  # fmt: skip
        assert expected in text, f"{expected!r} missing from check your answers:\n{text}"

    # "Change" the phone: back on step 1 with every answer kept, then through again.
    page.locator("dl.answers a", has_text="Утасны дугаар").click()
    page.wait_for_url(f"**/apply/{SERVICE}/step/1/")
    page.wait_for_selector('form.application-form[data-step="1"]')
    _assert_step_one_kept(page, aimag_code, soum_code)
    assert _visible_soum_groups(page) == [aimag_name]
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/step/2/")
    assert page.locator("#id_request").input_value() == request_text
    assert page.locator("#id_consent").is_checked()
    assert pdf.name in page.locator("#field-attachment .current-file").inner_text()
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/review/")
    assert pdf.name in page.locator("dl.answers").inner_text()

    with page.expect_navigation():
        page.locator(f'form:has(input[name="{HONEYPOT}"]) button[type="submit"]').click()
    page.wait_for_url("**/receipt/TMN-*/")
    tracking = page.get_by_test_id("tracking-code").inner_text().strip()
    assert TRACKING_CODE.match(tracking), tracking
    assert PHONE_NORMALIZED in page.locator("dl.answers").inner_text()

    response = page.goto(f"{live_site}/track/{tracking}/")
    assert response.status == 200
    status = page.get_by_test_id("status").inner_text().strip()
    with translation.override("mn"):
        expected_status = str(Status.RECEIVED.label)
    assert status == expected_status
    assert page.locator("ol.timeline li").count() >= 1


def test_save_and_resume_in_another_browser_context(live_site, browser, page):
    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override("mn"):
        used_up = gettext(
            "This code is not valid or was already used. A saved application gets a new code each time it is saved."
        )

    _open_application(page, live_site)
    aimag_code, _aimag_name, soum_code, _soum_name = _fill_step_one(page)
    _press(page, "save")
    page.wait_for_url(f"**/apply/{SERVICE}/saved/")
    resume_code = page.get_by_test_id("resume-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", resume_code), resume_code

    # Another device: a fresh context shares nothing (no cookies, no session) with the first.
    other = browser.new_context(locale="mn-MN")
    try:
        device = other.new_page()
        device.goto(f"{live_site}/resume/")
        device.locator("#id_code").fill(resume_code.lower().replace("-", " "))
        with device.expect_navigation():
            device.locator("#id_code").press("Enter")
        device.wait_for_url(f"**/apply/{SERVICE}/step/1/")
        device.wait_for_selector('form.application-form[data-step="1"]')
        assert device.locator(".messages").count() == 1
        _assert_step_one_kept(device, aimag_code, soum_code)
        # The application carries on from this device.
        _press(device, "next")
        device.wait_for_url(f"**/apply/{SERVICE}/step/2/")
        device.wait_for_selector('form.application-form[data-step="2"]')
    finally:
        other.close()

    # The code was used up: a third device is refused.
    third = browser.new_context(locale="mn-MN")
    try:
        device = third.new_page()
        device.goto(f"{live_site}/resume/")
        device.locator("#id_code").fill(resume_code)
        with device.expect_navigation() as navigation:
            device.locator("#id_code").press("Enter")
        assert navigation.value.status == 400
        assert device.url.endswith("/resume/")
        assert device.get_by_role("alert").inner_text().strip() == used_up
        assert device.locator(".application-form").count() == 0
    finally:
        third.close()


def test_an_operator_applies_for_a_citizen_who_then_follows_it(live_site, browser):
    """Operator: sign in → search → form on behalf of a citizen → in-person consent → receipt;
    then the citizen, in their own browser, opens the tracking page."""
    context = browser.new_context(locale="mn-MN")
    page = context.new_page()
    page.goto(f"{live_site}/operator/")
    page.wait_for_url("**/admin/login/**")
    page.locator("#id_username").fill("live-operator")
    page.locator("#id_password").fill("live-operator-pw")
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.wait_for_url("**/operator/")
    assert page.locator("h1").inner_text().strip()

    page.goto(f"{live_site}/operator/search/")
    page.locator("#id_q").fill("иргэний үнэмлэх")
    with page.expect_navigation():
        page.locator("#id_q").press("Enter")
    page.locator(f'a[href$="/operator/apply/{SERVICE}/"]').click()
    page.wait_for_url(f"**/operator/apply/{SERVICE}/")
    enter_citizen_identity(page, SERVICE)
    assert page.locator("#id_register_number").input_value() == "ЧБ88051234", "the citizen's identity is carried over"
    fill_general_form(page, SERVICE, "Иргэний өмнөөс гаргав.")

    # No confirmation yet: refused, then the in-person confirmation.
    with page.expect_navigation() as refused:
        page.locator('button[name="action"][value="submit"]').click()
    assert refused.value.status == 400
    page.locator("#id_in_person_reason").select_option("no_phone")
    page.locator("#id_id_document_type").select_option("national_id")
    page.locator("#id_id_document_number").fill("0456789")
    page.locator("#id_in_person_checked").check()
    with page.expect_navigation():
        page.locator('button[name="action"][value="submit"]').click()
    page.wait_for_url("**/receipt/**")
    code = page.locator("[data-testid=tracking-code]").inner_text().strip()
    assert TRACKING_CODE.match(code)
    assert "Дорж Сараа" in page.content()
    page.goto(f"{live_site}/operator/")
    assert code in page.locator("table.queue").first.inner_text()
    context.close()

    citizen = browser.new_context(locale="mn-MN").new_page()
    citizen.goto(f"{live_site}/track/")
    citizen.locator("#id_code").fill(code.lower().replace("-", " "))
    with citizen.expect_navigation():
        citizen.locator("#id_code").press("Enter")
    citizen.wait_for_url(f"**/track/{code}/")
    assert citizen.locator("[data-testid=status]").inner_text().strip()
    assert "Дорж" not in citizen.content(), "the tracking code alone shows no personal data"
