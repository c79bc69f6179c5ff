"""Plugins and delivery: registry, per-agency configuration, signed webhooks to real HTTP servers
on 127.0.0.1, retries, dead letters and replay, fan-out, SSRF refusals, pre-submit checks,
status callbacks, leases and the sweep, the worker, the admin, and a third-party package."""

import base64
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from form_builder.models import Status, Submission
from plugins import signing
from plugins.base import DeliveryPlugin
from plugins.delivery import (
    DRAIN_TASK,
    attempt_batch,
    backoff_seconds,
    batch_size,
    claim_batch,
    replay,
    sweep,
)
from plugins.delivery import drain as drain_due
from plugins.http import BlockedURL, check_url
from plugins.models import AgencyCredential, Delivery, PluginConfig, configs_for
from plugins.registry import PluginAlreadyRegistered, Registry, register
from service_pages.models import ServicePage
from tests.agency import AgencyServer
from tests.deliveries import attempt, claim
from tests.test_forms import answers, post_api

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]
SECRET = "s3cret-shared-with-the-agency"


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()


def webhook(service, server, *, scope="agency", name="default", **options):
    return PluginConfig.objects.create(
        plugin_id="webhook",
        name=name,
        agency=service.agency if scope in ("agency", "service") else None,
        service=service if scope == "service" else None,
        options={"url": server.url, "secret": SECRET, **options},
    )


def submit(client, service, **changes):
    response = post_api(client, service.code, answers(**changes))
    assert response.status_code == 201, response.content
    return Submission.objects.get(tracking_code=response.json()["tracking_code"])


def drain(delivery, limit=10):
    """Attempt a delivery until it is delivered or dead (retries are immediate in these tests)."""
    outcome = None
    for _ in range(limit):
        outcome = attempt(delivery.pk)
        if outcome in ("delivered", "dead"):
            break
    delivery.refresh_from_db()
    return outcome


# -- registry and configuration -----------------------------------------------------------------


def test_built_in_plugins_are_registered_by_kind():
    assert {p.id for p in register.of_kind("delivery")} >= {"webhook", "email", "xyp"}
    assert [p.id for p in register.of_kind("pre_submit")] == ["agency_check"]
    assert "tumen_status" in {p.id for p in register.of_kind("status_callback")}
    assert register["webhook"].version and register["webhook"].options_schema()[0]["name"] == "url"


def test_register_is_a_decorator_and_refuses_clashes():
    registry = Registry()

    @registry("mine")
    class Mine(DeliveryPlugin):
        label = "mine"

    assert registry["mine"].id == "mine" and isinstance(registry["mine"], Mine)
    with pytest.raises(PluginAlreadyRegistered):

        @registry("mine")
        class Other(DeliveryPlugin):
            pass

    with pytest.raises(TypeError):
        registry.add("not-a-plugin", object)


def test_options_are_validated_by_the_plugins_schema(service, agency_server):
    config = PluginConfig(plugin_id="webhook", agency=service.agency, options={"url": "not a url", "secret": "short"})
    with pytest.raises(ValidationError) as error:
        config.clean()
    problems = error.value.message_dict["options"]
    assert [problem.split(":")[0] for problem in problems] == ["url", "secret"]
    config.options = {"url": agency_server.url, "secret": SECRET}
    config.clean()
    assert config.options["include_files"] is True, "a missing option takes its default"
    with pytest.raises(ValidationError):
        PluginConfig(plugin_id="nope", options={}).clean()


def test_service_configuration_overrides_the_agencys(service, agency_server):
    agency_level = webhook(service, agency_server)
    everyone = PluginConfig.objects.create(plugin_id="email", options={"to": "all@example.mn"})
    assert set(configs_for(service, "delivery")) == {agency_level, everyone}
    override = webhook(service, agency_server, scope="service", url="http://127.0.0.1:9/other")
    assert set(configs_for(service, "delivery")) == {override, everyone}
    PluginConfig.objects.create(plugin_id="email", service=service, agency=service.agency, enabled=False, options={"to": "x@example.mn"})
    assert configs_for(service, "delivery") == [override], "a disabled override switches the target off"
    other = ServicePage.objects.exclude(agency=service.agency).first()
    assert configs_for(other, "delivery") == [everyone]


# -- delivery ----------------------------------------------------------------------------------


def test_submission_and_its_deliveries_commit_together(client, service, agency_server):
    webhook(service, agency_server)
    PluginConfig.objects.create(plugin_id="email", agency=service.agency, options={"to": "inbox@agency.mn"})
    submission = submit(client, service)
    assert submission.deliveries.count() == 2
    assert set(submission.deliveries.values_list("state", flat=True)) == {"pending"}
    # A refused submission writes no deliveries.
    before = Delivery.objects.count()
    assert post_api(client, service.code, answers(phone="1")).status_code == 400
    assert Delivery.objects.count() == before


def test_signed_webhook_delivers_answers_schema_and_metadata(client, service, agency_server):
    webhook(service, agency_server)
    submission = submit(client, service)
    delivery = submission.deliveries.get()
    assert drain(delivery) == "delivered"
    [request] = agency_server.received
    headers = request.headers
    assert headers["idempotency-key"] == str(delivery.pk)
    assert headers["x-tumen-submission"] == submission.tracking_code
    assert signing.verify(SECRET, headers["x-tumen-timestamp"], [submission.tracking_code, str(delivery.pk)], request.body, headers["x-tumen-signature"])
    assert not signing.verify("wrong-secret-0000", headers["x-tumen-timestamp"], [submission.tracking_code, str(delivery.pk)], request.body, headers["x-tumen-signature"])
    stale = int(headers["x-tumen-timestamp"]) + signing.REPLAY_WINDOW_SECONDS + 1
    assert not signing.verify(SECRET, headers["x-tumen-timestamp"], [submission.tracking_code, str(delivery.pk)], request.body, headers["x-tumen-signature"], now=stale)
    body = request.json()
    assert body["answers"] == submission.data
    assert body["schema"]["properties"]["register_number"]["type"] == "string"
    assert body["metadata"]["tracking_code"] == submission.tracking_code
    assert body["metadata"]["service_code"] == service.code and body["metadata"]["agency"] == service.agency.code
    assert body["metadata"]["form_version"] == 1 and body["metadata"]["operator"] is None
    submission.refresh_from_db()
    assert submission.status == Status.DELIVERED
    assert list(submission.events.values_list("status", flat=True)) == ["received", "delivered"]
    assert delivery.attempt_log.get().status_code == 200


def test_webhook_can_encrypt_to_the_agencys_public_key(client, service, agency_server):
    from nacl.public import PrivateKey, SealedBox

    key = PrivateKey.generate()
    webhook(service, agency_server, public_key=base64.b64encode(bytes(key.public_key)).decode())
    submission = submit(client, service)
    assert drain(submission.deliveries.get()) == "delivered"
    [request] = agency_server.received
    envelope = request.json()
    assert envelope["encryption"] == "nacl-sealedbox" and "УБ99010112" not in request.body.decode()
    payload = json.loads(SealedBox(key).decrypt(base64.b64decode(envelope["encrypted"])))
    assert payload["answers"]["register_number"] == "УБ99010112"


def test_failures_are_retried_with_the_same_idempotency_key(client, service, agency_server):
    agency_server.plan = [500, 503, "close", 200]
    webhook(service, agency_server)
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.state == "retrying" and delivery.last_status_code == 500 and delivery.attempts == 1
    assert drain(delivery) == "delivered"
    assert delivery.attempts == 4
    assert set(agency_server.keys()) == {str(delivery.pk)} and len(agency_server.keys()) == 4
    log = list(delivery.attempt_log.values_list("ok", "status_code"))
    assert log == [(False, 500), (False, 503), (False, None), (True, 200)]


def test_timeouts_and_a_down_endpoint_are_retried(client, service, agency_server, settings):
    agency_server.plan = ["slow", 200]
    agency_server.slow_seconds = 1.5
    webhook(service, agency_server, timeout=0.5)
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert "timed out" in delivery.last_error.lower()
    agency_server.stop()
    assert attempt(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert "refused" in delivery.last_error.lower()
    agency_server.start()
    assert drain(delivery) == "delivered"


def test_oversized_responses_are_cut_off(client, service, agency_server):
    agency_server.plan = ["big", 200]
    webhook(service, agency_server)
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert "larger than" in delivery.last_error


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = 10
    settings.TUMEN_DELIVERY_BACKOFF_MAX_SECONDS = 300
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (6, 300), (20, 300)]:
        samples = [backoff_seconds(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1, "jitter spreads retries"


def test_a_refusing_agency_sends_the_delivery_to_the_dead_letters_and_is_told(client, service, agency_server):
    service.agency.technical_contact_email = "tech@agency.mn"
    service.agency.save()
    agency_server.plan = [400, 200]
    webhook(service, agency_server)
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.state == "dead" and delivery.dead_at and delivery.last_status_code == 400
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["tech@agency.mn"]
    assert delivery.submission.tracking_code in mail.outbox[0].body
    # Replay, once the agency fixed its side.
    assert replay(delivery)
    assert drain(delivery) == "delivered"
    assert [a.ok for a in delivery.attempt_log.all()] == [False, True]


def test_retries_stop_after_the_window(client, service, agency_server, settings):
    settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = 3600
    settings.TUMEN_DELIVERY_RETRY_WINDOW_HOURS = 1
    agency_server.plan = [500]
    webhook(service, agency_server)
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "retrying"  # next try within the hour (jitter: 30-60 minutes)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now(), retry_from=timezone.now() - datetime.timedelta(minutes=59))
    assert attempt(delivery.pk) == "dead"


def test_fan_out_gives_each_target_its_own_status(client, service, agency_server):
    second = AgencyServer()
    try:
        second.plan = [500]
        webhook(service, agency_server, name="registry")
        PluginConfig.objects.create(plugin_id="xyp", name="xyp", agency=service.agency,
                                    options={"url": second.url, "secret": SECRET, "operation": "WS100101_test"})  # fmt: skip
        PluginConfig.objects.create(plugin_id="email", name="archive", agency=service.agency, options={"to": "archive@agency.mn"})
        submission = submit(client, service)
        outcomes = {d.target: drain(d, limit=3) for d in submission.deliveries.all()}
        assert outcomes == {"registry": "delivered", "archive": "delivered", "xyp": "retrying"}
        envelope = second.received[0]
        assert envelope.headers["content-type"].startswith("text/xml")
        xml = envelope.body.decode()
        assert "<CitizenIdentity><RegisterNumber>УБ99010112</RegisterNumber><Name></Name></CitizenIdentity>" in xml
        assert "<OperatorIdentity/>" in xml and "WS100101_test" in xml
        assert mail.outbox[-1].to == ["archive@agency.mn"] and submission.tracking_code in mail.outbox[-1].subject
        submission.refresh_from_db()
        assert submission.status == Status.RECEIVED, "not all targets have it yet"
    finally:
        second.stop()


def test_email_delivery_attaches_files(client, service):
    PluginConfig.objects.create(plugin_id="email", agency=service.agency, options={"to": "inbox@agency.mn"})
    from tests.test_forms import PDF, multipart, upload

    response = multipart(client, service.code, answers(), attachment=upload("scan.pdf", PDF))
    delivery = Submission.objects.get(tracking_code=response.json()["tracking_code"]).deliveries.get()
    assert drain(delivery) == "delivered"
    message = mail.outbox[-1]
    assert message.attachments[0][0] == "scan.pdf" and message.attachments[0][1] == PDF
    assert message.extra_headers["Idempotency-Key"] == str(delivery.pk)


# -- SSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0/",
        "ftp://example.mn/",
        "http://user:pass@127.0.0.1/",
    ],
)
def test_private_and_odd_urls_are_refused(url):
    with pytest.raises(BlockedURL):
        check_url(url)


def test_https_only_in_production_and_private_addresses_only_when_allowed(settings):
    settings.TUMEN_DELIVERY_ALLOW_HTTP = False
    with pytest.raises(BlockedURL, match="https"):
        check_url("http://127.0.0.1:8000/")
    with pytest.raises(BlockedURL, match="non-public"):
        check_url("https://127.0.0.1:8443/")
    assert check_url("https://10.1.2.3/hook", allow_private=True)[3] == "10.1.2.3"
    assert check_url("https://127.0.0.1:8443/", allow_private=True)[3] == "127.0.0.1"


def test_blocked_targets_are_not_retried(client, service, agency_server):
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": "http://10.0.0.5/hook", "secret": SECRET})
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("blocked")


# -- leases, sweep and the worker -----------------------------------------------------------------


def test_a_claimed_delivery_is_not_run_twice_and_a_crashed_claim_expires(client, service, agency_server, settings):
    webhook(service, agency_server)
    delivery = submit(client, service).deliveries.get()
    assert claim(delivery.pk) is not None  # a worker took it ... and died
    assert attempt(delivery.pk) == "skipped", "still leased"
    assert agency_server.received == []
    past = timezone.now() - datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS + 1)
    Delivery.objects.filter(pk=delivery.pk).update(leased_until=past, next_attempt_at=past - datetime.timedelta(seconds=settings.TUMEN_DELIVERY_LEASE_SECONDS))
    assert sweep() == 1  # re-queued; the immediate task backend runs it at once
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and len(agency_server.received) == 1


def test_sweep_fails_tasks_left_running_by_a_crashed_worker(settings):
    from django_tasks_db.models import DBTaskResult

    old = timezone.now() - datetime.timedelta(hours=1)
    stuck = DBTaskResult.objects.create(
        status="RUNNING", task_path="plugins.tasks.deliver", args_kwargs={"args": ["x"], "kwargs": {}},
        backend_name="default", run_after=old, started_at=old, queue_name="default",
    )  # fmt: skip
    sweep()
    stuck.refresh_from_db()
    assert stuck.status == "FAILED"


def test_db_worker_delivers_queued_submissions(client, service, agency_server, settings, django_capture_on_commit_callbacks, monkeypatch):
    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.models import DBTaskResult

    # The worker runs inside this test's transaction; its periodic close_old_connections() would
    # drop that connection on PostgreSQL (autocommit is off inside a test), so keep it.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    webhook(service, agency_server)
    with django_capture_on_commit_callbacks(execute=True):
        submissions = [submit(client, service) for _ in range(3)]
    # The Delivery rows are the queue: three submissions wake one drain task, not three tasks.
    assert DBTaskResult.objects.filter(task_path=DRAIN_TASK, status="READY").count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0")
    states = list(Delivery.objects.filter(submission__in=submissions).values_list("state", flat=True))
    assert states == ["delivered"] * 3
    assert len(set(agency_server.keys())) == 3
    assert Delivery.objects.filter(submission__in=submissions).exclude(leased_by="").count() == 0, "leases are given back"


def test_a_drain_attempts_each_due_delivery_once_and_workers_never_share_one(client, service, agency_server):
    agency_server.plan = [500]  # always failing; retries are due again at once in these tests
    webhook(service, agency_server)
    deliveries = [submit(client, service).deliveries.get() for _ in range(3)]
    first, token = claim_batch(2, worker="w1")
    second, _ = claim_batch(10, worker="w2")
    assert len(first) == 2 and len(second) == 1
    assert not {d.pk for d in first} & {d.pk for d in second}, "a leased delivery is never claimed twice"
    assert claim_batch(10)[0] == [], "everything is leased"
    Delivery.objects.update(leased_until=None, lease_token="", leased_by="")
    assert drain_due(worker="w3") == 3
    assert len(agency_server.received) == 3, "one attempt each, although each is due again at once"
    assert sorted(Delivery.objects.values_list("attempts", flat=True)) == [1, 1, 1]
    assert {d.state for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])} == {"retrying"}


def test_a_batch_never_outlives_its_lease(client, service, agency_server, settings):
    settings.TUMEN_DELIVERY_LEASE_SECONDS, settings.TUMEN_DELIVERY_TIMEOUT = 120, 10
    assert batch_size() == 5, "five 10-second timeouts fit twice in a 120-second lease"
    settings.TUMEN_DELIVERY_LEASE_SECONDS = 10
    assert batch_size() == 1
    # A slow agency that may have one request in flight: after the first delivery too little lease
    # is left for the next, so the rest goes back unattempted instead of being sent after its lease
    # could have passed to another worker.
    settings.TUMEN_DELIVERY_LEASE_SECONDS, settings.TUMEN_DELIVERY_TIMEOUT = 3, 1.5
    settings.TUMEN_DELIVERY_SENDERS_PER_TARGET = 1
    agency_server.plan, agency_server.slow_seconds = ["slow", 200], 1.0
    webhook(service, agency_server)
    for _ in range(3):
        submit(client, service)
    batch, token = claim_batch(3, worker="w1")
    assert attempt_batch(batch, token, worker="w1") == 1
    assert len(agency_server.received) == 1
    states = sorted(Delivery.objects.values_list("state", "lease_token"))
    assert states == [("delivered", ""), ("pending", ""), ("pending", "")]
    assert len(claim_batch(3)[0]) == 2, "given back: claimable at once"


# -- pre-submit checks --------------------------------------------------------------------------


def agency_check(service, server, **options):
    return PluginConfig.objects.create(
        plugin_id="agency_check", agency=service.agency, options={"url": server.url, "secret": SECRET, "timeout": 0.5, **options}
    )


def test_pre_submit_check_accepts(client, service, agency_server):
    agency_server.reply_body = b'{"accept": true}'
    agency_check(service, agency_server)
    submit(client, service)
    sent = agency_server.received[0].json()
    assert sent["service_code"] == service.code and sent["answers"]["register_number"] == "УБ99010112"


def test_pre_submit_check_refusal_is_shown_to_the_citizen(client, service, agency_server):
    agency_server.reply_body = json.dumps(
        {"accept": False, "message": {"mn": "Таны үнэмлэхний хүчинтэй хугацаа дуусаагүй байна.", "en": "Your ID card has not expired yet."}}
    ).encode()
    agency_check(service, agency_server)
    response = post_api(client, service.code, answers(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    [error] = response.json()["errors"]["__all__"]
    assert error["code"] == "refused_by_agency"
    assert error["message"] == {"mn": "Таны үнэмлэхний хүчинтэй хугацаа дуусаагүй байна.", "en": "Your ID card has not expired yet."}
    assert Submission.objects.count() == 0
    # The HTML form shows it on the check-your-answers page.
    from tests.test_forms import STEP1, place_post, step_post

    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "x", "consent": "on", "action": "next"})
    page = client.post(f"/apply/{service.code}/review/")
    assert page.status_code == 400 and "Таны үнэмлэхний хүчинтэй хугацаа дуусаагүй байна." in page.content.decode()


@pytest.mark.parametrize("on_timeout, expected", [("accept", 201), ("refuse", 400)])
def test_pre_submit_timeout_follows_the_configuration(client, service, agency_server, on_timeout, expected):
    agency_server.plan = ["slow"]
    agency_server.slow_seconds = 1.5
    agency_check(service, agency_server, on_timeout=on_timeout, timeout=0.3)
    started = time.monotonic()
    response = post_api(client, service.code, answers())
    assert time.monotonic() - started < 1.4, "the citizen does not wait for a slow agency"
    assert response.status_code == expected
    if expected == 400:
        assert response.json()["errors"]["__all__"][0]["code"] == "agency_unavailable"


# -- status callbacks ---------------------------------------------------------------------------


def signed_callback(client, code, body, credential, *, timestamp=None, secret=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    raw = json.dumps(body).encode()
    return client.post(
        f"/api/v1/submissions/{code}/status", raw, content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp,
        HTTP_X_TUMEN_SIGNATURE=signing.signature(secret or credential.secret, timestamp, [code], raw),
    )  # fmt: skip


def test_agencies_push_status_back_with_signed_callbacks(client, service):
    submission = submit(client, service)
    credential = AgencyCredential.objects.create(agency=service.agency)
    response = signed_callback(client, submission.tracking_code, {"status": "approved", "message": "Бэлэн"}, credential)
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert list(submission.events.values_list("status", "actor")) == [("received", "tumen"), ("approved", f"agency:{service.agency.code}")]
    timeline = client.get(f"/api/v1/submissions/{submission.tracking_code}").json()["timeline"]
    assert [item["status"] for item in timeline] == ["received", "approved"]


def test_status_callbacks_refuse_bad_signatures_replays_and_other_agencies(client, service):
    submission = submit(client, service)
    credential = AgencyCredential.objects.create(agency=service.agency)
    code = submission.tracking_code
    assert signed_callback(client, code, {"status": "approved"}, credential, secret="not-the-secret").status_code == 401
    assert signed_callback(client, code, {"status": "approved"}, credential, timestamp=time.time() - 3600).status_code == 401
    other = AgencyCredential.objects.create(agency=ServicePage.objects.exclude(agency=service.agency).first().agency)
    assert signed_callback(client, code, {"status": "approved"}, other).status_code == 404
    bad = signed_callback(client, code, {"status": "teleported"}, credential)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_status"
    credential.active = False
    credential.save()
    assert signed_callback(client, code, {"status": "approved"}, credential).status_code == 401
    assert list(submission.events.values_list("status", flat=True)) == ["received"]


# -- admin ------------------------------------------------------------------------------------


def test_dashboard_replay_and_test_connection(client, service, agency_server, admin_client):
    agency_server.plan = [400, 200]
    config = webhook(service, agency_server)
    dead = submit(client, service).deliveries.get()
    attempt(dead.pk)
    fine = submit(client, service).deliveries.get()
    drain(fine)
    page = admin_client.get("/admin/delivery-dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-agency="{service.agency.code}"' in html
    row = html.split(f'data-agency="{service.agency.code}"')[1].split("</tr>")[0]
    assert '<td class="dead">1</td>' in row and '<td class="delivered">1</td>' in row and "50%" in row
    inspect = admin_client.get(f"/admin/deliveries/inspect/{dead.pk}/")
    assert inspect.status_code == 200 and "HTTP 400" in inspect.content.decode()
    response = admin_client.post(f"/admin/deliveries/replay/{dead.pk}/")
    assert response.status_code == 302
    dead.refresh_from_db()
    assert dead.state in ("pending", "delivered")
    # Test connection makes a request to the agency: a button (POST), never a link a GET could follow.
    assert admin_client.get(f"/admin/plugin_configs/check/{config.pk}/").status_code == 405
    check = admin_client.post(f"/admin/plugin_configs/check/{config.pk}/", follow=True)
    assert "HTTP 200" in check.content.decode()
    assert admin_client.get("/admin/plugin_configs/new/").status_code == 200


def test_plugin_configuration_form_in_the_admin(admin_client, service, agency_server):
    url = "/admin/plugin_configs/new/?plugin=webhook"
    fields = {"name": "main", "agency": service.agency.pk, "enabled": "on"}
    response = admin_client.post(url, {**fields, "option__url": "nope", "option__secret": "x"})
    assert response.status_code == 200 and PluginConfig.objects.count() == 0, "invalid options are refused"
    response = admin_client.post(url, {**fields, "option__url": agency_server.url, "option__secret": SECRET})
    assert response.status_code == 302
    assert PluginConfig.objects.get().options["secret"] == SECRET


# -- third-party package --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_package(tmp_path_factory):
    """Install the example agency package into the venv, as an agency would (pip install)."""
    import importlib

    package = ROOT / "plugins" / "examples" / "tumen_sms_gateway"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(package)],
        check=True, capture_output=True, timeout=300, cwd=tmp_path_factory.mktemp("pip"),
    )  # fmt: skip
    importlib.invalidate_caches()
    return package


def test_an_agency_package_is_found_through_its_entry_point(example_package):
    listed = subprocess.run(
        [sys.executable, "manage.py", "list_plugins"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cms.settings.test"},
    )  # fmt: skip
    line = next(line for line in listed.stdout.splitlines() if line.startswith("sms_gateway"))
    assert "delivery" in line and "tumen-sms-gateway" in line
    assert "phone_field" in listed.stdout


def test_the_example_plugin_delivers(example_package, client, service, agency_server):
    register.discover()
    assert "sms_gateway" in register
    PluginConfig.objects.create(plugin_id="sms_gateway", agency=service.agency, options={"url": agency_server.url, "token": "t0k3n"})
    delivery = submit(client, service).deliveries.get()
    assert drain(delivery) == "delivered"
    sent = agency_server.received[0]
    assert sent.json()["to"] == "+97699112233" and sent.headers["authorization"] == "Bearer t0k3n"
    assert sent.headers["idempotency-key"] == str(delivery.pk)


@pytest.mark.parametrize(
    "address",
    ["ff02::1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "::a9fe:a9fe", "::ffff:a9fe:a9fe", "2001:0::a9fe:a9fe"],
)
def test_ipv4_addresses_wrapped_in_ipv6_are_checked_too(address):
    with pytest.raises(BlockedURL):
        check_url(f"https://[{address}]/hook")


def test_a_bad_port_is_refused_not_retried():
    with pytest.raises(BlockedURL):
        check_url("https://example.mn:99999/hook")


def test_a_trickling_endpoint_cannot_hold_a_worker(client, service, agency_server):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def trickle():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(40):
            try:
                connection.sendall(b"x")
            except OSError:
                break
            time.sleep(0.1)
        connection.close()

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": url, "secret": SECRET, "timeout": 1})
    delivery = submit(client, service).deliveries.get()
    started = time.monotonic()
    assert attempt(delivery.pk) == "retrying"
    assert time.monotonic() - started < 2.5
    listener.close()


def test_a_captured_callback_cannot_be_replayed(client, service):
    submission = submit(client, service)
    credential = AgencyCredential.objects.create(agency=service.agency)
    timestamp = str(int(time.time()))
    raw = json.dumps({"status": "approved"}).encode()
    headers = {
        "HTTP_X_TUMEN_KEY": credential.key_id, "HTTP_X_TUMEN_TIMESTAMP": timestamp,
        "HTTP_X_TUMEN_SIGNATURE": signing.signature(credential.secret, timestamp, [submission.tracking_code], raw),
    }  # fmt: skip
    url = f"/api/v1/submissions/{submission.tracking_code}/status"
    assert client.post(url, raw, content_type="application/json", **headers).status_code == 200
    again = client.post(url, raw, content_type="application/json", **headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "replayed"
    assert list(submission.events.values_list("status", flat=True)) == ["received", "approved"]


@pytest.mark.parametrize("timestamp, signature", [("9" * 400, "v1=00"), ("1", "v1=é"), ("abc", "v1=00")])
def test_malformed_signature_headers_are_refused_not_crashing(client, service, timestamp, signature):
    submission = submit(client, service)
    credential = AgencyCredential.objects.create(agency=service.agency)
    response = client.post(
        f"/api/v1/submissions/{submission.tracking_code}/status", b"{}", content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp, HTTP_X_TUMEN_SIGNATURE=signature,
    )  # fmt: skip
    assert response.status_code == 401
