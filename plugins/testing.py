"""The plugin kit: pytest fixtures and contract checks an agency runs against its own plugin package.

Why it lives in the plugins app: the checks drive a plugin through the real delivery engine
(``claim_batch``, ``attempt_claimed``: the same lease, the same retry and dead-letter rules a
production worker applies), so an agency's IT team learns in its own CI, not from the dead
letters, whether its package keeps Tumen's contract:

- the options form validates (good options are accepted, bad ones refused);
- a delivery builds a payload and sends it (your own assertions on the request it made);
- the same idempotency key is sent on every retry of a delivery;
- 5xx answers and time-outs are retried; other 4xx answers go to the dead letters at once.

Use it in a test module of your package (run with Tumen's test settings, from a Tumen checkout:
``DJANGO_SETTINGS_MODULE=cms.settings.test pytest path/to/your/package``)::

    from plugins.testing import DeliveryPluginContract
    from tumen_sms_gateway.plugin import SmsGatewayPlugin

    class TestSmsGatewayContract(DeliveryPluginContract):
        plugin_id = "sms_gateway"
        plugin_class = SmsGatewayPlugin
        answers = {"phone": "+97688112233"}
        invalid_options = [{"url": "not a URL", "token": "t0k3n"}]

        def options(self, url):  # the options of a target pointing at the kit's endpoint
            return {"url": url, "token": "t0k3n"}

        def check_payload(self, request):  # what your agency system expects
            assert request.json()["to"] == "+97688112233"

Every ``test_*`` method of :class:`DeliveryPluginContract` then runs for your plugin. The
endpoint (:class:`AgencyEndpoint`, also the ``agency_endpoint`` fixture) is a real HTTP server on
127.0.0.1 playing a script of answers: an HTTP status, or ``"timeout"`` (no answer for longer
than the kit's deadline).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

# Short deadlines for the contract runs: a time-out costs about two seconds, not ten.
CONTRACT_SETTINGS = {
    "TUMEN_DELIVERY_TIMEOUT": 1.0,
    "TUMEN_DELIVERY_LEASE_SECONDS": 3,  # caps a plugin's own longer timeout to 2 s (plugins.deadlines)
    "TUMEN_DELIVERY_BACKOFF_BASE_SECONDS": 0,  # a retry is due at once
    "TUMEN_DELIVERY_ALLOW_HTTP": True,  # the endpoint is plain http on loopback
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
TIMEOUT_SECONDS = 4.0  # how long the endpoint stays silent for "timeout": longer than any capped deadline


@dataclass
class Request:
    """One request the endpoint received."""

    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


class AgencyEndpoint:
    """A stand-in agency system on 127.0.0.1 that records requests and answers from a script.

    ``endpoint.plan = [503, "timeout", 200]``: one item per request, the last one repeats.
    """

    def __init__(self):
        self.received: list[Request] = []
        self.plan: list = [200]
        self.reply_body = b'{"ok": true}'
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with endpoint.lock:
                    endpoint.received.append(Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    action = endpoint.plan.pop(0) if len(endpoint.plan) > 1 else endpoint.plan[0]
                if action == "timeout":
                    time.sleep(TIMEOUT_SECONDS)
                    self.close_connection = True
                    return
                try:
                    self.send_response(int(action))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(endpoint.reply_body)))
                    self.end_headers()
                    self.wfile.write(endpoint.reply_body)
                except OSError:
                    pass  # the client gave up

            do_POST = do_PUT = do_GET = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/submissions"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def agency_endpoint():
    """An :class:`AgencyEndpoint`, stopped after the test."""
    endpoint = AgencyEndpoint()
    yield endpoint
    endpoint.stop()


def plugin_registered(plugin_id: str, plugin_class):
    """Register ``plugin_class`` under ``plugin_id`` (as installing the package would); return a
    function that undoes it, unless it was registered already."""
    from .registry import register

    known = plugin_id in register
    register.add(plugin_id, plugin_class, source="plugins.testing")
    return (lambda: None) if known else (lambda: register.remove(plugin_id))


def make_submission(answers: dict | None = None):
    """A stored application made with the shipped general form (no service, no agency), answered
    with ``answers``: what the contract checks deliver."""
    from form_builder.models import FormDefinition, Submission

    definition = FormDefinition.objects.filter(is_default=True).order_by("pk").first()
    if definition is None or definition.current_version is None:
        raise RuntimeError("the shipped general form is missing: run the checks with Tumen's migrated test database")
    return Submission.objects.create(
        tracking_code=f"TMN-KIT-{uuid.uuid4().hex[:4].upper()}", service_code="KIT", service_title="Plugin kit",
        form_version=definition.current_version, data=dict(answers or {}),
    )  # fmt: skip


class Run:
    """One delivery of a test submission to a target of the plugin, attempted like a worker does."""

    def __init__(self, plugin_id: str, options: dict, answers: dict | None = None):
        from .models import Delivery, PluginConfig

        self.config = PluginConfig.objects.create(plugin_id=plugin_id, name=f"kit-{uuid.uuid4().hex[:8]}", options=options)
        self.delivery = Delivery.objects.create(
            submission=make_submission(answers), config=self.config, plugin_id=plugin_id, target=self.config.name
        )

    def attempt(self) -> str:
        """Lease the delivery and attempt it through the engine: "delivered", "retrying" or "dead"."""
        from .delivery import attempt_claimed, claim_batch

        batch, token = claim_batch(1, ids=[self.delivery.pk], worker="plugin-kit")
        if not batch:
            return "not due"
        outcome = attempt_claimed(batch[0], token, worker="plugin-kit")
        self.delivery.refresh_from_db()
        return outcome

    @property
    def idempotency_key(self) -> str:
        return str(self.delivery.pk)


class DeliveryPluginContract:
    """The contract of a delivery plugin; subclass it as ``Test...`` and fill in the blanks."""

    plugin_id: str = ""
    plugin_class: type | None = None
    answers: dict = {}
    invalid_options: list[dict] = []
    dead_letter_statuses = (400, 401, 403, 404, 422)
    retried_statuses = (500, 502, 503)
    pytestmark = [pytest.mark.django_db]

    # -- what a subclass provides ----------------------------------------------------------------

    def options(self, url: str) -> dict:
        """Valid options of a target that sends to ``url`` (the kit's endpoint)."""
        raise NotImplementedError("return your plugin's options for a target at url")

    def check_payload(self, request: Request):
        """Your assertions on the request a delivery made (default: none)."""

    def idempotency_key_of(self, request: Request) -> str:
        """Where your plugin puts the idempotency key (default: the ``Idempotency-Key`` header)."""
        return request.headers.get("idempotency-key", "")

    # -- fixtures -----------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _contract_setup(self):
        assert self.plugin_id and self.plugin_class, "set plugin_id and plugin_class"
        undo = plugin_registered(self.plugin_id, self.plugin_class)
        with override_settings(**CONTRACT_SETTINGS):
            yield
        undo()

    @pytest.fixture
    def endpoint(self):
        endpoint = AgencyEndpoint()
        yield endpoint
        endpoint.stop()

    def run(self, endpoint: AgencyEndpoint, *plan) -> tuple[Run, list[str]]:
        """Attempt one delivery once per item of ``plan`` (the endpoint's answers), stopping when it
        is delivered or dead; return the run and the outcomes."""
        endpoint.plan = list(plan)
        run = Run(self.plugin_id, self.options(endpoint.url), self.answers)
        outcomes = []
        for _ in plan:
            outcomes.append(run.attempt())
            if outcomes[-1] in ("delivered", "dead"):
                break
        return run, outcomes

    # -- the contract -------------------------------------------------------------------------------

    def test_the_options_form_validates(self, endpoint):
        from .registry import register

        plugin = register[self.plugin_id]
        cleaned = plugin.clean_options(self.options(endpoint.url))
        json.dumps(cleaned)  # stored as JSON
        for bad in self.invalid_options:
            with pytest.raises(ValidationError):
                plugin.clean_options(bad)

    def test_a_delivery_builds_and_sends_its_payload(self, endpoint):
        run, outcomes = self.run(endpoint, 200)
        assert outcomes == ["delivered"], f"a 200 answer must deliver; got {outcomes}, error: {run.delivery.last_error!r}"
        assert len(endpoint.received) == 1, "one request per attempt"
        self.check_payload(endpoint.received[0])

    def test_the_same_idempotency_key_is_sent_on_every_retry(self, endpoint):
        run, outcomes = self.run(endpoint, 503, 500, 200)
        assert outcomes == ["retrying", "retrying", "delivered"], outcomes
        keys = {self.idempotency_key_of(request) for request in endpoint.received}
        assert keys == {run.idempotency_key}, f"every retry must carry the delivery's key {run.idempotency_key}; sent {keys}"

    def test_5xx_answers_and_time_outs_are_retried(self, endpoint):
        for status in self.retried_statuses:
            _run, outcomes = self.run(endpoint, status, 200)
            assert outcomes == ["retrying", "delivered"], f"HTTP {status} must be retried; got {outcomes}"
        started = time.monotonic()
        run, outcomes = self.run(endpoint, "timeout", 200)
        assert outcomes == ["retrying", "delivered"], f"a time-out must be retried; got {outcomes}"
        assert time.monotonic() - started < TIMEOUT_SECONDS, "the request must give up at its deadline (use plugins.http)"

    def test_other_4xx_answers_go_to_the_dead_letters(self, endpoint):
        for status in self.dead_letter_statuses:
            run, outcomes = self.run(endpoint, status, 200)
            assert outcomes == ["dead"], f"HTTP {status}: the agency refused the payload, retrying cannot help; got {outcomes}"
            assert run.delivery.last_status_code in (status, None)
