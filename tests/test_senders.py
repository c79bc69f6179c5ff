"""Real senders (issue 13): SMS through an HTTP gateway plugin configured in the admin, e-mail
through SMTP configured from the environment (a real local SMTP server, aiosmtpd), the log-only
senders only with DEBUG, no personal data in logs, and failures after commit (finding 7) that
never turn a saved request into a 500 nor a retried agency callback into a duplicate event."""

from __future__ import annotations

import datetime
import json
import logging
import re
import socket
import time
import traceback
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core import checks
from django.test import Client
from django.utils import timezone
from django_tasks.backends.immediate import ImmediateBackend

import cms.env
from form_builder.models import Draft, Status, Submission
from plugins import signing
from plugins.delivery import sweep
from plugins.models import AgencyCredential, Delivery, PluginConfig
from plugins.registry import register
from service_pages.models import ServicePage
from tests.agency import AgencyServer
from tests.deliveries import attempt
from tests.test_forms import answers, post_api
from tests.test_operators import apply_for_citizen, operator, soums

pytestmark = pytest.mark.django_db
API_KEY = "gw-key-0123456789abcdef"
PHONE = "+97688112233"
# Everything that identifies the operator-mode citizen (tests.test_operators.CITIZEN) or the API
# applicant (tests.test_forms.answers), in the spellings a log line could carry.
PERSONAL = ["88112233", "8811 2233", "ЧБ88051234", "чб88051234", "Дорж", "Сараа", "99112233", "9911 2233", "УБ99010112", "Бат "]


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = 0


@pytest.fixture
def gateway():
    server = AgencyServer()
    server.reply_body = b'{"status": "queued"}'
    yield server
    server.stop()


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()


def sms_gateway(server, agency=None, **options):
    return PluginConfig.objects.create(
        plugin_id="sms_http", agency=agency, options={"url": server.url, "api_key": API_KEY, **options}
    )


def review_url(service, language="mn"):
    return f"{'/en' if language == 'en' else ''}/apply/{service.code}/review/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def callback(code, body, credential, *, timestamp=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    raw = json.dumps(body).encode()
    return Client().post(
        f"/api/v1/submissions/{code}/status", raw, content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp,
        HTTP_X_TUMEN_SIGNATURE=signing.signature(credential.secret, timestamp, [code], raw),
    )  # fmt: skip


class RaisingSender:
    """A sender whose gateway is down; its error names the phone, as careless code would."""

    def send(self, phone, text):
        raise ConnectionError(f"gateway refused {phone}: {text}")


class BrokenQueue(ImmediateBackend):
    """A task backend whose queue cannot be reached: every enqueue raises."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("the task queue is unreachable")


# -- SMS through the HTTP gateway plugin ---------------------------------------------------------


def test_the_sms_gateway_is_a_plugin_with_its_options_in_the_admin(admin_client):
    plugin = register["sms_http"]
    assert plugin.kind == "sms"
    page = admin_client.get("/admin/plugin_configs/new/").content.decode()
    assert 'value="sms_http"' in page, "offered when a configuration is added"
    form = {"name": "default", "enabled": "on", "option__url": "https://sms.example.mn/send", "option__api_key": API_KEY,
            "option__auth": "bearer", "option__format": "json", "option__to_field": "to", "option__text_field": "text",
            "option__timeout": "5"}  # fmt: skip
    response = admin_client.post("/admin/plugin_configs/new/?plugin=sms_http", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    config = PluginConfig.objects.get(plugin_id="sms_http")
    assert config.agency is None and config.options["api_key"] == API_KEY
    edit = admin_client.get(f"/admin/plugin_configs/edit/{config.pk}/").content.decode()
    assert API_KEY not in edit, "the API key is never shown again"
    assert API_KEY not in admin_client.get(f"/admin/plugin_configs/inspect/{config.pk}/").content.decode()


def test_the_consent_code_is_texted_through_the_national_gateway(service, gateway):
    sms_gateway(gateway)
    soum, _same, _other = soums()
    _user, client = operator("op-sms", soum=soum)
    apply_for_citizen(client, service, soum)
    response = client.post(review_url(service), {"action": "send_code"})
    assert response.status_code == 302
    [request] = gateway.received
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["to"] == PHONE
    code = re.search(r"\b(\d{6})\b", body["text"]).group(1)
    response = client.post(review_url(service), {"action": "submit", "consent_code": code})
    assert response.status_code == 302 and "/receipt/" in response.url
    assert Submission.objects.get().consent["method"] == "sms_code"


def test_an_agencys_own_gateway_wins_over_the_national_one_and_can_post_a_form(service, gateway):
    national = AgencyServer()
    try:
        sms_gateway(national)
        sms_gateway(gateway, agency=service.agency, format="form", auth="body", to_field="msisdn", text_field="message",
                    sender="TUMEN")  # fmt: skip
        soum, _same, _other = soums()
        _user, client = operator("op-sms2", soum=soum)
        apply_for_citizen(client, service, soum)
        client.post(review_url(service), {"action": "send_code"})
        assert national.received == []
        [request] = gateway.received
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = parse_qs(request.body.decode())
        assert form["msisdn"] == [PHONE] and form["api_key"] == [API_KEY] and form["from"] == ["TUMEN"]
        assert re.search(r"\b\d{6}\b", form["message"][0])
        assert "authorization" not in request.headers
    finally:
        national.stop()


def test_a_status_change_is_texted_through_the_gateway(client, service, gateway, django_capture_on_commit_callbacks):
    sms_gateway(gateway)
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    credential = AgencyCredential.objects.create(agency=service.agency)
    with django_capture_on_commit_callbacks(execute=True):
        assert callback(code, {"status": "approved"}, credential).status_code == 200
    [request] = gateway.received
    assert request.json()["to"] == "+97699112233" and code in request.json()["text"]


@pytest.mark.parametrize("failure", [500, "close", "blocked"])
def test_a_failing_gateway_is_reported_to_the_operator_not_a_500(service, gateway, failure, settings):
    if failure == "blocked":
        sms_gateway(gateway, url="http://169.254.169.254/latest/meta-data")  # the SSRF guard refuses it
    else:
        gateway.plan = [failure]
        sms_gateway(gateway)
    soum, _same, _other = soums()
    _user, client = operator("op-sms3", soum=soum)
    apply_for_citizen(client, service, soum)
    response = client.post(review_url(service, "en"), {"action": "send_code"})
    assert response.status_code == 302
    assert any("could not be sent" in message for message in messages_of(response))
    assert "code_hash" not in Draft.objects.get().consent, "no code counts as sent"


# -- log-only senders only with DEBUG, and no personal data in logs --------------------------------


def test_without_debug_and_without_a_gateway_sms_fails_cleanly(service, settings, caplog):
    settings.DEBUG = False
    settings.TUMEN_CONSENT_SENDER = "form_builder.consent.ConsoleSender"  # the old default, set explicitly
    caplog.set_level(logging.DEBUG)
    soum, _same, _other = soums()
    _user, client = operator("op-nosms", soum=soum)
    apply_for_citizen(client, service, soum)
    response = client.post(review_url(service, "en"), {"action": "send_code"})
    assert response.status_code == 302
    assert any("SMS is not configured" in message for message in messages_of(response)), messages_of(response)
    assert "code_hash" not in Draft.objects.get().consent, "no code counts as sent"
    assert not any("88112233" in record.getMessage() for record in caplog.records), "nothing with the phone is logged"


def test_the_log_only_sender_works_with_debug_and_keeps_the_code_below_info(service, settings, caplog):
    settings.DEBUG = True
    settings.TUMEN_CONSENT_SENDER = ""
    caplog.set_level(logging.DEBUG)
    soum, _same, _other = soums()
    _user, client = operator("op-debug", soum=soum)
    apply_for_citizen(client, service, soum)
    assert client.post(review_url(service), {"action": "send_code"}).status_code == 302
    debug = [record.getMessage() for record in caplog.records if record.levelno < logging.INFO]
    code = next(re.search(r"\b(\d{6})\b", line).group(1) for line in debug if PHONE in line)
    assert client.post(review_url(service), {"action": "submit", "consent_code": code}).status_code == 302
    loud = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert any("+976****2233" in line for line in loud), "INFO says an SMS went, to a masked number"
    assert not [line for line in loud if code in line or "88112233" in line]


def test_a_system_check_warns_when_production_cannot_send_sms(settings):
    settings.DEBUG = False
    settings.TUMEN_CONSENT_SENDER = settings.TUMEN_NOTIFY_SENDER = ""
    found = {message.id for message in checks.run_checks(databases=["default"])}
    assert "plugins.W001" in found, "no gateway and no sender: SMS goes nowhere"
    settings.TUMEN_NOTIFY_SENDER = "form_builder.consent.ConsoleSender"
    assert "form_builder.W001" in {message.id for message in checks.run_checks()}, "a log-only sender without DEBUG"
    settings.TUMEN_NOTIFY_SENDER = ""
    PluginConfig.objects.create(plugin_id="sms_http", options={"url": "https://sms.example.mn/send", "api_key": API_KEY})
    found = {message.id for message in checks.run_checks(databases=["default"])}
    assert not found & {"plugins.W001", "form_builder.W001"}
    settings.DEBUG = True
    PluginConfig.objects.all().delete()
    assert not {m.id for m in checks.run_checks(databases=["default"])} & {"plugins.W001", "form_builder.W001"}


def _loud_text(caplog) -> str:
    """Every record at INFO or above as a handler would write it (message and traceback)."""
    lines = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(lines)


@pytest.fixture
def crashing_plugin(monkeypatch):
    """A delivery plugin with a bug: its exception carries the applicant's answers."""
    from plugins.base import DeliveryPlugin

    class Crashing(DeliveryPlugin):
        id = "crashing_test_plugin"
        label = "crashes"

        def deliver(self, context, options):
            data = context.submission.data
            raise KeyError(f"{data['register_number']} {data['last_name']} {data['phone']}")

    plugin, original = Crashing(), register.get
    monkeypatch.setattr(register, "get", lambda plugin_id: plugin if plugin_id == plugin.id else original(plugin_id))


def test_no_personal_data_in_logs_at_info_across_consent_notify_and_delivery(
    client, service, gateway, settings, caplog, django_capture_on_commit_callbacks, crashing_plugin
):
    caplog.set_level(logging.DEBUG)
    # Consent: a code sent through the gateway, then a gateway that fails.
    sms_gateway(gateway)
    soum, _same, _other = soums()
    _user, office = operator("op-logs", soum=soum)
    apply_for_citizen(office, service, soum)
    office.post(review_url(service), {"action": "send_code"})
    code = re.search(r"\b(\d{6})\b", gateway.received[0].json()["text"]).group(1)
    gateway.plan = [503]
    office.post(review_url(service), {"action": "send_code"})
    gateway.plan = [200]
    with django_capture_on_commit_callbacks(execute=True):
        office.post(review_url(service), {"action": "submit", "consent_code": code})
    # Notify: a status change texted, and a notifier that fails loudly (its error names the phone).
    credential = AgencyCredential.objects.create(agency=service.agency)
    tracking = Submission.objects.get().tracking_code
    with django_capture_on_commit_callbacks(execute=True):
        callback(tracking, {"status": "in_progress"}, credential)
    settings.TUMEN_NOTIFY_SENDER = "tests.test_senders.RaisingSender"
    PluginConfig.objects.filter(plugin_id="sms_http").delete()
    with django_capture_on_commit_callbacks(execute=True):
        callback(tracking, {"status": "approved"}, credential)
    # Delivery: a target that fails, then a plugin that crashes with the answers in its error.
    agency = AgencyServer()
    try:
        agency.plan = [500, 200]
        PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency.url, "secret": "s" * 20})
        PluginConfig.objects.create(plugin_id="crashing_test_plugin", name="crash", agency=service.agency)
        with django_capture_on_commit_callbacks(execute=True):
            submission = Submission.objects.get(tracking_code=post_api(client, service.code, answers()).json()["tracking_code"])
        for delivery in submission.deliveries.all():
            for _ in range(3):
                attempt(delivery.pk)
    finally:
        agency.stop()
    assert len(gateway.received) >= 2
    assert any(record.levelno >= logging.WARNING for record in caplog.records), "the failures were logged"
    text = _loud_text(caplog)
    leaked = [item for item in [*PERSONAL, code, PHONE] if item in text]
    assert not leaked, f"personal data in INFO+ logs: {leaked}\n{text}"


# -- finding 7: failures after commit ------------------------------------------------------------


def test_a_wake_that_fails_still_gives_the_citizen_a_tracking_code_and_the_sweep_recovers(
    client, service, settings, caplog, django_capture_on_commit_callbacks
):
    agency = AgencyServer()
    try:
        PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency.url, "secret": "s" * 20})
        settings.TASKS = {"default": {"BACKEND": "tests.test_senders.BrokenQueue"}}
        with django_capture_on_commit_callbacks(execute=True):
            response = post_api(client, service.code, answers())
        assert response.status_code == 201 and response.json()["tracking_code"]
        submission = Submission.objects.get()
        assert submission.deliveries.get().state == Delivery.State.PENDING
        assert any("sweep" in record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING)
        assert agency.received == []
        # The queue is back; the periodic sweep finds the delivery nobody woke a worker for.
        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
        later = timezone.now() + datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS + 1)
        assert sweep(now=later) == 1
        assert submission.deliveries.get().state == Delivery.State.DELIVERED
        assert len(agency.received) == 1
    finally:
        agency.stop()


def test_a_notifier_that_fails_does_not_fail_the_agencys_callback_and_a_retry_adds_nothing(
    client, service, settings, django_capture_on_commit_callbacks
):
    settings.TUMEN_NOTIFY_SENDER = "tests.test_senders.RaisingSender"
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    credential = AgencyCredential.objects.create(agency=service.agency)
    body = {"status": "approved", "message": "Бэлэн"}
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(code, body, credential)
    assert response.status_code == 200 and response.json()["status"] == "approved"
    submission = Submission.objects.get(tracking_code=code)
    assert submission.events.filter(status=Status.APPROVED).count() == 1
    # The agency did not get (or did not trust) the answer and sends the same report again.
    with django_capture_on_commit_callbacks(execute=True):
        retry = callback(code, body, credential, timestamp=int(time.time()) - 2)
    assert retry.status_code == 200 and retry.json()["status"] == "approved"
    assert submission.events.filter(status=Status.APPROVED).count() == 1
    assert retry.json()["at"] == response.json()["at"]
    # A different report is a new event.
    assert callback(code, {"status": "approved", "message": "Бэлэн, ирж авна уу"}, credential).status_code == 200
    assert submission.events.filter(status=Status.APPROVED).count() == 2


def test_a_retried_stage_completion_does_not_complete_the_next_stage(client, service, settings):
    agencies = [service.agency, ServicePage.objects.exclude(agency=service.agency).first().agency]
    service.stages = 2
    service.stage_agencies = " | ".join(agency.code for agency in agencies)
    service.save()
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    first = AgencyCredential.objects.create(agency=agencies[0])
    assert callback(code, {"status": "completed"}, first).status_code == 200
    retry = callback(code, {"status": "completed"}, first, timestamp=int(time.time()) - 2)
    assert retry.status_code == 200 and retry.json()["stage"] == 2
    submission = Submission.objects.get(tracking_code=code)
    assert submission.stage == 2 and submission.events.filter(status=Status.STAGE_COMPLETED).count() == 1


def test_a_sender_that_fails_does_not_fail_a_staff_status_change(client, service, settings, admin_client,
                                                                django_capture_on_commit_callbacks):  # fmt: skip
    settings.TUMEN_NOTIFY_SENDER = "tests.test_senders.RaisingSender"
    submission = Submission.objects.get(tracking_code=post_api(client, service.code, answers()).json()["tracking_code"])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "in_progress"})
    assert response.status_code == 302
    assert submission.events.filter(status=Status.IN_PROGRESS).count() == 1


def test_a_sender_that_fails_on_the_consent_code_is_a_message_not_a_500(service, settings):
    settings.TUMEN_CONSENT_SENDER = "tests.test_senders.RaisingSender"
    soum, _same, _other = soums()
    _user, client = operator("op-raise", soum=soum)
    apply_for_citizen(client, service, soum)
    response = client.post(review_url(service, "en"), {"action": "send_code"})
    assert response.status_code == 302
    assert any("could not be sent" in message for message in messages_of(response))


# -- e-mail through SMTP from the environment ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"p@ss w0rd")


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), authenticator=mailbox.authenticate,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server, monkeypatch):
    """Settings as production would read them from EMAIL_URL (credentials with URL-escapes)."""
    monkeypatch.setenv("EMAIL_URL", f"smtp://tumen%40gov.mn:p%40ss%20w0rd@127.0.0.1:{smtp_server.port}/?timeout=5")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "Tumen <noreply@tumen.gov.mn>")
    for name, value in cms.env.email_settings().items():
        setattr(settings, name, value)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    return settings


def test_email_url_and_email_variables_give_djangos_settings(monkeypatch):
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
                 "EMAIL_USE_SSL", "EMAIL_TIMEOUT", "DEFAULT_FROM_EMAIL", "SERVER_EMAIL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    defaults = cms.env.email_settings()
    assert (defaults["EMAIL_HOST"], defaults["EMAIL_PORT"], defaults["EMAIL_TIMEOUT"]) == ("localhost", 25, 10)
    monkeypatch.setenv("EMAIL_URL", "smtp://user:pa%2Fss@mail.gov.mn:587/?tls=true")
    config = cms.env.email_settings()
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"], config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == (
        "mail.gov.mn", 587, "user", "pa/ss")
    assert config["EMAIL_USE_TLS"] is True and config["EMAIL_USE_SSL"] is False
    monkeypatch.setenv("EMAIL_URL", "smtps://mail.gov.mn")
    assert (cms.env.email_settings()["EMAIL_PORT"], cms.env.email_settings()["EMAIL_USE_SSL"]) == (465, True)
    monkeypatch.setenv("EMAIL_URL", "submission://mail.gov.mn")
    assert (cms.env.email_settings()["EMAIL_PORT"], cms.env.email_settings()["EMAIL_USE_TLS"]) == (587, True)
    monkeypatch.delenv("EMAIL_URL")
    monkeypatch.setenv("EMAIL_HOST", "relay.gov.mn")
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("EMAIL_USE_TLS", "true")
    monkeypatch.setenv("EMAIL_TIMEOUT", "3")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "noreply@tumen.gov.mn")
    config = cms.env.email_settings()
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"], config["EMAIL_USE_TLS"], config["EMAIL_TIMEOUT"]) == ("relay.gov.mn", 2525, True, 3)
    assert config["DEFAULT_FROM_EMAIL"] == config["SERVER_EMAIL"] == "noreply@tumen.gov.mn"
    for bad in ("http://mail.gov.mn", "smtp://", "smtp://mail.gov.mn/?tls=true&ssl=true", "smtp://mail.gov.mn:99999"):
        monkeypatch.setenv("EMAIL_URL", bad)
        with pytest.raises(ValueError, match="EMAIL_URL"):
            cms.env.email_settings()


def test_the_settings_read_the_email_variables(settings):
    assert settings.EMAIL_TIMEOUT == 10, "e-mail never waits forever for a mail server"


def test_a_delivery_email_reaches_a_real_smtp_server(client, service, smtp_settings, smtp_server):
    PluginConfig.objects.create(plugin_id="email", agency=service.agency, options={"to": "registry@agency.gov.mn"})
    submission = Submission.objects.get(tracking_code=post_api(client, service.code, answers()).json()["tracking_code"])
    assert attempt(submission.deliveries.get().pk) == "delivered"
    [envelope] = smtp_server.messages
    assert smtp_server.logins == [("tumen@gov.mn", "p@ss w0rd")]
    assert envelope.rcpt_tos == ["registry@agency.gov.mn"] and envelope.mail_from == "noreply@tumen.gov.mn"
    content = envelope.content.decode()
    assert submission.tracking_code in content and "Idempotency-Key" in content


def test_a_dead_letter_alert_reaches_the_agencys_technical_contact(client, service, smtp_settings, smtp_server):
    agency = AgencyServer()
    try:
        agency.plan = [400]
        service.agency.technical_contact_email = "it@agency.gov.mn"
        service.agency.save()
        PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency.url, "secret": "s" * 20})
        submission = Submission.objects.get(tracking_code=post_api(client, service.code, answers()).json()["tracking_code"])
        assert attempt(submission.deliveries.get().pk) == "dead"
    finally:
        agency.stop()
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["it@agency.gov.mn"]
    content = envelope.content.decode()
    assert submission.tracking_code in content and "given up" in content


def test_a_silent_mail_server_cannot_hold_a_worker(client, service, settings, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections, never greets
    try:
        monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("EMAIL_TIMEOUT", "1")
        for name, value in cms.env.email_settings().items():
            setattr(settings, name, value)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        PluginConfig.objects.create(plugin_id="email", agency=service.agency, options={"to": "registry@agency.gov.mn"})
        submission = Submission.objects.get(tracking_code=post_api(client, service.code, answers()).json()["tracking_code"])
        started = time.monotonic()
        assert attempt(submission.deliveries.get().pk) == "retrying"
        assert time.monotonic() - started < 4
    finally:
        listener.close()



# -- README: every setting read from the environment -------------------------------------------


def test_the_readme_lists_every_setting_read_from_the_environment():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [*sorted((root / "cms" / "settings").glob("*.py")), root / "cms" / "env.py", root / "gunicorn.conf.py",
               root / "cms" / "management" / "commands" / "ensure_admin.py"]  # fmt: skip
    pattern = re.compile(r"""(?:env_(?:str|int|bool|list)|environ\.get|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    names = {name for path in sources for name in pattern.findall(path.read_text())}
    assert {"EMAIL_URL", "TUMEN_CONSENT_SENDER", "TUMEN_TRUSTED_PROXIES", "GUNICORN_BIND"} <= names
    table = (root / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = sorted(name for name in names if name not in listed)
    assert not missing, f"settings read from the environment but missing in README's settings table: {missing}"
