"""What an uploaded file really is, judged by its first bytes and never by its name.

A citizen's browser (or a forged API call) chooses both the file name and the Content-Type header,
so neither is trusted: :func:`sniff` reads the file's signature, and the upload is accepted only
when that real type is in the field's ``allowed_types`` *and* the name's extension agrees with it
(so a staff member who opens "scan.pdf" gets a PDF, not an HTML page).
"""

from __future__ import annotations

import zipfile

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# type key -> (MIME type, extensions that may carry it)
KNOWN_TYPES = {
    "pdf": ("application/pdf", ("pdf",)),
    "jpeg": ("image/jpeg", ("jpg", "jpeg")),
    "png": ("image/png", ("png",)),
    "gif": ("image/gif", ("gif",)),
    "webp": ("image/webp", ("webp",)),
    "tiff": ("image/tiff", ("tif", "tiff")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ("docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",)),
    "odt": ("application/vnd.oasis.opendocument.text", ("odt",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ("ods",)),
}
EXTENSION_TO_TYPE = {ext: key for key, (_mime, exts) in KNOWN_TYPES.items() for ext in exts}
SIGNATURE_BYTES = 16


def _zip_kind(upload) -> str | None:
    """Office documents are zip files; tell them apart by the members they must contain."""
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
                # Never inflate more than the few bytes looked at (a zip bomb must stay small).
                with archive.open("mimetype") as member:
                    mimetype = member.read(100).decode("ascii", "replace").strip()
                for key in ("odt", "ods"):
                    if mimetype == KNOWN_TYPES[key][0]:
                        return key
            if "[Content_Types].xml" in names:
                if any(name.startswith("word/") for name in names):
                    return "docx"
                if any(name.startswith("xl/") for name in names):
                    return "xlsx"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
        return None
    finally:
        upload.seek(0)
    return None


def sniff(upload) -> str | None:
    """The type key (see :data:`KNOWN_TYPES`) of an uploaded file's content, or None if unknown."""
    upload.seek(0)
    head = upload.read(SIGNATURE_BYTES)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"PK\x03\x04":
        return _zip_kind(upload)
    return None


class ContentTypeValidator:
    """Accept an upload only if its content is an allowed type and its extension matches it."""

    def __init__(self, allowed_extensions):
        self.allowed_extensions = [ext.lower().lstrip(".") for ext in allowed_extensions]

    def __call__(self, upload):
        allowed_types = {EXTENSION_TO_TYPE[ext] for ext in self.allowed_extensions if ext in EXTENSION_TO_TYPE}
        kind = sniff(upload)
        extension = upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
        if kind is None or kind not in allowed_types:
            raise ValidationError(
                _("This file's content is not an allowed type. Allowed: %(types)s."),
                code="file_content",
                params={"types": ", ".join(self.allowed_extensions)},
            )
        if EXTENSION_TO_TYPE.get(extension) != kind:
            raise ValidationError(
                _("The file name's extension does not match its content (%(kind)s)."),
                code="file_extension_mismatch",
                params={"kind": kind.upper()},
            )
        upload.sniffed_type = KNOWN_TYPES[kind][0]

    def __eq__(self, other):
        return isinstance(other, ContentTypeValidator) and other.allowed_extensions == self.allowed_extensions
