"""ХУР (XYP)-style reference source: the instant reference asked for in a SOAP envelope.

Like the ``xyp`` delivery plugin, this follows ХУР's conventions (the operation named by the
service's ``xyp_code``, sent as ``SOAPAction``; separate ``<CitizenIdentity>`` and
``<OperatorIdentity>`` blocks for whom the data is about and who asks) but **the schema is
invented** (namespace ``urn:tumen:reference:1``): it is not the real ХУР service contract, which
needs an agency adapter or its own plugin. Requests and answers are signed like ``reference_json``
(``X-Tumen-Request``, ``X-Tumen-Timestamp``, ``X-Tumen-Signature`` over ``"{timestamp}.{request id}."
+ body``, both ways). The answer::

    <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tmn="urn:tumen:reference:1">
      <soapenv:Body><tmn:ReferenceResponse>
        <Found>true</Found><TitleMn>...</TitleMn><TitleEn>...</TitleEn><ValidUntil>2026-03-01</ValidUntil>
        <Row><LabelMn>Хаяг</LabelMn><LabelEn>Address</LabelEn><Value>...</Value></Row> ...
      </tmn:ReferenceResponse></soapenv:Body></soapenv:Envelope>

``<Found>false</Found>`` with ``<MessageMn>``/``<MessageEn>`` is "no record". The XML is parsed with
defusedxml (no entities, no external references).
"""

from xml.sax.saxutils import escape

from django import forms
from django.utils.translation import gettext_lazy as _

from documents.content import InvalidContent, content_from_json
from plugins.base import PluginUnavailable, ReferenceNotFound, ReferenceSourcePlugin
from plugins.contrib.reference_json.plugin import call
from plugins.registry import register

NAMESPACE = "urn:tumen:reference:1"


class XypReferenceOptions(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https", help_text=_("The agency's reference endpoint."))
    secret = forms.CharField(label=_("signing secret"), min_length=16, max_length=200, widget=forms.PasswordInput)
    operation = forms.CharField(
        label=_("operation"), max_length=100, required=False,
        help_text=_("Empty: the service's ХУР (XYP) operation (xyp_code)."),
    )  # fmt: skip
    timeout = forms.FloatField(label=_("timeout (seconds)"), required=False, min_value=0.5, max_value=30)


def envelope(request, operation: str) -> bytes:
    operator = request.operator
    operator_block = (
        f"<OperatorIdentity><Username>{escape(operator.get('username', ''))}</Username><Name>{escape(operator.get('name', ''))}</Name>"
        f"<Office>{escape(operator.get('office', ''))}</Office></OperatorIdentity>"
        if operator
        else "<OperatorIdentity/>"
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tmn="{NAMESPACE}">'
        "<soapenv:Header><tmn:Request>"
        f"<tmn:Operation>{escape(operation)}</tmn:Operation>"
        f"<tmn:RequestId>{escape(request.request_id)}</tmn:RequestId>"
        f"<tmn:ServiceCode>{escape(request.service_code)}</tmn:ServiceCode>"
        "</tmn:Request></soapenv:Header><soapenv:Body><tmn:ReferenceRequest>"
        f"<CitizenIdentity><RegisterNumber>{escape(request.register_number)}</RegisterNumber>"
        f"<LastName>{escape(request.last_name)}</LastName><FirstName>{escape(request.first_name)}</FirstName></CitizenIdentity>"
        f"{operator_block}"
        "</tmn:ReferenceRequest></soapenv:Body></soapenv:Envelope>"
    )
    return xml.encode()


def _text(element, name: str) -> str:
    child = element.find(name)
    return (child.text or "") if child is not None else ""


def read_answer(body: bytes):
    """The document's content, or ReferenceNotFound / PluginUnavailable."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise PluginUnavailable("the answer is not well-formed XML") from None
    answer = root.find(f".//{{{NAMESPACE}}}ReferenceResponse")
    if answer is None:
        raise PluginUnavailable("the answer has no ReferenceResponse")
    if _text(answer, "Found").strip().lower() != "true":
        raise ReferenceNotFound("no record", texts={"mn": _text(answer, "MessageMn"), "en": _text(answer, "MessageEn")})
    data = {
        "title_mn": _text(answer, "TitleMn"),
        "title_en": _text(answer, "TitleEn"),
        "valid_until": _text(answer, "ValidUntil") or None,
        "rows": [
            {"label_mn": _text(row, "LabelMn"), "label_en": _text(row, "LabelEn"), "value": _text(row, "Value")}
            for row in answer.findall("Row")
        ],
    }
    try:
        return content_from_json(data)
    except InvalidContent as error:
        raise PluginUnavailable(f"the answer cannot be made into a document: {error}") from None


@register("xyp_reference")
class XypReferencePlugin(ReferenceSourcePlugin):
    label = _("ХУР (XYP)-style reference source (SOAP)")
    version = "1.0"
    options_form = XypReferenceOptions

    def fetch(self, request, options, *, timeout, agency=None):
        operation = options.get("operation") or request.xyp_code
        if not operation:
            raise PluginUnavailable("no ХУР operation: set the service's xyp_code or the plugin's operation")
        _status, body = call(
            options["url"], options["secret"], request.request_id, envelope(request, operation), timeout=timeout, agency=agency,
            content_type="text/xml; charset=utf-8", extra_headers={"SOAPAction": operation},
        )  # fmt: skip
        return read_answer(body)
