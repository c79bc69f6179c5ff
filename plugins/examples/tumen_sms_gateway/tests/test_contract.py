"""The example package's own tests: Tumen's plugin kit (``plugins.testing``) checks its contract.

From a Tumen checkout: ``DJANGO_SETTINGS_MODULE=cms.settings.test pytest plugins/examples`` (part
of ``make test``).
"""

from tumen_sms_gateway.plugin import SmsGatewayPlugin

from plugins.testing import DeliveryPluginContract


class TestSmsGatewayContract(DeliveryPluginContract):
    plugin_id = "sms_gateway"
    plugin_class = SmsGatewayPlugin
    answers = {"phone": "+97688112233"}
    invalid_options = [
        {"url": "not a URL", "token": "t0k3n"},
        {"url": "https://sms.example.mn/send"},  # no token
        {"url": "https://sms.example.mn/send", "token": "t0k3n", "sender": "MUCH-TOO-LONG-NAME"},
    ]

    def options(self, url):
        return {"url": url, "token": "t0k3n"}

    def check_payload(self, request):
        sent = request.json()
        assert sent["to"] == "+97688112233"
        assert sent["from"] == "TUMEN" and sent["text"].startswith("TMN-KIT-")
        assert request.headers["authorization"] == "Bearer t0k3n"
