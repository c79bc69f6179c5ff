"""Result documents: what an agency hands the citizen at the end of an application (a certificate,
a decision), attached through its signed API and issued like any document (``documents``).

An agency sends either data rows (rendered by Tumen, like a reference) or its own PDF::

    {"title_mn": "...", "title_en": "...", "rows": [{"label_mn", "label_en", "value"}, ...]}
    {"title_mn": "...", "title_en": "...", "pdf_base64": "JVBERi0..."}

either as the body of ``POST /api/v1/submissions/<tracking code>/documents`` or as the optional
``"document"`` of a status callback. Its PDF is kept as sent, with Tumen's verification page
appended. The same document sent again (a retry: the same ``Idempotency-Key`` header, or the
same body) is issued once. The citizen gets an SMS when a new one is issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from documents import issuing
from documents.content import MAX_TITLE, DocumentContent, InvalidContent, content_from_json
from documents.models import IssuedDocument
from documents.pdf import MAX_AGENCY_PDF_BYTES, InvalidPdf
from form_builder import notify


class DocumentRefused(ValueError):
    """The agency's document cannot be issued; ``message`` (translated) and ``detail`` for the agency."""

    def __init__(self, message, detail: str = ""):
        super().__init__(detail or str(message))
        self.message, self.detail = message, detail


@dataclass(frozen=True)
class ResultDocument:
    title_mn: str
    title_en: str
    content: DocumentContent | None = None
    pdf: bytes | None = None


def read_result_document(data) -> ResultDocument:
    """Check an agency's document payload (decoded JSON) before anything is stored."""
    if not isinstance(data, dict):
        raise DocumentRefused(_("Send the document as a JSON object."))
    if "pdf_base64" in data:
        encoded = data.get("pdf_base64")
        if not isinstance(encoded, str) or len(encoded) > MAX_AGENCY_PDF_BYTES * 4 // 3 + 4:
            raise DocumentRefused(_("The document's PDF is missing or too large."))
        try:
            pdf = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DocumentRefused(_("The document's PDF is not valid base64.")) from None
        title_mn, title_en = data.get("title_mn"), data.get("title_en") or ""
        if not isinstance(title_mn, str) or not title_mn.strip() or len(title_mn) > MAX_TITLE or not isinstance(title_en, str):
            raise DocumentRefused(_("The document needs a title (title_mn) of at most 255 characters."))
        return ResultDocument(title_mn=" ".join(title_mn.split()), title_en=" ".join(title_en.split())[:MAX_TITLE], pdf=pdf)
    try:
        content = content_from_json(data)
    except InvalidContent as error:
        raise DocumentRefused(_("The document cannot be made from this data: %(detail)s") % {"detail": error}, str(error)) from None
    return ResultDocument(title_mn=content.title_mn, title_en=content.title_en, content=content)


def holder_of(submission) -> issuing.Holder:
    citizen = submission.citizen or {}
    data = submission.data or {}
    name = citizen.get("name") or " ".join(str(data.get(key, "")) for key in ("last_name", "first_name")).strip()
    return issuing.Holder(submission.applicant_register_number, str(name)[:200])


def attach(submission, agency, document: ResultDocument, key: str) -> tuple[IssuedDocument, bool]:
    """Issue the result document of ``submission`` from ``agency``; tell the citizen once it is new."""
    try:
        issued, created = issuing.issue(
            kind=IssuedDocument.Kind.RESULT, service=submission.service, agency=agency, holder=holder_of(submission),
            key=key, content=document.content, agency_pdf=document.pdf, title_mn=document.title_mn,
            title_en=document.title_en, submission=submission,
        )  # fmt: skip
    except InvalidPdf as error:
        raise DocumentRefused(_("The document's PDF cannot be read: %(detail)s") % {"detail": error}, str(error)) from None
    if created:
        transaction.on_commit(lambda: notify.document_ready(submission))
    return issued, created


def result_key(submission, agency, idempotency_key: str, payload: dict) -> str:
    """The same document sent again is issued once: by the agency's ``Idempotency-Key`` if given,
    else by the payload's content."""
    if idempotency_key:
        return issuing.idempotency_key("result", submission.pk, agency.code, "key", idempotency_key[:200])
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return issuing.idempotency_key("result", submission.pk, agency.code, "body", digest)


def describe(issued: IssuedDocument) -> dict:
    return {
        "verification_code": issued.verification_code,
        "verify_url": issuing.verify_url(issued.verification_code),
        "sha256": issued.sha256,
        "issued_at": issued.issued_at.isoformat(),
        "kind": issued.kind,
    }
