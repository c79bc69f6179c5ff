"""Documents Tumen issues: instant references (лавлагаа) and agencies' result documents.

An :class:`IssuedDocument` is a PDF in private storage (``form_builder``'s: no URL serves it)
with a verification code printed on it and in its QR code. Anyone holding the paper can open
``/verify/<code>`` and see which agency issued what, when, the file's SHA-256 and whether it is
still valid, never the personal content. The row is written only after its file is stored
(``documents.issuing``), and ``idempotency_key`` is unique, so a retried request (a double click,
an agency retrying its upload) gets the same document instead of a second one.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from form_builder.models import private_storage

# Crockford's base 32 without I, L, O, U (as the tracking codes): 12 characters = 60 random bits,
# typed from paper in three groups of four.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12


def new_verification_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{body[:4]}-{body[4:8]}-{body[8:]}"


def normalize_verification_code(text: str) -> str:
    """What a person typed ("k7q2 9xwd mnb4", "K7Q29XWDMNB4") -> the stored form, or ""."""
    cleaned = "".join(ch for ch in str(text or "")[:64].upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        return ""
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"


def _document_path(instance, filename):
    issued = instance.issued_at or timezone.now()
    return f"documents/{issued:%Y/%m}/{instance.verification_code}.pdf"


class IssuedDocument(models.Model):
    class Kind(models.TextChoices):
        REFERENCE = "reference", _("Instant reference")
        RESULT = "result", _("Result document")

    verification_code = models.CharField(_("verification code"), max_length=14, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    service = models.ForeignKey(
        "service_pages.ServicePage", verbose_name=_("service"), null=True, on_delete=models.SET_NULL, related_name="issued_documents"
    )
    agency = models.ForeignKey("service_pages.Agency", verbose_name=_("agency"), on_delete=models.PROTECT, related_name="issued_documents")
    title = models.CharField(_("title"), max_length=255)
    title_en = models.CharField(_("title (English)"), max_length=255, blank=True)
    holder_register_number = models.CharField(_("holder's register number"), max_length=10, db_index=True)
    holder_name = models.CharField(_("holder's name"), max_length=200, blank=True)
    # Issued by a soum operator for a citizen present in person: who, and the proof they recorded.
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    in_person = models.JSONField(_("in-person proof"), default=dict, blank=True)
    submission = models.ForeignKey(
        "form_builder.Submission", verbose_name=_("application"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="documents",
    )  # fmt: skip
    file = models.FileField(storage=private_storage, upload_to=_document_path, max_length=255)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now, db_index=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason for revoking"), max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        verbose_name = _("issued document")
        verbose_name_plural = _("issued documents")
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["operator", "issued_at"], name="document_operator")]

    def __str__(self):
        return f"{self.verification_code} {self.title}"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and self.valid_until < timezone.localdate()

    @property
    def valid(self) -> bool:
        return not self.revoked and not self.expired

    def title_in(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title

    def revoke(self, reason: str) -> None:
        """The write itself. Staff revoke through ``documents.revocation.revoke_document`` (the
        checks, the row lock and the audit log), as the admin and ``revoke_document`` do."""
        self.revoked_at = timezone.now()
        self.revoked_reason = reason[:500]
        self.save(update_fields=["revoked_at", "revoked_reason"])
