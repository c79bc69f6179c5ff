"""Security headers: Content-Security-Policy (django-csp) and Permissions-Policy.

The public site gets a strict policy (nothing inline, nothing from another origin); the Wagtail
admin, which needs inline styles and scripts of its own, gets a looser one under its own prefix.
The browser tests below open every kind of page in Chromium and count the violations it reports.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service_pages.models import ServicePage
from tests.browser_steps import enter_citizen_identity, fill_general_form

ROOT = Path(__file__).resolve().parent.parent
CSP = "Content-Security-Policy"
CSP_REPORT_ONLY = "Content-Security-Policy-Report-Only"


def directives(header: str) -> dict[str, list[str]]:
    """``"default-src 'self'; img-src 'self' data:"`` → ``{"default-src": ["'self'"], "img-src": [...]}``."""
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def permissions(header: str) -> dict[str, str]:
    """``"camera=(), geolocation=()"`` → ``{"camera": "()", "geolocation": "()"}``."""
    return dict(item.strip().split("=", 1) for item in header.split(","))


def assert_public_policy(policy: dict[str, list[str]]):
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "no inline script, no eval, no other origin"
    assert policy["style-src"] == ["'self'"], "no inline styles on the public site"
    assert sorted(policy["img-src"]) == sorted(["'self'", "data:"])
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]


def assert_no_powerful_features(response):
    granted = permissions(response["Permissions-Policy"])
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert granted[feature] == "()", f"{feature} should be switched off"


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.by_code("DEMO-00001")


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("csp-admin", password="pw"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/en/", "/search/?q=лавлагаа", "/track/"])
def test_public_pages_send_the_strict_policy(client, demo_catalog, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_public_policy(directives(response[CSP]))
    assert_no_powerful_features(response)


@pytest.mark.django_db
def test_a_service_page_sends_the_strict_policy(client, service):
    response = client.get(service.url)
    assert response.status_code == 200
    assert_public_policy(directives(response[CSP]))


@pytest.mark.django_db
def test_api_responses_send_the_strict_policy(client, demo_catalog):
    response = client.get("/api/v1/services/search", {"q": "лавлагаа"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_public_policy(directives(response[CSP]))
    assert_no_powerful_features(response)


@pytest.mark.django_db
def test_the_admin_sends_its_own_policy(staff_client):
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    policy = directives(response[CSP])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    # The page editor shows its live preview in a frame of the admin itself, and nowhere else.
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["frame-src"] == ["'self'"]
    # The relaxations Wagtail needs (see cms/security_headers.py), and no more: no eval.
    assert sorted(policy["script-src"]) == sorted(["'self'", "'unsafe-inline'"])
    assert sorted(policy["style-src"]) == sorted(["'self'", "'unsafe-inline'"])
    assert sorted(policy["img-src"]) == sorted(["'self'", "data:", "blob:"])
    # Nothing from another origin.
    for values in policy.values():
        assert not any(value.startswith(("http:", "https:", "*")) for value in values), policy
    assert_no_powerful_features(response)


@pytest.mark.django_db
def test_the_admin_login_page_sends_the_admin_policy(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert directives(response[CSP])["frame-ancestors"] == ["'self'"]


@pytest.mark.django_db
def test_a_page_previewed_in_the_admin_may_be_framed_by_the_editor(rf, service, django_user_model):
    """Wagtail renders a preview through a stand-in request for the page's public URL; the editor
    shows it in a frame, so it gets the admin's policy (framed by the admin only)."""
    request = rf.get("/admin/")
    request.user = django_user_model.objects.create_superuser("csp-previewer", password="pw")
    response = service.make_preview_request(request)
    assert response.status_code == 200
    assert directives(response[CSP])["frame-ancestors"] == ["'self'"]


@pytest.mark.django_db
def test_no_page_sends_the_report_only_header_by_default(client, staff_client, demo_catalog):
    for response in (client.get("/"), staff_client.get("/admin/")):
        assert CSP in response
        assert CSP_REPORT_ONLY not in response


@pytest.mark.django_db
def test_report_only_mode_and_the_report_uri(client, staff_client, settings, demo_catalog):
    """``TUMEN_CSP_REPORT_ONLY`` stages the policies: the same directives, reported but not enforced."""
    from cms.security_headers import ADMIN_DIRECTIVES, PUBLIC_DIRECTIVES, directives_with_report_uri

    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": directives_with_report_uri(PUBLIC_DIRECTIVES, "/csp-reports/")
    }
    settings.TUMEN_ADMIN_CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": directives_with_report_uri(ADMIN_DIRECTIVES, "/csp-reports/")
    }
    public, admin = client.get("/"), staff_client.get("/admin/")
    for response in (public, admin):
        assert CSP not in response
        assert directives(response[CSP_REPORT_ONLY])["report-uri"] == ["/csp-reports/"]
    assert_public_policy(directives(public[CSP_REPORT_ONLY]))
    assert directives(admin[CSP_REPORT_ONLY])["frame-ancestors"] == ["'self'"]


def test_the_environment_switches_report_only_mode_and_the_report_uri():
    """The settings read ``TUMEN_CSP_REPORT_ONLY`` and ``TUMEN_CSP_REPORT_URI`` (default: enforced, no reports)."""
    show = (
        "from django.conf import settings as s; "
        "print(bool(s.CONTENT_SECURITY_POLICY), bool(s.CONTENT_SECURITY_POLICY_REPORT_ONLY), "
        "(s.CONTENT_SECURITY_POLICY or s.CONTENT_SECURITY_POLICY_REPORT_ONLY)['DIRECTIVES'].get('report-uri'), "
        "s.TUMEN_ADMIN_CONTENT_SECURITY_POLICY['DIRECTIVES'].get('report-uri'))"
    )

    def settings_with(**environment):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUMEN_CSP_")}
        env.update(environment, DJANGO_SETTINGS_MODULE="cms.settings.base")
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {show}"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip()

    assert settings_with() == "True False None None"
    staged = settings_with(TUMEN_CSP_REPORT_ONLY="true", TUMEN_CSP_REPORT_URI="https://reports.example.mn/csp")
    assert staged == "False True ['https://reports.example.mn/csp'] ['https://reports.example.mn/csp']"


# -- in a real browser: zero violations on every kind of page -------------------------------------

# Chromium reports a blocked resource both on the console ("Refused to …", "… violates the
# following Content Security Policy directive …") and as a `securitypolicyviolation` event, which
# this script (run in every frame before the page's own scripts) writes to the console as well.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`securitypolicyviolation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""
COMPLAINTS = ("Content Security Policy", "Content-Security-Policy", "securitypolicyviolation", "Permissions-Policy",
              "Permissions policy")  # fmt: skip


class PolicyWatch:
    """Everything Chromium says about the policies while the pages of one browser context are open,
    and every HTML page that arrived without a policy header."""

    def __init__(self, context):
        self.complaints: list[str] = []
        self.unprotected: list[str] = []
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        context.on("response", self._response)

    def _console(self, message):
        if any(word in message.text for word in COMPLAINTS):
            where = message.page.url if message.page else "?"
            self.complaints.append(f"{where}: {message.text}")

    def _response(self, response):
        if response.request.resource_type == "document" and response.status < 300:
            headers = response.all_headers()
            if "content-security-policy" not in headers or "permissions-policy" not in headers:
                self.unprotected.append(response.url)

    def assert_clean(self, expected_pages: int):
        assert not self.unprotected, f"pages without the policy headers: {self.unprotected}"
        assert not self.complaints, "\n".join(self.complaints)
        assert expected_pages > 0


@pytest.fixture
def watched(browser):
    """A fresh browser context with its PolicyWatch."""
    context = browser.new_context(locale="mn-MN")
    watch = PolicyWatch(context)
    yield context, watch
    context.close()


def _settle(page):
    """Wait until the page's scripts have run and its requests (autocomplete, previews) are done."""
    page.wait_for_load_state("networkidle")


def test_the_public_site_runs_under_its_policy(live_site, watched, tmp_path):
    """Home, search with a facet and autocomplete, a service, every step of an application with an
    upload, check your answers, the receipt, tracking, saving for later, statistics; in both languages."""
    from tests.test_browser import SERVICE, _fill_step_one, _open_application, _press

    context, watch = watched
    page = context.new_page()
    visited = []

    def seen(name):
        _settle(page)
        visited.append(name)

    for prefix in ("", "/en"):
        page.goto(f"{live_site}{prefix}/")
        seen(f"home {prefix}")
    page.goto(f"{live_site}/search/")
    page.locator("#search-q").press_sequentially("лавл")  # autocomplete asks the API as one types
    seen("search page with autocomplete")
    page.locator("#search-q").fill("лавлагаа")
    with page.expect_navigation():
        page.locator("#search-q").press("Enter")
    seen("search results")
    with page.expect_navigation():
        page.locator('a[data-facet="agency"]').first.click()
    seen("search narrowed by a facet")

    _open_application(page, live_site)  # the service page, then step 1
    seen("service page and step 1")
    _press(page, "next")
    seen("step 1 with errors")
    _fill_step_one(page)
    _press(page, "next")
    seen("step 2")
    pdf = tmp_path / "lavlagaa.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    page.locator("#id_request").fill("Лавлагаа авах хүсэлтэй байна.")
    page.locator("#id_attachment").set_input_files(str(pdf))
    page.locator("#id_consent").check()
    _press(page, "next")
    page.wait_for_url(f"**/apply/{SERVICE}/review/")
    seen("check your answers")
    with page.expect_navigation():
        page.locator('form:has(input[name="website"]) button[type="submit"]').click()
    page.wait_for_url("**/receipt/TMN-*/")
    seen("receipt")
    tracking = page.get_by_test_id("tracking-code").inner_text().strip()
    # "Print" works from a static script now (it was an inline onclick handler).
    page.evaluate("() => { window.print = () => { document.body.dataset.printed = 'yes'; }; }")
    page.get_by_role("button", name="Хэвлэх").click()
    assert page.locator("body").get_attribute("data-printed") == "yes"
    page.goto(f"{live_site}/track/{tracking}/")
    seen("tracking page")
    page.goto(f"{live_site}/en/track/")
    seen("tracking form")
    page.goto(f"{live_site}/statistics/")
    seen("statistics")

    _open_application(page, live_site)
    _fill_step_one(page)
    _press(page, "save")
    page.wait_for_url(f"**/apply/{SERVICE}/saved/")
    seen("saved for later")
    page.goto(f"{live_site}/resume/")
    seen("resume")
    page.goto(f"{live_site}/no-such-page/")
    seen("not found")

    watch.assert_clean(len(visited))


def _sign_in(page, base, username, password, next_path):
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.wait_for_url(f"**{next_path}")


def test_the_operator_console_runs_under_the_public_policy(live_site, watched):
    """A soum operator signs in (admin login page), finds a service, applies for a citizen up to the
    confirmation on the review page, and sees the application in the office's queue."""
    from tests.test_browser import SERVICE

    context, watch = watched
    page = context.new_page()
    visited = []

    def seen(name):
        _settle(page)
        visited.append(name)

    _sign_in(page, live_site, "live-operator", "live-operator-pw", "/operator/")
    seen("queue")
    page.goto(f"{live_site}/operator/search/")
    page.locator("#id_q").fill("иргэний үнэмлэх")
    with page.expect_navigation():
        page.locator("#id_q").press("Enter")
    seen("operator search")
    page.locator(f'a[href$="/operator/apply/{SERVICE}/"]').click()
    page.wait_for_url(f"**/operator/apply/{SERVICE}/")
    seen("citizen identity")
    enter_citizen_identity(page, SERVICE)
    fill_general_form(page, SERVICE, "Иргэний өмнөөс гаргав.")
    seen("review with the citizen's confirmation")
    page.locator("#id_in_person_reason").select_option("no_phone")
    page.locator("#id_id_document_type").select_option("national_id")
    page.locator("#id_id_document_number").fill("0456789")
    page.locator("#id_in_person_checked").check()
    with page.expect_navigation():
        page.locator('button[name="action"][value="submit"]').click()
    page.wait_for_url("**/receipt/**")
    seen("receipt")
    page.goto(f"{live_site}/operator/")
    seen("queue with the application")

    watch.assert_clean(len(visited))


def _save_draft(page):
    """Press the editor's "Save draft" and wait for the page it reloads into."""
    with page.expect_navigation():
        page.locator("button.action-save", has_text="Ноорог хадгалах").first.click()
    _settle(page)
    assert page.locator(".messages .success").count() == 1, page.locator(".messages").inner_text()


def test_the_wagtail_admin_runs_under_its_policy(live_site, watched, tmp_path):
    """Login, dashboard, the page explorer, a service page in the editor (rich text typed, live
    preview opened, draft saved), submissions, an application form (StreamField) saved, and the
    plugin configuration screens (choose, create, edit, inspect), with nothing blocked."""
    from tests.test_browser import SERVICE

    context, watch = watched
    page = context.new_page()
    visited = []

    def seen(name):
        _settle(page)
        visited.append(name)

    page.goto(f"{live_site}/admin/login/")
    seen("login")
    _sign_in(page, live_site, "live-admin", "live-admin-pw", "/admin/")
    seen("dashboard")
    page.goto(f"{live_site}/admin/pages/")
    seen("explorer")

    # The service page in the editor: Draftail, choosers, the live preview, then "Save draft".
    page.goto(f"{live_site}/apply/{SERVICE}/")
    title = page.locator(".breadcrumb a").inner_text().strip()
    page.goto(f"{live_site}/admin/pages/search/?q={title}")
    seen("page search")
    page.locator(f'a[href$="/edit/"]:has-text("{title}")').first.click()
    page.wait_for_url("**/admin/pages/*/edit/")
    editor = page.url
    page.locator('[data-contentpath="description"] .public-DraftEditor-content').wait_for()
    seen("page editor")
    page.locator('[data-contentpath="description"] .public-DraftEditor-content').click()
    page.keyboard.press("End")
    page.keyboard.type(" Шалгалт.")
    page.locator('[data-side-panel-toggle="preview"]').click()
    preview = page.frame_locator("#w-preview-iframe")
    preview.locator("h1").wait_for(state="attached")
    assert preview.locator("h1").text_content().strip() == title
    seen("live preview")
    _save_draft(page)
    seen("page saved as a draft")
    parent = page.locator('[data-w-breadcrumbs-target="content"] a[href^="/admin/pages/"]').last
    parent.evaluate("link => link.click()")
    page.wait_for_url(re.compile(r".*/admin/pages/\d+/$"))
    seen("agency's pages in the explorer")
    assert page.url != editor

    page.goto(f"{live_site}/admin/submissions/")
    seen("submissions")
    page.locator('a[href*="/admin/submissions/edit/"]').first.click()
    page.wait_for_url("**/admin/submissions/edit/*/")
    seen("a submission")

    page.goto(f"{live_site}/admin/snippets/form_builder/formdefinition/")
    seen("application forms")
    page.locator('a[href*="/formdefinition/edit/"]').first.click()
    page.wait_for_url("**/formdefinition/edit/*/")
    page.locator('[data-contentpath="steps"]').first.wait_for()
    seen("form editor (StreamField)")
    _save_draft(page)
    seen("form saved as a draft")

    page.goto(f"{live_site}/admin/plugin_configs/new/")
    seen("choose a plugin")
    page.locator('input[name="plugin"][value="email"]').check()
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    seen("plugin options")
    page.locator("#id_name").fill("csp-browser-test")
    page.locator("#id_option__to").fill("intake@example.mn")
    with page.expect_navigation():
        page.locator("main form button.button-longrunning[type=submit]").first.click()
    seen("plugin configurations")
    page.locator('.messages a[href*="/admin/plugin_configs/edit/"]').click()  # "Edit" in "… created"
    page.wait_for_url("**/admin/plugin_configs/edit/*/")
    seen("plugin configuration edit")
    page.goto(page.url.replace("/edit/", "/inspect/"))
    seen("plugin configuration inspect")
    page.goto(f"{live_site}/admin/delivery-dashboard/")
    seen("delivery dashboard")

    # An image upload shows the chosen file's thumbnail (a blob: URL) before it is sent.
    from PIL import Image

    image = tmp_path / "tsag-khugatsaa.png"
    Image.new("RGB", (64, 48), (30, 90, 160)).save(image)
    page.goto(f"{live_site}/admin/images/multiple/add/")
    page.locator("#fileupload").set_input_files(str(image))
    page.locator("#upload-list li.upload-success, #upload-list li.upload-duplicate").wait_for()
    seen("image upload")

    watch.assert_clean(len(visited))
