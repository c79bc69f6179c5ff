"""Issuing a document: render (or take) the PDF, store it privately, then write its row.

The one path that creates :class:`~documents.models.IssuedDocument` rows. The order makes a
half-issued document impossible: the file is written first, the row second (in a transaction);
if the row cannot be written the file is deleted again. ``idempotency_key`` is unique: when two
requests with the same key race, the second one's row fails, its file is removed, and it returns
the first one's document. Callers make the key from what identifies "the same request"
(:func:`idempotency_key`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from .content import DocumentContent
from .models import IssuedDocument, new_verification_code
from .pdf import InvalidPdf, Stamp, append_verification_page, render_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    """Whom the document is about: a register number (a person's, or an organisation's) and a name."""

    register_number: str
    name: str = ""


def idempotency_key(*parts) -> str:
    """A stable key for "the same request" from its parts (never stored in clear: it may hold a register number)."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def public_url(path: str) -> str:
    base = (getattr(settings, "TUMEN_PUBLIC_URL", "") or settings.WAGTAILADMIN_BASE_URL).rstrip("/")
    return base + path


def verify_url(code: str) -> str:
    """The absolute ``/verify/<code>/`` URL printed and put in the QR code (Mongolian, the default)."""
    with translation.override(settings.LANGUAGE_CODE):
        return public_url(reverse("document_verify", args=[code]))


def existing(key: str) -> IssuedDocument | None:
    return IssuedDocument.objects.filter(idempotency_key=key).select_related("agency", "service").first()


def _stamp(service, agency, holder: Holder, code: str, issued_at, operator_line: str) -> Stamp:
    local = timezone.localtime(issued_at)
    return Stamp(
        agency_mn=agency.name_mn,
        agency_en=agency.name_en,
        service_title=service.title if service is not None else "",
        holder_name=holder.name,
        holder_register_number=holder.register_number,
        issued_at=f"{local:%Y-%m-%d %H:%M}",
        verification_code=code,
        verify_url=verify_url(code),
        operator_line=operator_line,
    )


def issue(*, kind: str, service, agency, holder: Holder, key: str, content: DocumentContent | None = None,
          agency_pdf: bytes | None = None, title_mn: str = "", title_en: str = "", operator=None,
          in_person: dict | None = None, operator_line: str = "", submission=None,
          looked_up: bool = False) -> tuple[IssuedDocument, bool]:  # fmt: skip
    """Issue one document; ``(document, created)``. Give ``content`` (rendered here) or
    ``agency_pdf`` (an agency's PDF, which gets a verification page; ``title_mn`` names it).
    Raises ``pdf.InvalidPdf`` for an unreadable agency PDF or content that cannot be rendered;
    nothing is stored then. ``looked_up``: the caller has just found no document under ``key``
    (the unique key still settles a race)."""
    found = None if looked_up else existing(key)
    if found is not None:
        return found, False
    code = new_verification_code()
    issued_at = timezone.now()
    stamp = _stamp(service, agency, holder, code, issued_at, operator_line)
    if content is not None:
        try:
            data = render_document(content, stamp)
        except Exception:  # text fpdf2 cannot lay out: a clear refusal, never a half-issued document
            logger.exception("the %s document of %s could not be rendered", kind, agency.code)
            raise InvalidPdf("the document cannot be rendered") from None
        title_mn, title_en, valid_until = content.title_mn, content.title_en, content.valid_until
    else:
        data = append_verification_page(agency_pdf or b"", stamp, title_mn, title_en)
        valid_until = None
    document = IssuedDocument(
        verification_code=code, kind=kind, service=service, agency=agency, title=title_mn[:255], title_en=title_en[:255],
        holder_register_number=holder.register_number, holder_name=holder.name[:200], operator=operator,
        in_person=in_person or {}, submission=submission, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        issued_at=issued_at, valid_until=valid_until, idempotency_key=key,
    )  # fmt: skip
    document.file.save(f"{code}.pdf", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        document.file.delete(save=False)
        found = existing(key)
        if found is None:
            raise
        return found, False
    except BaseException:
        document.file.delete(save=False)
        raise
    logger.info("issued %s document %s (%s)", kind, code, agency.code)
    return document, True


def read_pdf(document: IssuedDocument) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()
