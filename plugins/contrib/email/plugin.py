"""E-mail delivery: the answers as text to an agency mailbox, with the uploaded files attached.

The SMTP connection has a timeout: ``EMAIL_TIMEOUT`` (10 s) per SMTP step, cut down to what is
left of the worker's lease (``plugins.deadlines``), so a mail server that stops answering cannot
hold a delivery worker past its lease.
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


def smtp_timeout() -> float:
    """Seconds per SMTP step: ``EMAIL_TIMEOUT`` (10), capped by the caller's deadline (the lease)."""
    return deadlines.limit(float(getattr(settings, "EMAIL_TIMEOUT", None) or 10))


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
            connection=get_connection(timeout=smtp_timeout()),
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
