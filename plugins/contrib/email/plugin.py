"""E-mail delivery: the answers as text to an agency mailbox, with the uploaded files attached."""

from django import forms
from django.core.mail import EmailMessage
from django.utils.translation import gettext_lazy as _

from plugins.base import CheckResult, DeliveryError, DeliveryPlugin, DeliveryResult
from plugins.registry import register


class EmailOptions(forms.Form):
    to = forms.EmailField(label=_("send to"))
    attach_files = forms.BooleanField(label=_("attach uploaded files"), required=False, initial=True)


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
