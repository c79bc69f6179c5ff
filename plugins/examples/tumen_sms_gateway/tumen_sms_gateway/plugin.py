"""Text the citizen their tracking code through an agency's SMS gateway.

A *delivery* plugin: for each submission of a service it is enabled for, it POSTs
``{"to": "+976...", "text": "..."}`` to the gateway with the submission's idempotency key,
so the gateway never sends the same text twice even when Tumen retries.
"""

import json

from django import forms

from plugins import http
from plugins.base import CheckResult, DeliveryError, DeliveryPlugin, DeliveryResult
from plugins.registry import register


class SmsOptions(forms.Form):
    url = forms.URLField(label="Gateway URL", max_length=500, assume_scheme="https")
    token = forms.CharField(label="API token", max_length=200)
    phone_field = forms.CharField(label="Question holding the phone number", initial="phone", max_length=64)
    sender = forms.CharField(label="Sender name", initial="TUMEN", max_length=11)


@register("sms_gateway")
class SmsGatewayPlugin(DeliveryPlugin):
    label = "SMS gateway (example package)"
    version = "1.0.0"
    options_form = SmsOptions

    def deliver(self, context, options):
        submission = context.submission
        phone = submission.data.get(options["phone_field"])
        if not phone:
            raise DeliveryError("the submission has no phone number", retryable=False)
        text = f"{submission.tracking_code}: {submission.service_title[:80]} - huleen avlaa / received"
        body = json.dumps({"to": phone, "from": options["sender"], "text": text}).encode()
        response = http.request(
            "POST",
            options["url"],
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {options['token']}",
                "Idempotency-Key": context.idempotency_key,
            },
        )
        if response.status >= 300:
            raise DeliveryError(f"gateway answered {response.status}", retryable=response.status >= 500, status_code=response.status)
        return DeliveryResult(status_code=response.status)

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        try:
            http.check_url(options["url"])
        except http.BlockedURL as error:
            return CheckResult(False, str(error))
        return CheckResult(True, "gateway URL is allowed")
