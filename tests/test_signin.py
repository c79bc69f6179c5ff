"""Citizen sign-in through the national identity provider (ДАН) and My applications.

Every sign-in goes through the demo provider (scripts/oidc_provider/, the ``oidc_provider``
fixture): a real OpenID Connect provider on loopback with its own keys and database. Nothing of it
is mocked; the bad tokens come from its fault accounts (``DAN_FAULTS``), the tampered callbacks
from the tests.
"""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from wagtail import hooks

from citizens.identity import SESSION_KEY
from citizens.models import CitizenAccount
from form_builder.models import Source, Status, Submission
from form_builder.submissions import application_for, submit
from service_pages.models import ServicePage, Soum
from tests.oidc_provider import sign_in_at_provider

pytestmark = pytest.mark.django_db

BOLD = "УБ90010112"  # the demo provider's citizens
SARAA = "ИЙ85061524"
SARAA_COMPANY = "5012345"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True, accepts_applications=True).order_by("code").first()


def soum_code(aimag="65"):
    return Soum.objects.filter(aimag__code=aimag).values_list("code", flat=True).first()


def start(client, next_url="/my/", prefix=""):
    """``/signin/``: the redirect to the provider's authorization endpoint."""
    response = client.get(f"{prefix}/signin/", {"next": next_url})
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/signin/callback/"
    return f"{parts.path}?{parts.query}"


def sign_in(client, username="bold", next_url="/my/", prefix=""):
    """The whole way: Tumen → provider's sign-in page → Tumen's callback; returns the callback's answer."""
    return client.get(callback_path(sign_in_at_provider(start(client, next_url, prefix), username)))


def signed_in_client(username="bold"):
    client = Client()
    response = sign_in(client, username)
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def general_answers(**changes):
    data = {
        "register_number": "УБ99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "9911 2233",
        "address": {"aimag": "65", "soum": soum_code(), "bag": ""}, "request": "Лавлагаа авах хүсэлтэй байна.",
        "consent": True,
    }  # fmt: skip
    data.update(changes)
    return data


# -- signing in ---------------------------------------------------------------------------------


def test_sign_in_uses_pkce_state_and_nonce_and_rotates_the_session(signin_settings, service):
    client = Client()
    client.get(f"/apply/{service.code}/")  # an anonymous session exists before signing in
    client.post(f"/apply/{service.code}/step/1/", {"register_number": "УБ99010112", "action": "save"})
    anonymous_key = client.session.session_key
    assert anonymous_key

    authorize = start(client)
    assert authorize.startswith(signin_settings.issuer + "/authorize/")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
    assert "register_number" in query["scope"][0].split()

    response = client.get(callback_path(sign_in_at_provider(authorize, "bold")))
    assert response.status_code == 302 and response["Location"] == "/my/"
    assert client.session.session_key != anonymous_key  # no session fixation
    assert client.session[SESSION_KEY]["register_number"] == BOLD

    page = client.get("/my/").content.decode()
    assert "Батбаяр Болд" in page and BOLD in page

    # A second sign-in of the same citizen rotates the session key again, and is the same user.
    before = client.session.session_key
    assert sign_in(client).status_code == 302
    assert client.session.session_key != before
    assert CitizenAccount.objects.filter(subject="dan-0001").count() == 1


def test_a_citizen_account_is_never_staff_and_has_no_password(signin_settings):
    client = signed_in_client("tuya")
    user = CitizenAccount.objects.get(subject="dan-0003").user
    assert user.username.startswith("dan:") and "dan-0003" not in user.username
    assert not user.is_staff and not user.is_superuser and not user.has_usable_password()
    assert not user.groups.exists() and not user.get_all_permissions()
    # The administration does not open for them, and no operator page either.
    admin = client.get("/admin/")
    assert admin.status_code in (302, 403) and "/admin/login/" in admin.get("Location", "/admin/login/")
    assert client.get("/operator/").status_code == 403


def test_a_staff_user_linked_to_an_identity_is_refused(signin_settings):
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    CitizenAccount.objects.create(user=staff, issuer=signin_settings.issuer, subject="dan-0003")
    response = sign_in(Client(), "tuya")
    assert response.status_code == 403
    assert "staff" in response.content.decode()


def test_the_sign_in_language_is_kept_through_the_provider(signin_settings):
    client = Client()
    response = sign_in(client, next_url="/en/my/", prefix="/en")
    assert response["Location"] == "/en/my/"
    assert "My applications" in client.get("/en/my/").content.decode()


def test_next_may_not_leave_the_site(signin_settings):
    client = Client()
    response = sign_in(client, next_url="https://evil.example/")
    assert response["Location"] == "/my/"


# -- bad answers and faults: a page with the way back, never a 500 -------------------------------


def assert_failure_page(response, status, code, text="", *, signed_in=False):
    assert response.status_code == status, response.content.decode()[:800]
    html = response.content.decode()
    assert f'data-code="{code}"' in html and text in html
    assert 'href="/signin/"' in html or 'href="/en/signin/"' in html
    assert (SESSION_KEY in response.wsgi_request.session) == signed_in


@pytest.mark.parametrize(
    ("username", "status", "code", "text"),
    [
        ("fault-no-register", 403, "no_register_number", "did not give your register number"),
        ("fault-expired", 400, "expired_token", "has expired"),
        ("fault-forged", 400, "invalid_token", "could not be verified"),
        ("fault-wrong-nonce", 400, "mismatch", "does not belong to a sign-in started in this browser"),
    ],
)
def test_a_bad_token_from_the_provider_is_refused_with_a_clear_page(signin_settings, username, status, code, text):
    client = Client()
    response = sign_in(client, username, next_url="/en/my/", prefix="/en")  # the page speaks the sign-in's language
    assert_failure_page(response, status, code, text)
    assert not CitizenAccount.objects.filter(subject__startswith="dan-fault").exists()  # nobody was signed in


def test_a_tampered_or_replayed_callback_is_refused(signin_settings):
    client = Client()
    callback = callback_path(sign_in_at_provider(start(client), "bold"))
    tampered = re.sub(r"state=[^&]+", "state=forged-state", callback)
    assert_failure_page(client.get(tampered), 400, "mismatch", "")
    assert client.get(callback).status_code == 302  # the genuine one still works, once
    replay = Client()
    start(replay)
    assert_failure_page(replay.get(callback), 400, "mismatch", "")  # another browser's answer
    assert_failure_page(client.get(callback), 400, "mismatch", signed_in=True)  # used up (and still signed in)


def test_a_code_for_another_sign_in_is_refused_by_the_provider(signin_settings):
    client = Client()
    first = callback_path(sign_in_at_provider(start(client), "bold"))
    second = callback_path(sign_in_at_provider(start(client), "tuya"))
    code_of_first = parse_qs(urlsplit(first).query)["code"][0]
    swapped = re.sub(r"code=[^&]+", f"code={code_of_first}", second)  # PKCE verifier of the second
    assert_failure_page(client.get(swapped), 400, "token_refused", "")


def test_the_provider_saying_no_is_a_page(signin_settings):
    client = Client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get("/signin/callback/", {"error": "access_denied", "state": state})
    assert_failure_page(response, 400, "cancelled", "")


def test_a_provider_that_is_down_is_a_page_not_a_crash(settings, db):
    from citizens.oidc import forget_metadata

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TUMEN_OIDC_ISSUER = f"http://127.0.0.1:{port}/o"
    settings.TUMEN_OIDC_CLIENT_ID = "tumen-test"
    forget_metadata()
    response = Client().get("/en/signin/")
    assert response.status_code == 503 and response["Retry-After"]
    html = response.content.decode()
    assert "cannot be reached" in html and 'href="/en/signin/"' in html
    forget_metadata()


def _provider_processes(provider) -> list[int]:
    """The provider's gunicorn master and its workers."""
    pid = provider.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def test_the_provider_stopping_after_the_redirect_is_a_page(signin_settings, settings):
    client = Client()
    callback = callback_path(sign_in_at_provider(start(client), "bold"))
    settings.TUMEN_OIDC_TIMEOUT = settings.OIDC_TIMEOUT = 1
    stopped = _provider_processes(signin_settings)
    for pid in stopped:  # the provider stops answering (its socket still accepts connections)
        os.kill(pid, signal.SIGSTOP)
    try:
        response = client.get(callback)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    assert_failure_page(response, 503, "provider_unavailable", "")


def test_sign_in_when_it_is_not_configured(settings, db):
    settings.TUMEN_OIDC_ISSUER = ""
    response = Client().get("/en/signin/")
    assert response.status_code == 503
    assert "not set up on this site" in response.content.decode()
    assert 'class="citizen-signin"' not in Client().get("/en/").content.decode()


# -- locked answers -----------------------------------------------------------------------------


def test_verified_answers_are_prefilled_locked_and_survive_a_crafted_post(signin_settings, service):
    client = signed_in_client("bold")
    html = client.get(f"/apply/{service.code}/step/1/").content.decode()
    field = re.search(r'<input[^>]+name="register_number"[^>]*>', html).group(0)
    assert f'value="{BOLD}"' in field and "readonly" in field
    assert 'data-testid="locked-last_name"' in html

    crafted = {
        "register_number": "УБ99010112", "last_name": "Хуурамч", "first_name": "Нэр", "phone": "8811 2233",
        "address_0": "65", "address_1": soum_code(), "address_2": "", "action": "next",
    }  # fmt: skip
    response = client.post(f"/apply/{service.code}/step/1/", crafted)
    assert response.status_code == 302 and response["Location"].endswith("/step/2/")
    response = client.post(f"/apply/{service.code}/step/2/", {"request": "Хүсэлт", "consent": "on", "action": "next"})
    assert response.status_code == 302
    review = client.post(f"/apply/{service.code}/review/", {})
    assert review.status_code == 302, review.content.decode()[:800]
    submission = Submission.objects.get(tracking_code=review["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert submission.data["register_number"] == BOLD and submission.data["last_name"] == "Батбаяр"
    assert submission.data["first_name"] == "Болд" and submission.data["phone"] == "+97699112233"
    assert submission.applicant_register_number == BOLD
    assert submission.verified_identity["subject"] == "dan-0001"


def test_a_draft_started_anonymously_takes_the_verified_answers_after_signing_in(signin_settings, service):
    client = Client()
    step1 = {
        "register_number": "УБ99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "9911 2233",
        "address_0": "65", "address_1": soum_code(), "address_2": "", "action": "next",
    }  # fmt: skip
    client.post(f"/apply/{service.code}/step/1/", step1)
    client.post(f"/apply/{service.code}/step/2/", {"request": "Хүсэлт", "consent": "on", "action": "next"})
    assert sign_in(client, next_url=f"/apply/{service.code}/review/")["Location"] == f"/apply/{service.code}/review/"
    review = client.get(f"/apply/{service.code}/review/").content.decode()
    assert BOLD in review and "УБ99010112" not in review
    response = client.post(f"/apply/{service.code}/review/", {})
    submission = Submission.objects.get(tracking_code=response["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert submission.applicant_register_number == BOLD and submission.data["first_name"] == "Болд"


def test_the_api_refuses_a_different_locked_answer_for_a_signed_in_session(signin_settings, service):
    client = signed_in_client("bold")
    url = f"/api/v1/services/{service.code}/submissions"
    refused = client.post(url, {"data": general_answers()}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["register_number"][0]["code"] == "locked"
    data = general_answers(register_number=None, last_name=None, first_name=None, phone="99 11 22 33")
    data = {key: value for key, value in data.items() if value is not None}
    accepted = client.post(url, {"data": data}, content_type="application/json")
    assert accepted.status_code == 201, accepted.content
    submission = Submission.objects.get(tracking_code=accepted.json()["tracking_code"])
    assert submission.source == Source.API and submission.applicant_register_number == BOLD
    assert submission.data["last_name"] == "Батбаяр"
    # Anonymous API clients are unaffected.
    assert Client().post(url, {"data": general_answers()}, content_type="application/json").status_code == 201


def test_the_api_needs_the_csrf_token_with_a_signed_in_session(signin_settings, service):
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client).status_code == 302
    client.get("/my/")  # a page with a form: the CSRF cookie
    url = f"/api/v1/services/{service.code}/submissions"
    data = {"data": general_answers(register_number=BOLD, last_name="Батбаяр", first_name="Болд")}
    refused = client.post(url, data, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    token = client.cookies["csrftoken"].value
    accepted = client.post(url, data, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content
    # Without a citizen's session the API stays token-free (mobile app, kiosks).
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(url, {"data": general_answers()}, content_type="application/json").status_code == 201


# -- organisations -------------------------------------------------------------------------------


def test_a_representative_chooses_the_organisation_and_applies_for_it(signin_settings, service):
    client = Client()
    response = sign_in(client, "saraa")
    assert response["Location"].startswith("/signin/organisation/?next=")
    page = client.get(response["Location"]).content.decode()
    assert "Говийн зам ХХК" in page and SARAA_COMPANY in page
    assert client.post("/signin/organisation/", {"act_for": "9999999", "next": "/my/"}).status_code == 400
    assert client.post("/signin/organisation/", {"act_for": SARAA_COMPANY, "next": "/my/"})["Location"] == "/my/"
    assert client.session[SESSION_KEY]["represents"] == SARAA_COMPANY

    accepted = client.post(
        f"/api/v1/services/{service.code}/submissions",
        {"data": general_answers(register_number=SARAA, last_name="Дорж", first_name="Сараа", phone="+97688114455")},
        content_type="application/json",
    )
    assert accepted.status_code == 201, accepted.content
    code = accepted.json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    assert submission.applicant_register_number == SARAA_COMPANY
    assert submission.verified_identity["register_number"] == SARAA and submission.verified_identity["represents"] == SARAA_COMPANY
    assert code in client.get("/my/").content.decode()

    # Acting for herself again, the organisation's application is not hers.
    client.post("/signin/organisation/", {"act_for": "self", "next": "/my/"})
    assert code not in client.get("/my/").content.decode()
    assert client.get(f"/my/{code}/").status_code == 404


# -- My applications -----------------------------------------------------------------------------


def operator_application(service, register_number):
    application = application_for(service, operator=True)
    citizen = {"register_number": register_number, "last_name": "Батбаяр", "first_name": "Болд", "phone": "+97699112233"}
    return submit(application, general_answers(register_number=register_number), source=Source.OPERATOR, citizen=citizen)


def test_my_applications_lists_every_channel_and_nobody_elses(signin_settings, service):
    online = submit(application_for(service), general_answers(register_number=BOLD), source=Source.WEB)
    by_operator = operator_application(service, BOLD)
    someone_else = submit(application_for(service), general_answers(register_number="ЧА01250318"), source=Source.API)
    by_operator.set_status(Status.REJECTED, actor="agency", message="staff-only note", public_message="Бичиг баримт дутуу.")

    bold = signed_in_client("bold")
    page = bold.get("/my/").content.decode()
    assert online.tracking_code in page and by_operator.tracking_code in page
    assert someone_else.tracking_code not in page
    detail = bold.get(f"/my/{by_operator.tracking_code}/").content.decode()
    assert "Бичиг баримт дутуу." in detail and "staff-only note" not in detail
    receipt = bold.get(f"/my/{online.tracking_code}/receipt/")
    assert receipt.status_code == 200 and online.tracking_code in receipt.content.decode()

    api = bold.get("/api/v1/my/submissions").json()
    assert {row["tracking_code"] for row in api["results"]} == {online.tracking_code, by_operator.tracking_code}
    rejected = next(row for row in api["results"] if row["tracking_code"] == by_operator.tracking_code)
    assert rejected["timeline"][-1]["message"] == "Бичиг баримт дутуу."
    assert "staff-only note" not in str(api)

    # From the other side: Tuya sees none of Bold's, not even by URL.
    tuya = signed_in_client("tuya")
    for url in (f"/my/{online.tracking_code}/", f"/my/{online.tracking_code}/receipt/", f"/en/my/{by_operator.tracking_code}/"):
        assert tuya.get(url).status_code == 404, url
    assert [row["tracking_code"] for row in tuya.get("/api/v1/my/submissions").json()["results"]] == [someone_else.tracking_code]


def test_my_applications_need_a_signed_in_citizen(signin_settings, service):
    anonymous = Client()
    response = anonymous.get("/my/")
    assert response.status_code == 302 and response["Location"].startswith("/signin/?next=")
    online = submit(application_for(service), general_answers(register_number=BOLD))
    assert anonymous.get(f"/my/{online.tracking_code}/").status_code == 302
    api = anonymous.get("/api/v1/my/submissions", HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 401 and api.json()["error"]["code"] == "sign_in_required"
    # Staff signed in to the admin are not citizens.
    User.objects.create_superuser("root", password="pw")
    staff = Client()
    staff.login(username="root", password="pw")
    assert staff.get("/api/v1/my/submissions").status_code == 401


def test_other_apps_add_sections_through_hooks(signin_settings, service):
    online = submit(application_for(service), general_answers(register_number=BOLD))
    client = signed_in_client("bold")

    def page_section(request, identity):
        return [f'<section data-testid="my-documents">{identity.applicant_register_number}</section>']

    def application_section(request, identity, submission):
        return [f'<section data-testid="result-documents">{submission.tracking_code}</section>']

    with hooks.register_temporarily("tumen_my_page_sections", page_section), hooks.register_temporarily(
        "tumen_my_application_sections", application_section
    ):
        assert f'<section data-testid="my-documents">{BOLD}</section>' in client.get("/my/").content.decode()
        detail = client.get(f"/my/{online.tracking_code}/").content.decode()
        assert f'<section data-testid="result-documents">{online.tracking_code}</section>' in detail


# -- signing out ---------------------------------------------------------------------------------


def test_sign_out_here_and_at_the_provider(signin_settings):
    client = signed_in_client("bold")
    response = client.post("/signout/")
    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(signin_settings.issuer + "/logout/")
    query = parse_qs(urlsplit(end_session).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/signout/done/"] and query["id_token_hint"][0]
    assert SESSION_KEY not in client.session
    assert client.get("/my/").status_code == 302  # signed out here
    # The provider accepts the request and sends the browser back.
    back = requests.get(end_session, allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"] == "http://testserver/signout/done/"
    assert client.get("/signout/done/").status_code == 200


def test_sign_out_needs_a_post(signin_settings):
    client = signed_in_client("bold")
    assert client.get("/signout/").status_code == 200  # a page with the button
    assert SESSION_KEY in client.session
