"""The small base classes every plugin kind derives from.

A plugin is a class registered under an id (``@register("webhook")``, see ``registry.py``). It
declares its options as a Django form (``options_form``): its fields are the admin's
configuration fields (``plugins.forms.PluginConfigForm``: labels, help texts, widgets) and it
validates what an agency enters, so a plugin never receives options it did not declare. Secrets
(a ``PasswordInput`` widget, or a name such as ``secret``, ``password``, ``token``) are never
shown again in the admin. Per agency (and per service, overriding) a
:class:`plugins.models.PluginConfig` turns a plugin on with its options.

Kinds:

- :class:`DeliveryPlugin`: send one submission to one target (an agency endpoint, a mailbox).
  Runs in the delivery worker, never in a citizen's request; raise :class:`DeliveryError` to ask
  for a retry (``retryable=True``) or to give up at once.
- :class:`PreSubmitPlugin`: asked synchronously, with a timeout, whether answers are acceptable
  before a submission is stored; returns a :class:`Verdict`.
- :class:`StatusCallbackPlugin`: reads an agency's status callback body into a
  :class:`StatusUpdate` (the endpoint has already checked the agency's signature).
- :class:`ReferenceSourcePlugin`: an agency's register that answers an instant reference
  (лавлагаа): asked synchronously, with one hard deadline, while the citizen (or the soum
  operator) waits; it looks the person up and returns the document's content
  (:class:`documents.content.DocumentContent`: title, label/value rows, validity), or raises
  :class:`PluginUnavailable` (no answer in time, an error, data that cannot be printed) or
  :class:`ReferenceNotFound` (the register has no record for this person).
- :class:`SmsPlugin`: sends one text message to a citizen's phone (the operator-mode consent code,
  status changes) through a gateway; raise :class:`SmsError` when the gateway does not take it.
  Configured nationally (no agency) or per agency (``plugins.sms``).

- :class:`PaymentPlugin`: a payment provider (QPay-style invoices): make an invoice with its QR
  code and bank-app links, answer "is it paid?", refund, and check its signed callbacks. Called
  in the citizen's request (the invoice, "I have paid") or the polling task, with a timeout; the
  core (``form_builder.payments``) owns the payment's states. Options extend
  :class:`PaymentOptions` (expiry, refund when the agency rejects). See docs/plugins.md.

Errors every kind may raise are the core's (``plugins.exceptions``, re-exported here):
:class:`PluginError`, :class:`PluginUnavailable` (a pre-submit check's agency did not answer),
:class:`DeliveryError`, :class:`SmsError`, :class:`ReferenceNotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The core's exceptions, importable from here with the base classes (plugins.exceptions).
from .exceptions import DeliveryError as DeliveryError
from .exceptions import PluginError as PluginError
from .exceptions import PluginUnavailable as PluginUnavailable
from .exceptions import ReferenceNotFound as ReferenceNotFound
from .exceptions import SmsError as SmsError


@dataclass
class CheckResult:
    ok: bool
    message: str = ""


@dataclass
class DeliveryResult:
    """What a successful delivery reports (kept in the attempt log)."""

    status_code: int | None = None
    detail: str = ""


@dataclass
class Verdict:
    accept: bool
    message: dict = field(default_factory=dict)  # {"mn": ..., "en": ...} shown to the citizen


@dataclass
class StatusUpdate:
    status: str
    message: str = ""  # the agency's note for staff: never shown publicly
    public_message: str = ""  # for the citizen (e.g. the reason of a rejection), on the tracking page
    document: dict | None = None  # an optional result document (plugins.result_documents), as sent


class NoOptions(forms.Form):
    pass


SECRET_WORDS = {"secret", "password", "passwd", "token", "apikey"}


def is_secret_option(name: str, form_field: forms.Field) -> bool:
    """Whether an option is a secret the admin never shows again: its widget is a
    ``PasswordInput``, or its name says so (``secret``, ``password``, ``token``, ``api_key``...)."""
    if isinstance(form_field.widget, forms.PasswordInput):
        return True
    words = name.lower().replace("-", "_").split("_")
    return bool(SECRET_WORDS.intersection(words)) or name.lower().endswith(("api_key", "private_key"))


class Plugin:
    """Base of every plugin. Subclasses set ``kind``, ``label`` and usually ``options_form``."""

    id: str = ""  # set by the registry
    kind: str = ""
    label: str = ""
    version: str = "1.0"
    options_form: type[forms.Form] = NoOptions

    def clean_options(self, options: dict | None) -> dict:
        """Validate options against ``options_form``; return them JSON-ready, or raise ValidationError."""
        data = dict(options or {})
        for name, form_field in self.options_form.base_fields.items():
            if name not in data and form_field.initial is not None:
                data[name] = form_field.initial  # a missing option takes its default
        form = self.options_form(data=data)
        if not form.is_valid():
            raise ValidationError({name: errors for name, errors in form.errors.items()})
        return {name: _jsonable(value) for name, value in form.cleaned_data.items()}

    def options_schema(self) -> list[dict]:
        """The options as a list of {name, label, type, required, help_text} (``manage.py list_plugins``)."""
        result = []
        for name, form_field in self.options_form.base_fields.items():
            result.append(
                {
                    "name": name,
                    "label": str(form_field.label or name),
                    "type": type(form_field).__name__,
                    "required": form_field.required,
                    "help_text": str(form_field.help_text or ""),
                }
            )
        return result

    def check_config(self, options: dict, agency=None) -> CheckResult:
        """The admin's "test connection": by default only the options are checked."""
        self.clean_options(options)
        return CheckResult(True, "options are valid")

    def __repr__(self):
        return f"<{type(self).__name__} {self.id!r} v{self.version}>"


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


class DeliveryPlugin(Plugin):
    kind = "delivery"

    def deliver(self, context, options: dict) -> DeliveryResult:
        """Send ``context`` (a :class:`plugins.delivery.DeliveryContext`) to the target."""
        raise NotImplementedError


class PreSubmitOptions(forms.Form):
    """The core's timeout policy of a pre-submit check, for a plugin's options form to extend:
    ``timeout`` (seconds, within ``TUMEN_PRE_SUBMIT_TIMEOUT``) and ``on_timeout``: what to do when
    the check does not answer in time or raises anything (accept the submission, or refuse it)."""

    timeout = forms.FloatField(label=_("timeout (seconds)"), min_value=0.1, max_value=10, initial=2)
    on_timeout = forms.ChoiceField(
        label=_("when the agency does not answer"), choices=[("accept", _("accept the submission")), ("refuse", _("refuse it"))],
        initial="accept",
    )  # fmt: skip


class PreSubmitPlugin(Plugin):
    """``check()`` runs in a thread of its own, in parallel with the service's other checks, while
    the citizen waits (``plugins.checks``): use ``plugins.http.request`` (capped by the deadline)
    and no database. Without an ``on_timeout`` option the plugin's ``on_timeout`` attribute is
    its policy."""

    kind = "pre_submit"
    on_timeout = "accept"

    def check(self, application, answers: dict, options: dict, *, timeout: float) -> Verdict:
        raise NotImplementedError


class StatusCallbackPlugin(Plugin):
    kind = "status_callback"

    def parse(self, body: bytes, headers, options: dict) -> StatusUpdate:
        raise NotImplementedError


class SmsPlugin(Plugin):
    kind = "sms"

    def send(self, phone: str, text: str, options: dict, *, agency=None) -> None:
        """Send ``text`` to ``phone`` (E.164, e.g. ``+97688112233``) or raise :class:`SmsError`.

        Called in a web request (an operator waiting for the code), so keep it short: use
        ``plugins.http.request`` with the plugin's timeout.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class ReferenceRequest:
    """Whose reference a :class:`ReferenceSourcePlugin` is asked for, and by whom.

    ``request_id`` is the same for a retried request (the issuing idempotency key, shortened):
    an agency may log or deduplicate by it. ``operator`` is ``{"username", "name", "office"}``
    when a soum operator asks for a citizen present in person, else ``None`` (the citizen signed
    in with the national identity service).
    """

    register_number: str
    last_name: str
    first_name: str
    service_code: str
    service_title: str
    xyp_code: str
    agency_code: str
    request_id: str
    operator: dict | None = None


class ReferenceSourcePlugin(Plugin):
    kind = "reference_source"

    def fetch(self, request: ReferenceRequest, options: dict, *, timeout: float, agency=None):
        """The document's content (a :class:`documents.content.DocumentContent`) for ``request``.

        Called in the citizen's (or the operator's) web request, in a worker thread: finish
        within ``timeout`` seconds (use ``plugins.http.request`` with it; ``agency`` is the
        service's :class:`~service_pages.models.Agency`, for ``allow_private_endpoints``); the
        core stops waiting then. Do not use the database here.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class InvoiceRequest:
    """What a :class:`PaymentPlugin` is asked to invoice. ``key`` is the same for a retried
    request (``TMN-XXXX-XXXX-<n>``): a provider that knows it returns the same invoice."""

    key: str
    amount: int
    currency: str
    description: str
    callback_url: str
    expires_at: object  # datetime


class PaymentOptions(forms.Form):
    """The options every payment plugin has (a plugin's own form extends this one)."""

    expiry_minutes = forms.IntegerField(
        label=_("invoice valid for (minutes)"), min_value=5, max_value=7 * 24 * 60, initial=30,
        help_text=_("After this the citizen is asked to pay again; a late payment is refunded."),
    )  # fmt: skip
    refund_on_rejection = forms.BooleanField(
        label=_("refund when the agency rejects"), required=False, initial=False,
        help_text=_("Give the fee back automatically when the agency rejects a paid application."),
    )  # fmt: skip


class PaymentPlugin(Plugin):
    kind = "payment"
    options_form = PaymentOptions

    def create_invoice(self, request: InvoiceRequest, options: dict, *, agency=None):
        """A :class:`form_builder.payments.Invoice` (reference, QR text, bank-app links, expiry)."""
        raise NotImplementedError

    def check(self, reference: str, options: dict, *, agency=None):
        """A :class:`form_builder.payments.ProviderStatus`: what the provider says of the invoice."""
        raise NotImplementedError

    def refund(self, reference: str, amount: int, options: dict, *, agency=None) -> str:
        """Give the payment of invoice ``reference`` back; return the provider's refund reference."""
        raise NotImplementedError

    def callback_reference(self, body: bytes, headers, options: dict) -> dict:
        """Check a callback's signature; return ``{"reference", "amount", "currency"}`` as it
        claims them, or raise :class:`PluginError`. The core then asks :meth:`check`."""
        raise NotImplementedError


KINDS = {cls.kind: cls for cls in (DeliveryPlugin, PreSubmitPlugin, StatusCallbackPlugin, SmsPlugin, ReferenceSourcePlugin, PaymentPlugin)}
