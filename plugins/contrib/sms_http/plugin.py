"""SMS through an HTTP gateway: one POST per message, JSON or a form, with an API key.

Most SMS gateways (the operators' and the aggregators') take a POST with the number, the text and
a key. The options name the fields and where the key goes, so one plugin fits most of them:

- ``format``: ``json`` (``{"to": "+976…", "text": "…"}``) or ``form`` (URL-encoded);
- ``auth``: ``bearer`` (``Authorization: Bearer <key>``), ``header`` (``X-API-Key: <key>``) or
  ``body`` (an ``api_key`` field next to the number and text);
- ``to_field`` / ``text_field`` / ``sender``: the gateway's field names and the sender id.

The request goes through ``plugins.http`` (SSRF guard, one deadline, response size cap). A 2xx
answer means the gateway took the message; anything else raises :class:`SmsError`, whose text
names only the HTTP status (never the number or the text).
"""

import json
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

from plugins import http
from plugins.base import CheckResult, SmsError, SmsPlugin
from plugins.registry import register


class SmsHttpOptions(forms.Form):
    url = forms.URLField(label=_("gateway URL"), max_length=500, assume_scheme="https")
    api_key = forms.CharField(
        label=_("API key"), max_length=500, widget=forms.PasswordInput, help_text=_("Given by the SMS gateway; never shown again.")
    )
    auth = forms.ChoiceField(
        label=_("how the key is sent"),
        choices=[
            ("bearer", _("Authorization: Bearer <key>")),
            ("header", _("X-API-Key header")),
            ("body", _("an api_key field in the body")),
        ],
        initial="bearer",
    )
    format = forms.ChoiceField(label=_("body"), choices=[("json", "JSON"), ("form", _("form (URL-encoded)"))], initial="json")
    to_field = forms.CharField(label=_("field of the phone number"), max_length=50, initial="to")
    text_field = forms.CharField(label=_("field of the text"), max_length=50, initial="text")
    sender = forms.CharField(
        label=_("sender id"), max_length=20, required=False, help_text=_("Optional: sent as the 'from' field.")
    )
    timeout = forms.FloatField(
        label=_("timeout (seconds)"), min_value=0.5, max_value=15, initial=5,
        help_text=_("An operator waits for the consent code: keep it short."),
    )  # fmt: skip


def request_body(phone: str, text: str, options: dict) -> tuple[bytes, dict]:
    fields = {options["to_field"]: phone, options["text_field"]: text}
    if options.get("sender"):
        fields["from"] = options["sender"]
    headers = {}
    if options["auth"] == "bearer":
        headers["Authorization"] = f"Bearer {options['api_key']}"
    elif options["auth"] == "header":
        headers["X-API-Key"] = options["api_key"]
    else:
        fields["api_key"] = options["api_key"]
    if options["format"] == "form":
        return urlencode(fields).encode(), {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    return json.dumps(fields, ensure_ascii=False).encode(), {**headers, "Content-Type": "application/json"}


@register("sms_http")
class SmsHttpPlugin(SmsPlugin):
    label = _("SMS through an HTTP gateway")
    version = "1.0"
    options_form = SmsHttpOptions

    def send(self, phone, text, options, *, agency=None):
        body, headers = request_body(phone, text, options)
        allow_private = bool(agency and agency.allow_private_endpoints)
        try:
            response = http.request("POST", options["url"], body=body, headers=headers, timeout=options.get("timeout") or 5,
                                    allow_private=allow_private)  # fmt: skip
        except http.BlockedURL as error:
            raise SmsError(f"the gateway URL is not allowed: {error}") from None
        except http.HTTPFailure as error:
            raise SmsError(f"the gateway did not answer: {error}") from None
        if not 200 <= response.status < 300:
            raise SmsError(f"the gateway answered HTTP {response.status}")

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        try:
            http.check_url(options["url"], allow_private=bool(agency and agency.allow_private_endpoints))
        except (http.BlockedURL, http.HTTPFailure) as error:
            return CheckResult(False, str(error))
        return CheckResult(True, "the gateway URL is allowed (no message was sent)")
