"""Signals of the submission flow, and the receivers form_builder itself needs.

``form_builder`` does not import ``plugins``: the plugins app listens to these.

- ``submission_checking`` (sender ``Application``; ``answers``): sent before a submission is
  stored, outside any transaction. A receiver refuses it by raising
  :class:`form_builder.submissions.Refused` (an agency's pre-submit check).
- ``submission_received`` (sender ``Submission``; ``submission``): sent *inside*
  the transaction that stores the submission, so rows a receiver writes (deliveries) commit or
  roll back with it.
- ``sms_requested`` (sender None; ``phone``, ``text``, ``agency``, ``purpose``): a text message for
  a citizen (``form_builder.sms.send``). A receiver that sent it returns True (the plugins app's
  SMS gateway); one that fails raises. When no receiver sends it, the configured sender does.
- ``submission_paid`` and ``payment_gateway_requested``: see below and ``form_builder.payments``.
"""

from django.db import transaction
from django.dispatch import Signal

from search.popularity import record_application

from .models import StoredFile, private_storage

submission_checking = Signal()
submission_received = Signal()
# A later stage of a multi-stage service begins (inside the transaction that records it):
# sender Submission; ``submission``, ``stage``. The plugins app plans that stage's deliveries.
stage_started = Signal()
# ``purge_personal_data`` anonymised these submissions (inside its transaction): sender Submission;
# ``submission_ids``. A receiver blanks the personal data it keeps about them and returns its
# counts per model, ``{"app_label.Model": number}``, for the audit log.
personal_data_purged = Signal()
# ``purge_personal_data`` asks which applications must keep their personal data for now: sender
# Submission, no arguments. A receiver returns the ids to hold back (a list, or a values_list
# queryset of submission ids, used as a subquery): the plugins app holds those with a delivery
# not yet delivered or given up, whose next attempt would otherwise send the agency an
# anonymised record.
retention_hold = Signal()
sms_requested = Signal()
# A fee-charging application was paid (inside the transaction that records it): sender
# Submission; ``submission``. The plugins app plans its deliveries then, not at submission.
submission_paid = Signal()
# ``form_builder.payments`` asks for the payment provider of a submission: sender Submission;
# ``submission``, ``config_id`` (the configuration that made an invoice, or None for the
# service's current one). A receiver returns a ``payments.Gateway`` or None.
payment_gateway_requested = Signal()

"""Publishing a form definition freezes a new version (only when the form really changed)."""


def freeze_published_form(sender, instance, revision=None, **kwargs):
    instance.freeze_version(user=getattr(revision, "user", None))


def count_application(sender, submission, **kwargs):
    """An application counts towards its service's popularity in search (``search.popularity``):
    the service and the week only, nothing about the applicant."""
    record_application(submission.service)


def reset_private_storage(setting, **kwargs):
    """Tests (and ``override_settings``) may move the private upload folder."""
    if setting in ("TUMEN_PRIVATE_MEDIA_ROOT", "MEDIA_ROOT"):
        private_storage().reset()


def delete_draft_files(sender, instance, **kwargs):
    """A draft going away (submitted, abandoned, expired, or its service deleted) takes the uploads
    that no submission kept with it: rows now, files on disk once the deletion commits."""
    leftovers = list(StoredFile.objects.filter(draft=instance, submission__isnull=True))
    if not leftovers:
        return
    StoredFile.objects.filter(pk__in=[item.pk for item in leftovers]).delete()
    # robust: a disk error must not fail "Start again" or deleting a service (Django logs it; the
    # orphan is removed by purge_expired_drafts).
    transaction.on_commit(lambda: [item.file.delete(save=False) for item in leftovers], robust=True)
