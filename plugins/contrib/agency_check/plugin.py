"""Pre-submit check: ask the agency's system whether a submission is acceptable before storing it.

POSTs ``{"service_code", "answers", "channel"}`` (signed like deliveries, without an idempotency
key) and expects ``{"accept": true}`` or ``{"accept": false, "message": {"mn": ..., "en": ...}}``
within the timeout. If the agency does not answer in time (or answers nonsense), ``on_timeout``
decides: accept the submission (default: a slow agency must not stop citizens) or refuse it.
"""

import json

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from plugins import http, signing
from plugins.base import PreSubmitPlugin, Verdict
from plugins.exceptions import PluginUnavailable
from plugins.registry import register


class AgencyCheckOptions(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    secret = forms.CharField(label=_("signing secret"), min_length=16, max_length=200, widget=forms.PasswordInput)
    timeout = forms.FloatField(label=_("timeout (seconds)"), min_value=0.1, max_value=10, initial=2)
    on_timeout = forms.ChoiceField(
        label=_("when the agency does not answer"), choices=[("accept", _("accept the submission")), ("refuse", _("refuse it"))], initial="accept"
    )


class AgencyUnavailable(PluginUnavailable):
    """The agency's system did not answer in time, or answered nonsense."""


@register("agency_check")
class AgencyCheckPlugin(PreSubmitPlugin):
    label = _("Agency pre-submit check")
    version = "1.0"
    options_form = AgencyCheckOptions

    def check(self, application, answers, options, *, timeout):
        service = application.service
        body = json.dumps(
            {"service_code": service.code, "answers": answers}, cls=DjangoJSONEncoder, ensure_ascii=False
        ).encode()
        headers = signing.delivery_headers(options["secret"], "", "", body)
        headers["Content-Type"] = "application/json"
        try:
            response = http.request(
                "POST", options["url"], body=body, headers=headers, timeout=timeout,
                allow_private=bool(service.agency.allow_private_endpoints),
            )  # fmt: skip
            verdict = json.loads(response.body)
            if response.status != 200 or not isinstance(verdict, dict) or not isinstance(verdict.get("accept"), bool):
                raise AgencyUnavailable(f"HTTP {response.status}")
        except (http.HTTPFailure, http.BlockedURL, ValueError, AgencyUnavailable) as error:
            raise AgencyUnavailable(str(error)) from None
        message = verdict.get("message") or {}
        if isinstance(message, str):
            message = {"mn": message, "en": message}
        if not isinstance(message, dict):  # an answer we cannot read: no message, generic text
            message = {}
        return Verdict(accept=verdict["accept"], message={k: str(v)[:500] for k, v in message.items() if k in ("mn", "en")})
