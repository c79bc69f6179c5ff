"""Revoking an issued document: the one path that marks a document no longer valid.

Both ways staff revoke reach :func:`revoke_document`: ``manage.py revoke_document`` and the
admin's "Revoke" action (``documents.wagtail_hooks``). It refuses, with a translated message, a
document already revoked and an empty reason; it locks the row, so two people revoking at once
get one revocation and one refusal. ``/verify/<code>/`` then says the document is no longer
valid. The file is kept (the holder can still download what they were given), and the reason is
for staff only: the verification page never shows it.

Who revoked is written to Wagtail's audit log (action :data:`LOG_ACTION`, with the reason), which
the agency's moderators read in the document's history; the command line has no user, and says
so in the entry.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import log

from .models import IssuedDocument

LOG_ACTION = "tumen.revoke_document"
MAX_REASON = 500


class RevocationRefused(Exception):
    """The document was not revoked; ``message`` says why, for the person asking."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def revoke_document(document: IssuedDocument, reason: str, *, user=None, via: str = "admin") -> IssuedDocument:
    """Revoke ``document`` for ``reason``; ``user`` is who did it (``None`` from the command line).

    Returns the document as now stored; raises :class:`RevocationRefused` when there is nothing to do.
    """
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise RevocationRefused(_("Give the reason for revoking the document."))
    if len(reason) > MAX_REASON:
        raise RevocationRefused(_("The reason is too long (at most 500 characters)."))
    with transaction.atomic():
        locked = IssuedDocument.objects.select_for_update().get(pk=document.pk)
        if locked.revoked:
            raise RevocationRefused(
                _("This document was already revoked on %(date)s.") % {"date": f"{locked.revoked_at:%Y-%m-%d %H:%M}"}
            )
        locked.revoke(reason)
        log(locked, LOG_ACTION, user=user, data={"reason": reason, "via": via})
    return locked
