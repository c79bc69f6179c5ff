"""The plugin core's contracts (issue 16, items 3 and 7): one hard deadline per outgoing request,
pre-submit checks in parallel under one deadline whatever a plugin raises, per-target time-outs
capped by the lease, attempts of a lost lease ignored, and a slow agency that holds up only its
own deliveries."""

import logging
import socket
import threading
import time

import pytest
from django.core import mail
from django.utils import timezone

from form_builder.models import Submission
from plugins import deadlines, http
from plugins.base import PreSubmitOptions, PreSubmitPlugin, Verdict
from plugins.delivery import attempt_claimed, claim_batch, drain
from plugins.models import Delivery, DeliveryAttempt, PluginConfig
from plugins.registry import register
from service_pages.models import ServicePage
from tests.agency import AgencyServer
from tests.test_forms import answers, post_api
from tests.test_plugins import agency_check, submit, webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()


@pytest.fixture
def slow_headers():
    """A server that answers every request one header byte a second, for a minute."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def trickle(connection):
        try:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: " + b"a" * 60:
                if stop.is_set():
                    break
                connection.send(bytes([byte]))
                time.sleep(1)
        except OSError:
            pass
        finally:
            connection.close()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/submissions"
    stop.set()
    server.close()


# -- one hard deadline per request ------------------------------------------------------------------


def test_a_server_trickling_its_headers_cannot_hold_a_request_past_its_timeout(slow_headers):
    started = time.monotonic()
    with pytest.raises(http.HTTPFailure, match="timed out"):
        http.request("POST", slow_headers, body=b"{}", timeout=2)
    elapsed = time.monotonic() - started
    assert 1.8 <= elapsed < 3, f"timeout=2 took {elapsed:.1f} s (a socket timeout alone: a minute)"


def test_the_callers_cap_shortens_a_plugins_own_timeout(slow_headers):
    started = time.monotonic()
    with deadlines.within(0.5), pytest.raises(http.HTTPFailure, match="timed out"):
        http.request("POST", slow_headers, body=b"{}", timeout=30)
    assert time.monotonic() - started < 1.5


def test_a_healthy_request_is_unaffected(agency_server):
    with deadlines.within(5):
        response = http.request("POST", agency_server.url, body=b"{}", timeout=2)
    assert response.status == 200 and response.body == b'{"ok": true}'


# -- pre-submit checks: parallel, one deadline, any exception is "unavailable" ----------------------


class Broken(PreSubmitPlugin):
    label = "a third-party check with a bug"
    options_form = PreSubmitOptions  # the core's timeout policy: timeout, on_timeout

    def check(self, application, answers, options, *, timeout):
        raise KeyError("a bug in the agency's package")


class Refusing(PreSubmitPlugin):
    label = "a check that refuses everything"

    def check(self, application, answers, options, *, timeout):
        return Verdict(accept=False, message={"mn": "Татгалзав.", "en": "Refused."})


@pytest.fixture
def third_party_checks():
    for plugin_id, cls in (("test_broken_check", Broken), ("test_refusing_check", Refusing)):
        register.add(plugin_id, cls, source="tests")
    yield
    for plugin_id in ("test_broken_check", "test_refusing_check"):
        register.remove(plugin_id)


@pytest.mark.parametrize("on_timeout, expected", [(None, 201), ("refuse", 400)])
def test_a_check_raising_anything_follows_on_timeout_and_never_makes_a_500(client, service, third_party_checks, on_timeout, expected):
    options = {"on_timeout": on_timeout} if on_timeout else {}
    PluginConfig.objects.create(plugin_id="test_broken_check", agency=service.agency, options=options)
    response = post_api(client, service.code, answers(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == expected
    if expected == 400:
        [error] = response.json()["errors"]["__all__"]
        assert error["code"] == "agency_unavailable"
        assert error["message"]["en"].startswith("The agency's system is not answering")
        assert error["message"]["mn"], "a translated message, in both languages"
        assert Submission.objects.count() == 0


def test_checks_run_in_parallel_and_a_refusal_still_refuses(client, service, agency_server, third_party_checks):
    second = AgencyServer()
    try:
        for server in (agency_server, second):
            server.plan, server.slow_seconds, server.reply_body = ["slow"], 1.2, b'{"accept": true}'
            agency_check(service, server, name=f"check-{server.port}", timeout=2.5)
        started = time.monotonic()
        assert post_api(client, service.code, answers()).status_code == 201
        elapsed = time.monotonic() - started
        assert elapsed < 2.3, f"two 1.2 s checks took {elapsed:.1f} s: they ran one after the other"
        PluginConfig.objects.create(plugin_id="test_refusing_check", agency=service.agency, options={})
        response = post_api(client, service.code, answers(), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400 and response.json()["errors"]["__all__"][0]["code"] == "refused_by_agency"
    finally:
        second.stop()


def test_all_checks_share_one_overall_deadline(client, service, agency_server, settings):
    settings.TUMEN_PRE_SUBMIT_TIMEOUT = 0.5
    agency_server.plan, agency_server.slow_seconds = ["slow"], 3
    agency_check(service, agency_server, timeout=5, on_timeout="refuse")
    started = time.monotonic()
    response = post_api(client, service.code, answers())
    assert time.monotonic() - started < 1.5
    assert response.status_code == 400 and response.json()["errors"]["__all__"][0]["code"] == "agency_unavailable"


# -- leases: per-target time-outs capped, attempts of a lost lease ignored ----------------------------


def test_a_targets_long_timeout_is_cut_to_the_lease(client, service, slow_headers, settings):
    settings.TUMEN_DELIVERY_LEASE_SECONDS, settings.TUMEN_DELIVERY_TIMEOUT = 4, 1
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency,
                                options={"url": slow_headers, "secret": "s" * 20, "timeout": 60})  # fmt: skip
    submission = submit(client, service)
    [delivery], token = claim_batch(1, worker="w1")
    started = time.monotonic()
    assert attempt_claimed(delivery, token, worker="w1") == "retrying", "recorded while the lease still held"
    assert time.monotonic() - started < 3.5, "the 60 s option was cut to the 4 s lease, less the time to record"
    assert "timed out" in submission.deliveries.get().last_error


def test_an_attempt_whose_lease_was_lost_is_not_recorded(client, service, agency_server, caplog):
    webhook(service, agency_server)
    submission = submit(client, service)
    [first], old_token = claim_batch(1, worker="w1")
    Delivery.objects.update(leased_until=timezone.now() - timezone.timedelta(seconds=1))  # w1 was too slow
    [second], new_token = claim_batch(1, worker="w2")
    assert second.pk == first.pk
    with caplog.at_level(logging.WARNING, logger="plugins.delivery"):
        assert attempt_claimed(first, old_token, worker="w1") == "lease lost"
    assert "lease was lost" in caplog.text
    assert not DeliveryAttempt.objects.filter(worker="w1").exists()
    assert submission.deliveries.get().leased_by == "w2", "the other worker's lease is untouched"
    assert attempt_claimed(second, new_token, worker="w2") == "delivered"
    assert len(set(agency_server.keys())) == 1, "both requests carried the same idempotency key"


def test_email_delivery_has_a_timeout(client, service, settings):
    settings.EMAIL_TIMEOUT = 3
    PluginConfig.objects.create(plugin_id="email", agency=service.agency, options={"to": "agency@example.mn"})
    submit(client, service)
    [delivery], token = claim_batch(1, worker="w1")
    with deadlines.within(1):
        assert attempt_claimed(delivery, token, worker="w1") == "delivered"
    assert len(mail.outbox) == 1
    from plugins.contrib.email.plugin import smtp_timeout

    assert smtp_timeout() == 3
    with deadlines.within(1):
        assert smtp_timeout() <= 1, "capped by the caller's deadline (the lease)"


# -- one slow agency does not hold up the others ---------------------------------------------------


def test_a_dead_agency_endpoint_slows_only_its_own_deliveries(client, service, agency_server, settings):
    settings.TUMEN_DELIVERY_TIMEOUT = 2
    slow = agency_server
    slow.plan, slow.slow_seconds = ["slow"], 5
    healthy = AgencyServer()
    try:
        webhook(service, slow, name="slow")
        webhook(service, healthy, name="healthy")
        submissions = [submit(client, service) for _ in range(6)]
        started = timezone.now()
        assert drain(worker="w1") == 12
        quick = Delivery.objects.filter(target="healthy")
        assert {d.state for d in quick} == {"delivered"}
        latest = max((d.delivered_at - started).total_seconds() for d in quick)
        assert latest < 1.5, f"a healthy delivery waited {latest:.1f} s behind the dead endpoint"
        assert {d.state for d in Delivery.objects.filter(target="slow")} == {"retrying"}
        assert len(healthy.received) == 6 and len({s.tracking_code for s in submissions}) == 6
        assert Delivery.objects.exclude(lease_token="").count() == 0, "every lease given back"
    finally:
        healthy.stop()
