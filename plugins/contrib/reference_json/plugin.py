"""Signed JSON reference source: ask an agency's HTTPS endpoint for an instant reference.

Request (``POST`` to the configured URL, ``Content-Type: application/json``)::

    {"request_id": "9f2c...", "service_code": "DEMO-00008", "xyp_code": "WS100103",
     "register_number": "УБ90010112", "last_name": "Бат", "first_name": "Өлзий",
     "operator": null | {"username": ..., "name": ..., "office": ...}}

with ``X-Tumen-Timestamp``, ``X-Tumen-Request: <request_id>`` and ``X-Tumen-Signature: v1=<HMAC-SHA256>``
over ``"{timestamp}.{request_id}." + body`` with the shared secret (``plugins.signing``).

Answer: ``200`` with the document (``documents.content``: ``title_mn``, ``title_en``, ``rows`` of
``{label_mn, label_en, value}``, optional ``valid_until``), or ``404`` with
``{"error": "not_found", "message": {"mn": ..., "en": ...}}`` when the register has no record.
Every answer must be signed the same way by the agency (its own ``X-Tumen-Timestamp`` and
``X-Tumen-Signature`` over ``"{timestamp}.{request_id}." + answer body``): an unsigned or wrongly
signed answer is refused, so nobody between Tumen and the agency can make up a reference.
Anything else (a timeout, 5xx, data that cannot be printed) is ``PluginUnavailable``.
"""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from documents.content import InvalidContent, content_from_json
from plugins import http, signing
from plugins.base import CheckResult, PluginUnavailable, ReferenceNotFound, ReferenceSourcePlugin
from plugins.registry import register


class ReferenceJsonOptions(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https", help_text=_("The agency's reference endpoint."))
    secret = forms.CharField(
        label=_("signing secret"), min_length=16, max_length=200, widget=forms.PasswordInput,
        help_text=_("Shared with the agency; at least 16 characters. Signs the requests and the agency's answers."),
    )  # fmt: skip
    timeout = forms.FloatField(
        label=_("timeout (seconds)"), required=False, min_value=0.5, max_value=30,
        help_text=_("Empty: TUMEN_REFERENCE_TIMEOUT. Never longer than it."),
    )  # fmt: skip


def request_body(request) -> bytes:
    payload = {
        "request_id": request.request_id,
        "service_code": request.service_code,
        "xyp_code": request.xyp_code,
        "register_number": request.register_number,
        "last_name": request.last_name,
        "first_name": request.first_name,
        "operator": request.operator,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def call(url: str, secret: str, request_id: str, body: bytes, *, timeout: float, agency=None, content_type="application/json",
         extra_headers: dict | None = None):  # fmt: skip
    """POST the signed ``body``; the answer's body once its signature is checked, with its status."""
    headers = {
        "Content-Type": content_type, "X-Tumen-Request": request_id, **(extra_headers or {}),
        **signing.signed_headers(secret, [request_id], body),
    }  # fmt: skip
    try:
        response = http.request(
            "POST", url, body=body, headers=headers, timeout=timeout, max_bytes=256 * 1024,
            allow_private=bool(agency and agency.allow_private_endpoints),
        )  # fmt: skip
    except (http.BlockedURL, http.HTTPFailure) as error:
        raise PluginUnavailable(str(error)) from None
    if response.status >= 500 or response.status not in (200, 404):
        raise PluginUnavailable(f"HTTP {response.status}")
    signed = signing.verify(
        secret, response.headers.get("x-tumen-timestamp", ""), [request_id], response.body,
        response.headers.get("x-tumen-signature", ""),
    )  # fmt: skip
    if not signed:
        raise PluginUnavailable("the answer is not signed with the reference source's secret")
    return response.status, response.body


@register("reference_json")
class ReferenceJsonPlugin(ReferenceSourcePlugin):
    label = _("Signed JSON reference source")
    version = "1.0"
    options_form = ReferenceJsonOptions

    def fetch(self, request, options, *, timeout, agency=None):
        status, body = call(options["url"], options["secret"], request.request_id, request_body(request), timeout=timeout, agency=agency)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise PluginUnavailable("the answer is not JSON") from None
        if status == 404:
            message = data.get("message") if isinstance(data, dict) else None
            raise ReferenceNotFound("no record", texts=message if isinstance(message, dict) else None)
        try:
            return content_from_json(data)
        except InvalidContent as error:
            raise PluginUnavailable(f"the answer cannot be made into a document: {error}") from None

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        try:
            http.check_url(options["url"], allow_private=bool(agency and agency.allow_private_endpoints))
        except (http.BlockedURL, http.HTTPFailure) as error:
            return CheckResult(False, str(error))
        return CheckResult(True, "the URL is allowed")
