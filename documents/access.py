"""Who may download an issued document (everyone else gets 404, as if it did not exist).

- the holder: the signed-in citizen whose ``applicant_register_number`` is the document's
  (a representative signed in for an organisation gets the organisation's documents);
- the soum operator who issued it, for the citizen they served in person (to print it);
- for a result document of an application: agency staff who may read that application in the
  admin (``form_builder.view_submission``, which only the agencies' moderators hold, and the
  application reached their agency: ``service_pages.governance.may_see_submission``). Content
  editors never see personal data, and no agency browses instant references: they are the
  citizen's.

``/verify/<code>`` needs none of this: it shows no personal content.
"""

from __future__ import annotations

from citizens.identity import verified_identity
from service_pages.governance import may_see_submission

from .models import IssuedDocument


def may_download(request, document: IssuedDocument) -> bool:
    identity = verified_identity(request)
    if identity is not None and identity.applicant_register_number == document.holder_register_number:
        return True
    user = request.user
    if not user.is_authenticated:
        return False
    if document.operator_id is not None and document.operator_id == user.pk:
        return True
    if document.kind == IssuedDocument.Kind.RESULT and document.submission_id is not None:
        return user.has_perm("form_builder.view_submission") and may_see_submission(user, document.submission)
    return False


def documents_of(identity):
    """The documents of a signed-in citizen (``citizens.identity.Identity``), newest first."""
    return (
        IssuedDocument.objects.filter(holder_register_number=identity.applicant_register_number)
        .select_related("agency", "service", "submission")
        .order_by("-issued_at")
    )
