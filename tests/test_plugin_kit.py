"""The plugin kit for agency IT teams (issue 16, item 5): the walk-through's receiver in
docs/plugins.md verifies a real delivery, and the kit's contract checks (``plugins.testing``)
fail a plugin that breaks the contract (the example package passing them is its own test,
plugins/examples/tumen_sms_gateway/tests/)."""

import json
import re
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from django import forms
from django.test import override_settings

from plugins import http
from plugins.base import DeliveryError, DeliveryPlugin, DeliveryResult
from plugins.testing import CONTRACT_SETTINGS, AgencyEndpoint, DeliveryPluginContract, plugin_registered
from service_pages.models import ServicePage
from tests.deliveries import attempt
from tests.test_plugins import submit, webhook

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-shared-with-the-agency"
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


def walkthrough() -> dict:
    """The Python receiver of "For agency IT teams: from zero to receiving submissions", run with
    this module's secret in place of the placeholder."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    section = text.split("## For agency IT teams: from zero to receiving submissions", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)\n\s*```", section, re.S).group(1)
    placeholder = 'SECRET = "the signing secret of your Tumen target"'
    assert placeholder in block
    namespace = {"__name__": "walkthrough"}
    exec(compile(textwrap.dedent(block.replace(placeholder, f"SECRET = {SECRET!r}")), "docs/plugins.md", "exec"), namespace)  # noqa: S102 -- our own docs
    return namespace


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()


def test_the_walkthroughs_receiver_verifies_a_real_delivery(client, service, agency_server):
    receiver = walkthrough()
    webhook(service, agency_server)
    submission = submit(client, service)
    assert attempt(submission.deliveries.get().pk) == "delivered"
    request = agency_server.received[0]
    assert receiver["verify_delivery"](request.headers, request.body, secret=SECRET)
    assert not receiver["verify_delivery"](request.headers, request.body + b" ", secret=SECRET), "a changed body"
    assert not receiver["verify_delivery"](request.headers, request.body, secret="another-secret-of-16"), "another secret"
    assert not receiver["verify_delivery"](request.headers, request.body, secret=SECRET, now=time.time() + 600), "a replay"
    assert receiver["receive"](request.headers, request.body) == (200, submission.tracking_code)
    assert receiver["receive"](request.headers, request.body) == (200, "already received"), "a retry creates nothing"
    assert receiver["receive"]({**request.headers, "x-tumen-signature": "v1=00"}, request.body)[0] == 401


# -- the kit fails a plugin that breaks the contract ------------------------------------------------


class CarelessOptions(forms.Form):
    url = forms.URLField(assume_scheme="https")


class Careless(DeliveryPlugin):
    """Retries every refusal, and makes up a new idempotency key on each attempt."""

    label = "a careless plugin"
    options_form = CarelessOptions

    def deliver(self, context, options):
        response = http.request("POST", options["url"], body=json.dumps({"id": context.submission.tracking_code}).encode(),
                                headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        if response.status >= 300:
            raise DeliveryError(f"HTTP {response.status}", retryable=True, status_code=response.status)
        return DeliveryResult(status_code=response.status)


class CarelessContract(DeliveryPluginContract):  # not "Test...": run by hand below, expecting failures
    plugin_id = "test_careless"
    plugin_class = Careless

    def options(self, url):
        return {"url": url}


@pytest.mark.parametrize("check", ["test_the_same_idempotency_key_is_sent_on_every_retry", "test_other_4xx_answers_go_to_the_dead_letters"])
def test_the_kit_fails_a_plugin_that_breaks_the_contract(check):
    contract, endpoints = CarelessContract(), [AgencyEndpoint(), AgencyEndpoint()]
    undo = plugin_registered(contract.plugin_id, contract.plugin_class)
    try:
        with override_settings(**CONTRACT_SETTINGS), pytest.raises(AssertionError):
            getattr(contract, check)(endpoints[0])
        with override_settings(**CONTRACT_SETTINGS):
            contract.test_a_delivery_builds_and_sends_its_payload(endpoints[1])  # the rest of the contract holds
    finally:
        undo()
        for endpoint in endpoints:
            endpoint.stop()
