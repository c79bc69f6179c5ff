"""Instant references (issue #15) in a real browser: headless Chromium (Debian's) driven by
Playwright, against ``live_site`` (gunicorn + the demo catalog), the demo national identity
provider (``oidc_provider``) and a stand-in agency reference source on loopback that speaks
signed JSON (``tests/reference_server.py``). Nothing is mocked.

- A citizen signs in at the provider, searches "лавлагаа", opens the reference service, gets the
  PDF, reads the verification link from its QR code, opens it in another (anonymous) browser and
  sees it valid with no personal content, and finds the document in My applications.
- A soum operator signs in, finds the service, issues the reference for a citizen present at the
  office with the in-person proof, and prints it; the site stores the operator, the citizen and
  the proof, and the access log records the print.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import gunicorn_site
from tests.reference_server import DOCUMENT, ReferenceServer
from tests.test_references import pdf_text, read_qr

SERVICE = "DEMO-00008"
TITLE = "Оршин суугаа хаягийн лавлагаа"
BOLD = "УБ90010112"  # the demo provider's citizen "bold" (Батбаяр Болд)
AT_OFFICE = "ЧБ88051234"


def on_live_site(*args) -> dict:
    """Run ``python -m tests.references_site ARGS`` against the live site's database."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.references_site", *args], cwd=gunicorn_site.ROOT, env=gunicorn_site.LIVE_SITE_ENV,
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference_source(live_site):
    """The agency's reference source, and the live site's service asking it."""
    server = ReferenceServer()
    service = on_live_site("source", server.url)
    assert service["title"] == TITLE
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="mn-MN", accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def _sign_in_at_provider(page, oidc_provider, username):
    assert page.url.startswith(oidc_provider.base + "/login/")
    page.locator(f'input[name="username"][value="{username}"]').check()
    page.locator("#id_password").fill("demo")
    with page.expect_navigation():
        page.locator('button[type="submit"]').click()


def _find_in_results(page, title):
    """The result linking to ``title``, following "Next" through the result pages."""
    for _page_number in range(10):
        link = page.locator(".result-list .result h3 a", has_text=title)
        if link.count():
            return link.first
        following = page.locator('a[rel="next"]')
        assert following.count(), f"{title!r} is not among the results"
        with page.expect_navigation():
            following.click()
    raise AssertionError(f"{title!r} is not in the first ten result pages")


def test_a_citizen_gets_a_reference_anyone_can_verify_and_finds_it_in_my_applications(
    live_site, oidc_provider, reference_source, browser, page, tmp_path
):
    # Sign in through the national identity provider.
    page.goto(f"{live_site}/")
    with page.expect_navigation():
        page.locator("a.citizen-signin").click()
    _sign_in_at_provider(page, oidc_provider, "bold")
    page.wait_for_url(f"{live_site}/")
    assert "Батбаяр Болд" in page.get_by_test_id("citizen-name").inner_text()

    # Search "лавлагаа" and open the instant reference.
    page.goto(f"{live_site}/search/")
    page.get_by_label("Танд юу хэрэгтэй вэ?").fill("лавлагаа")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.expect_navigation():
        _find_in_results(page, TITLE).click()
    assert page.locator("h1").inner_text() == TITLE
    with page.expect_navigation():
        page.get_by_test_id("get-reference").click()
    page.wait_for_url(f"**/references/{SERVICE}/")
    assert BOLD in page.content(), "the reference is for the signed-in citizen"
    with page.expect_navigation():
        page.get_by_test_id("get-reference").click()
    page.wait_for_url(f"**/references/{SERVICE}/issued/*/")
    code = page.get_by_test_id("verification-code").inner_text().strip()

    # The PDF: the Mongolian title as text, the verification link in the QR code.
    with page.expect_download() as download:
        page.get_by_test_id("download").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and TITLE in pdf_text(pdf)
    verify_url = read_qr(pdf, tmp_path)
    assert verify_url == f"{live_site}/verify/{code}/"
    assert reference_source.received[-1].signature_ok

    # Anyone opens the link: valid, who issued it, and nothing about the person.
    anyone = browser.new_context(locale="mn-MN")
    try:
        checker = anyone.new_page()
        response = checker.goto(verify_url)
        assert response.status == 200
        assert checker.locator('[data-valid="true"]').count() == 1
        text = checker.content()
        assert code in text and "Улсын бүртгэлийн ерөнхий газар" in text
        for personal in (BOLD, "Батбаяр", "Болд", *[row["value"] for row in DOCUMENT["rows"]]):
            assert personal not in text, personal
    finally:
        anyone.close()

    # My applications lists the document, and it downloads from there too.
    page.get_by_test_id("citizen-nav").locator("a").first.click()
    page.wait_for_url(f"{live_site}/my/")
    row = page.get_by_test_id("my-documents").locator(f'li[data-code="{code}"]')
    assert row.count() == 1 and TITLE in row.inner_text()
    with page.expect_download() as again:
        row.locator("a").click()
    assert Path(again.value.path()).read_bytes() == pdf
    stored = on_live_site("document", code)
    assert stored["holder_register_number"] == BOLD and stored["operator"] is None
    assert stored["access_log"] == [], "the holder's own downloads are not logged"


def test_an_operator_issues_and_prints_a_reference_for_a_citizen_at_the_office(live_site, reference_source, page):
    page.goto(f"{live_site}/operator/")
    page.wait_for_url("**/admin/login/**")
    page.locator("#id_username").fill("live-operator")
    page.locator("#id_password").fill("live-operator-pw")
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.wait_for_url("**/operator/")

    # The operator's service search offers "Issue the reference" for an instant reference.
    page.goto(f"{live_site}/operator/search/")
    page.locator("#id_q").fill(TITLE)
    with page.expect_navigation():
        page.locator("#id_q").press("Enter")
    result = page.locator(f'li[data-service="{SERVICE}"]')
    assert result.locator('a[href*="/operator/apply/"]').count() == 0, "a reference takes no application"
    with page.expect_navigation():
        result.locator(f'a[href$="/operator/references/{SERVICE}/"]').click()

    # The citizen at the office, and how the operator checked who it is.
    page.locator("#id_register_number").fill(AT_OFFICE.lower())
    page.locator("#id_last_name").fill("Дорж")
    page.locator("#id_first_name").fill("Сараа")
    page.locator("#id_in_person_reason").select_option("cannot_sign_in")
    page.locator("#id_id_document_type").select_option("national_id")
    page.locator("#id_id_document_number").fill("НА1234567")
    with page.expect_navigation() as refused:
        page.locator("main form button.button").click()
    assert refused.value.status == 400, "not without the operator's confirmation"
    page.locator("#id_in_person_checked").check()
    with page.expect_navigation():
        page.locator("main form button.button").click()
    page.wait_for_url(f"**/references/{SERVICE}/issued/*/")
    code = page.get_by_test_id("verification-code").inner_text().strip()

    # Print: the PDF opens inline (in a new tab) with the office and the operator on it.
    print_link = page.locator('a[href$="?print=1"]')
    printed = page.request.get(live_site + print_link.get_attribute("href"))
    assert printed.status == 200 and printed.headers["content-type"] == "application/pdf"
    assert printed.headers["content-disposition"].startswith("inline")
    text = pdf_text(printed.body())
    assert TITLE in text and "оператор" in text and "Дорж Сараа" in text

    # The site recorded the operator, the citizen, the proof and the print.
    stored = on_live_site("document", code)
    assert stored["operator"] == "live-operator" and stored["stored"]
    assert stored["holder_register_number"] == AT_OFFICE and stored["holder_name"] == "Дорж Сараа"
    proof = stored["in_person"]
    assert proof["method"] == "in_person_reference" and proof["recorded_by"] == "live-operator"
    assert proof["document"] == {"type": "national_id", "number": "НА1234567"}
    assert stored["access_log"] == [
        {"username": "live-operator", "action": "document", "agency": "ubeg", "detail": "print (operator)"}
    ]
    operator_block = reference_source.received[-1].json()["operator"]
    assert operator_block["username"] == "live-operator"
