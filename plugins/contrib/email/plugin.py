"""E-mail delivery: the answers as text to an agency mailbox, with the uploaded files attached.

The SMTP connection has a timeout: the target's ``timeout`` option, else ``EMAIL_TIMEOUT``, both
cut down to what is left of the worker's lease (``plugins.deadlines``), so a mail server that
stops answering cannot hold a delivery worker.
"""

from django import forms
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext_lazy as _

from plugins import deadlines
from plugins.base import CheckResult, DeliveryError, DeliveryPlugin, DeliveryResult
from plugins.registry import register


class EmailOptions(forms.Form):
    to = forms.EmailField(label=_("send to"))
    attach_files = forms.BooleanField(label=_("attach uploaded files"), required=False, initial=True)
    timeout = forms.FloatField(label=_("timeout (seconds)"), required=False, min_value=0.5, max_value=60)


def smtp_timeout(options) -> float:
    """Seconds per SMTP operation: the option, else ``EMAIL_TIMEOUT`` (10), capped by the lease."""
    return deadlines.limit(float(options.get("timeout") or getattr(settings, "EMAIL_TIMEOUT", None) or 10))


@register("email")
class EmailPlugin(DeliveryPlugin):
    label = _("E-mail")
    version = "1.0"
    options_form = EmailOptions

    def deliver(self, context, options):
        submission = context.submission
        lines = [f"{key}: {value}" for key, value in context.metadata().items() if value]
        lines += ["", *[f"{row.label}: {row.text}" for row in submission.answer_rows("mn")]]
        message = EmailMessage(
            subject=f"[Tumen] {submission.tracking_code} — {submission.service_title}",
            body="\n".join(lines),
            to=[options["to"]],
            headers={"Idempotency-Key": context.idempotency_key, "X-Tumen-Submission": submission.tracking_code},
            connection=get_connection(timeout=smtp_timeout(options)),
        )
        if options.get("attach_files", True):
            for stored in context.files():
                with stored.file.open("rb") as handle:
                    message.attach(stored.name, handle.read(), stored.content_type)
        try:
            message.send(fail_silently=False)
        except OSError as error:
            raise DeliveryError(f"mail server: {error}") from None
        return DeliveryResult(detail=f"sent to {options['to']}")

    def check_config(self, options, agency=None):
        options = self.clean_options(options)
        return CheckResult(True, f"will send to {options['to']}")
