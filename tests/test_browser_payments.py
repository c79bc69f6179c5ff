"""Paying a fee in a real browser (issue 18): a citizen pays through the fake provider
(tests/payment_provider.py, a real HTTP server that calls the live site back over HTTP), the
application is delivered to the stand-in agency and the receipt shows the payment; a soum
operator records a cash payment. Headless Chromium (Debian's) driven by Playwright, against
``live_site`` (gunicorn + the demo catalog)."""

import json
import subprocess
import sys
import urllib.request

import pytest

from tests import gunicorn_site
from tests.agency import AgencyServer
from tests.browser_steps import enter_citizen_identity, fill_general_form
from tests.payment_provider import PaymentProvider
from tests.test_browser import TRACKING_CODE, _fill_step_one, _press


def site(*args) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.payment_site", *args], cwd=gunicorn_site.ROOT, env=gunicorn_site.LIVE_SITE_ENV,
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def paying(live_site):
    """The fake provider and the stand-in agency, switched on for one fee-charging service."""
    provider, agency = PaymentProvider(), AgencyServer()

    def to_live_site(url, body, headers):  # the site's public URL is not configured: call it directly
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        request = urllib.request.Request(live_site + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    provider.transport = to_live_site
    seeded = site("seed", provider.url, agency.url)
    yield provider, agency, seeded
    provider.stop()
    agency.stop()


def test_a_citizen_pays_the_fee_and_the_paid_application_is_delivered(live_site, browser, paying):
    provider, agency, seeded = paying
    code = seeded["service"]
    page = browser.new_context(locale="mn-MN").new_page()
    page.goto(f"{live_site}/apply/{code}/")
    page.wait_for_url(f"**/apply/{code}/step/1/")
    _fill_step_one(page)
    _press(page, "next")
    page.locator("#id_request").fill("Төлбөртэй үйлчилгээ.")
    page.locator("#id_consent").check()
    _press(page, "next")
    page.wait_for_url(f"**/apply/{code}/review/")
    with page.expect_navigation():
        page.locator('form:has(input[name="website"]) button[type="submit"]').click()
    page.wait_for_url("**/pay/TMN-*/")
    tracking = page.get_by_test_id("tracking-code").inner_text().strip()
    assert TRACKING_CODE.match(tracking)
    assert f"{seeded['fee']} ₮" in page.get_by_test_id("fee").inner_text()
    assert site("drain", tracking)["status"] == "awaiting_payment", "nothing is delivered before payment"
    assert not agency.received

    # Pay: one invoice even on a double click, its QR code and bank-app links.
    page.get_by_test_id("pay").dblclick()
    page.wait_for_selector("[data-testid=invoice-qr] svg")
    assert len(provider.invoices) == 1
    reference = page.get_by_test_id("invoice-qr").get_attribute("data-reference")
    assert page.locator('.bank-links a[href^="khanbank://"]').count() == 1

    # The citizen pays in the bank app; the provider calls the site back (twice: a duplicate).
    assert provider.pay(reference, callback="duplicate") == [200, 200]
    page.reload()
    assert page.get_by_test_id("payment-state").get_attribute("data-state") == "paid"
    assert site("drain", tracking)["status"] == "delivered"
    [received] = agency.received
    sent = received.json()["metadata"]["payment"]
    assert sent["amount"] == seeded["fee"] and sent["reference"] == reference and sent["provider"] == "qpay"

    page.goto(f"{live_site}/receipt/{tracking}/")
    summary = page.get_by_test_id("payment-summary")
    assert reference in summary.inner_text() and summary.locator("[data-state=paid]").count() == 1
    page.goto(f"{live_site}/track/{tracking}/")
    assert reference in page.get_by_test_id("payment-summary").inner_text()


def test_an_operator_records_a_cash_payment(live_site, browser, paying):
    _provider, agency, seeded = paying
    code = seeded["service"]
    page = browser.new_context(locale="mn-MN").new_page()
    page.goto(f"{live_site}/operator/")
    page.wait_for_url("**/admin/login/**")
    page.locator("#id_username").fill("live-operator")
    page.locator("#id_password").fill("live-operator-pw")
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.wait_for_url("**/operator/")
    page.goto(f"{live_site}/operator/apply/{code}/")
    enter_citizen_identity(page, code)
    fill_general_form(page, code, "Иргэн бэлнээр төлөв.")
    page.locator("#id_in_person_reason").select_option("no_phone")
    page.locator("#id_id_document_type").select_option("national_id")
    page.locator("#id_id_document_number").fill("0456789")
    page.locator("#id_in_person_checked").check()
    with page.expect_navigation():
        page.locator('button[name="action"][value="submit"]').click()
    page.wait_for_url("**/operator/pay/TMN-*/")
    tracking = page.get_by_test_id("tracking-code").inner_text().strip()

    # A receipt number that cannot be one: refused with a message, nothing recorded.
    page.locator("input[name=method][value=cash]").check()
    page.locator("#id_receipt_number").fill("<>")
    with page.expect_navigation() as refused:
        page.get_by_test_id("record-payment").click()
    assert refused.value.status == 400 and page.locator(".errorlist").count() >= 1
    page.locator("input[name=method][value=cash]").check()
    page.locator("#id_receipt_number").fill("КА-000777")
    with page.expect_navigation():
        page.get_by_test_id("record-payment").click()
    assert page.get_by_test_id("payment-state").get_attribute("data-state") == "paid"
    assert "КА-000777" in page.get_by_test_id("payment").inner_text()
    assert site("drain", tracking)["status"] == "delivered"
    assert agency.received[-1].json()["metadata"]["payment"]["method"] == "cash"
