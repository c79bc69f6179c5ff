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

**The admin's "Issued documents"** (``documents.wagtail_hooks``) lists the *metadata* of the
documents an agency issued, so that its moderators can find one by its verification code and
revoke it: the agency's moderators (``view_issueddocument``, and ``change_issueddocument`` to
revoke, given by :func:`grant_moderator_permissions` when ``create_agency_groups`` runs) see their
agency's documents only (:func:`documents_seen_by`, :func:`may_see_document`); superusers (and
the national team, when given the permissions) see all. Permissions are global, so the scope
names the role: a moderator of A who is an editor of B sees A's documents, never B's. The screen
holds no personal content (no holder, register number, data rows or identity document of the
in-person proof); downloading stays as above.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from citizens.identity import verified_identity
from service_pages.governance import MODERATORS, agency_codes_for, filter_by_agency, may_see_submission

from .models import IssuedDocument

# The roles that read (and revoke) their agency's issued documents in the admin.
ADMIN_ROLES = (MODERATORS,)
ROLE_PERMISSIONS = {MODERATORS: ("view_issueddocument", "change_issueddocument")}

# Why a download was allowed (``download_right``): the holder's own, or someone else's access.
HOLDER, OPERATOR, STAFF = "holder", "operator", "staff"


def download_right(request, document: IssuedDocument) -> str | None:
    """Why ``request`` may download ``document`` (:data:`HOLDER`, :data:`OPERATOR`, :data:`STAFF`), or ``None``."""
    identity = verified_identity(request)
    if identity is not None and identity.applicant_register_number == document.holder_register_number:
        return HOLDER
    user = request.user
    if not user.is_authenticated:
        return None
    if document.operator_id is not None and document.operator_id == user.pk:
        return OPERATOR
    if document.kind == IssuedDocument.Kind.RESULT and document.submission_id is not None:
        if user.has_perm("form_builder.view_submission") and may_see_submission(user, document.submission):
            return STAFF
    return None


def may_download(request, document: IssuedDocument) -> bool:
    return download_right(request, document) is not None


def grant_moderator_permissions(**signal_kwargs) -> None:
    """Answer ``agency_groups_synced``: every agency's moderators read and revoke its issued
    documents in the admin (idempotent, like the rest of ``create_agency_groups``)."""
    for role, codenames in ROLE_PERMISSIONS.items():
        permissions = list(Permission.objects.filter(content_type__app_label="documents", codename__in=codenames))
        for group in Group.objects.filter(name__endswith=f" {role}"):
            group.permissions.add(*permissions)


def documents_seen_by(user, queryset=None):
    """The issued documents ``user`` may list in the admin: none without ``view_issueddocument``,
    else their agencies' (as moderators), or all (superusers, the national team)."""
    queryset = IssuedDocument.objects.all() if queryset is None else queryset
    if not user.has_perm("documents.view_issueddocument"):
        return queryset.none()
    return filter_by_agency(queryset, user, roles=ADMIN_ROLES)


def may_see_document(user, document: IssuedDocument) -> bool:
    if not user.has_perm("documents.view_issueddocument"):
        return False
    codes = agency_codes_for(user, ADMIN_ROLES)
    return codes is None or document.agency.code in codes


def may_revoke(user, document: IssuedDocument) -> bool:
    return user.has_perm("documents.change_issueddocument") and may_see_document(user, document)


def documents_of(identity):
    """The documents of a signed-in citizen (``citizens.identity.Identity``), newest first."""
    return (
        IssuedDocument.objects.filter(holder_register_number=identity.applicant_register_number)
        .select_related("agency", "service", "submission")
        .order_by("-issued_at")
    )
