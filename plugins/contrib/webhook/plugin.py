"""Signed JSON webhook: POST the answers, their JSON Schema and the metadata to an agency URL.

Headers (see ``plugins.signing``): ``X-Tumen-Timestamp``, ``X-Tumen-Submission``,
``Idempotency-Key`` and ``X-Tumen-Signature: v1=<HMAC-SHA256>``. With ``public_key`` set the body
is a PyNaCl *sealed box* for the agency (only its private key opens it):
``{"encrypted": "<base64>", "encryption": "nacl-sealedbox"}``; the signature covers that body.
A 2xx answer is success; 408, 425, 429 and 5xx are retried; other 4xx go to the dead letters
(the agency refused the payload itself, retrying would not change that).
"""

import base64
import json

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from plugins import http, signing
from plugins.base import CheckResult, DeliveryError, DeliveryPlugin, DeliveryResult
from plugins.registry import register

RETRYABLE_STATUS = {408, 425, 429}


def _check_public_key(value):
    if not value:
        return
    try:
        from nacl.public import PublicKey

        PublicKey(base64.b64decode(value, validate=True))
    except Exception:
        raise forms.ValidationError(_("Enter the agency's Curve25519 public key, base64-encoded (32 bytes).")) from None


class WebhookOptions(forms.Form):
    url = forms.URLField(
        label=_("URL"), required=False, max_length=500, assume_scheme="https",
        help_text=_("Empty: the agency's delivery endpoint URL."),
    )  # fmt: skip
    secret = forms.CharField(
        label=_("signing secret"), min_length=16, max_length=200, widget=forms.PasswordInput,
        help_text=_("Shared with the agency; at least 16 characters."),
    )  # fmt: skip
    public_key = forms.CharField(
        label=_("public key for encryption"), required=False, max_length=100, validators=[_check_public_key],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional: the agency's Curve25519 public key (base64); the body is then encrypted for the agency."),
    )  # fmt: skip
    include_files = forms.BooleanField(label=_("include uploaded files (base64)"), required=False, initial=True)
    timeout = forms.FloatField(label=_("timeout (seconds)"), required=False, min_value=0.5, max_value=60)


def target_url(options, agency) -> str:
    url = options.get("url") or (agency.endpoint_url if agency else "")
    if not url:
        raise DeliveryError("no URL: set one in the plugin's options or the agency's endpoint", retryable=False)
    return url


def encode_body(payload: dict, options: dict) -> bytes:
    body = json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()
    if options.get("public_key"):
        from nacl.public import PublicKey, SealedBox

        sealed = SealedBox(PublicKey(base64.b64decode(options["public_key"]))).encrypt(body)
        body = json.dumps({"encryption": "nacl-sealedbox", "encrypted": base64.b64encode(sealed).decode()}).encode()
    return body


def files_payload(context) -> list[dict]:
    result = []
    for stored in context.files():
        with stored.file.open("rb") as handle:
            content = handle.read()
        result.append({**stored.metadata(), "field": stored.field_key, "content_base64": base64.b64encode(content).decode()})
    return result


def post(url, body, headers, options, agency, content_type="application/json"):
    response = http.request(
        "POST", url, body=body, headers={"Content-Type": content_type, **headers},
        timeout=options.get("timeout") or None, allow_private=bool(agency and agency.allow_private_endpoints),
    )  # fmt: skip
    if 200 <= response.status < 300:
        return DeliveryResult(status_code=response.status, detail=response.body[:200].decode("utf-8", "replace"))
    retryable = response.status >= 500 or response.status in RETRYABLE_STATUS
    raise DeliveryError(
        f"HTTP {response.status}: {response.body[:300].decode('utf-8', 'replace')}", retryable=retryable, status_code=response.status
    )


@register("webhook")
class WebhookPlugin(DeliveryPlugin):
    label = _("Signed JSON webhook")
    version = "1.0"
    options_form = WebhookOptions

    def deliver(self, context, options):
        payload = context.payload()
        if options.get("include_files", True):
            payload["files"] = files_payload(context)
        body = encode_body(payload, options)
        headers = signing.delivery_headers(options["secret"], context.submission.tracking_code, context.idempotency_key, body)
        if options.get("public_key"):
            headers["X-Tumen-Encryption"] = "nacl-sealedbox"
        return post(target_url(options, context.agency), body, headers, options, context.agency)

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        try:
            url = target_url(options, agency)
            http.check_url(url, allow_private=bool(agency and agency.allow_private_endpoints))
            response = http.request("HEAD", url, timeout=options.get("timeout") or 5,
                                    allow_private=bool(agency and agency.allow_private_endpoints))  # fmt: skip
        except (DeliveryError, http.BlockedURL, http.HTTPFailure) as error:
            return CheckResult(False, str(error))
        return CheckResult(response.status < 500, f"HTTP {response.status} in {response.elapsed_ms} ms")
