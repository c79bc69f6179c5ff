"""ХУР (XYP)-style envelope: a SOAP message with separate citizen and operator identity blocks.

Mongolia's data-exchange layer identifies *who the data is about* (the citizen) apart from *who
acts* (the soum operator or the citizen themself); agencies behind it expect both blocks. The
body carries the answers as JSON inside ``<Answers>`` so no agency-specific mapping is needed.
"""

import json
from xml.sax.saxutils import escape

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from plugins import signing
from plugins.base import DeliveryPlugin
from plugins.contrib.webhook.plugin import post, target_url
from plugins.registry import register


class XypOptions(forms.Form):
    url = forms.URLField(label=_("URL"), required=False, max_length=500, assume_scheme="https", help_text=_("Empty: the agency's delivery endpoint URL."))
    secret = forms.CharField(label=_("signing secret"), min_length=16, max_length=200, widget=forms.PasswordInput)
    operation = forms.CharField(label=_("operation"), max_length=100, help_text=_("The ХУР operation name, e.g. WS100101_getCitizenIDCardInfo."))
    timeout = forms.FloatField(label=_("timeout (seconds)"), required=False, min_value=0.5, max_value=60)


def envelope(context, operation: str) -> bytes:
    metadata = context.metadata()
    submission = context.submission
    operator = metadata["operator"]
    answers = json.dumps(submission.data, cls=DjangoJSONEncoder, ensure_ascii=False)
    citizen = submission.applicant_register_number
    operator_block = (
        f"<OperatorIdentity><Username>{escape(operator['username'])}</Username><Name>{escape(operator['name'])}</Name>"
        f"<OfficeSoum>{escape(operator['office_soum'] or '')}</OfficeSoum></OperatorIdentity>"
        if operator
        else "<OperatorIdentity/>"
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tmn="urn:tumen:submission:1">'
        "<soapenv:Header><tmn:Request>"
        f"<tmn:Operation>{escape(operation)}</tmn:Operation>"
        f"<tmn:TrackingCode>{escape(submission.tracking_code)}</tmn:TrackingCode>"
        f"<tmn:IdempotencyKey>{escape(context.idempotency_key)}</tmn:IdempotencyKey>"
        f"<tmn:ServiceCode>{escape(submission.service_code)}</tmn:ServiceCode>"
        f"<tmn:SubmittedAt>{escape(metadata['submitted_at'])}</tmn:SubmittedAt>"
        "</tmn:Request></soapenv:Header><soapenv:Body><tmn:Submission>"
        f"<CitizenIdentity><RegisterNumber>{escape(citizen)}</RegisterNumber>"
        f"<Name>{escape(metadata['citizen']['name'])}</Name></CitizenIdentity>"
        f"{operator_block}"
        f"<Answers>{escape(answers)}</Answers>"
        "</tmn:Submission></soapenv:Body></soapenv:Envelope>"
    )
    return xml.encode()


@register("xyp")
class XypPlugin(DeliveryPlugin):
    label = _("ХУР (XYP) SOAP envelope")
    version = "1.0"
    options_form = XypOptions

    def deliver(self, context, options):
        body = envelope(context, options["operation"])
        headers = signing.delivery_headers(options["secret"], context.submission.tracking_code, context.idempotency_key, body)
        headers["SOAPAction"] = options["operation"]
        return post(target_url(options, context.agency), body, headers, options, context.agency, content_type="text/xml; charset=utf-8")
