"""What a document says: its title and label/value rows, read from an agency's JSON with limits.

The same shape comes from an instant-reference source (``plugins``' reference-source plugins) and
from an agency's result document sent as data rows::

    {"title_mn": "Оршин суугаа хаягийн лавлагаа", "title_en": "Reference on the registered address",
     "rows": [{"label_mn": "Хаяг", "label_en": "Address", "value": "Улаанбаатар, ..."}, ...],
     "valid_until": "2026-03-01"}

:func:`content_from_json` refuses anything that cannot be printed on a page (wrong types, missing
fields, too many or too long rows, control characters) with :class:`InvalidContent`: nothing is
issued from a half-understood answer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

MAX_ROWS = 40
MAX_TITLE = 255
MAX_LABEL = 120
MAX_VALUE = 600


class InvalidContent(ValueError):
    """The data cannot be made into a document; the message names the field (for logs and staff)."""


@dataclass(frozen=True)
class Row:
    label_mn: str
    value: str
    label_en: str = ""

    def label(self, language: str = "mn") -> str:
        return self.label_en if language == "en" and self.label_en else self.label_mn


@dataclass(frozen=True)
class DocumentContent:
    title_mn: str
    title_en: str = ""
    rows: tuple[Row, ...] = field(default_factory=tuple)
    valid_until: datetime.date | None = None


def _text(value, name: str, limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise InvalidContent(f"{name} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidContent(f"{name} must be text")
    text = " ".join(str(value).split())
    if any(ord(ch) < 32 for ch in text):
        raise InvalidContent(f"{name} holds control characters")
    if len(text) > limit:
        raise InvalidContent(f"{name} is longer than {limit} characters")
    if required and not text:
        raise InvalidContent(f"{name} is empty")
    return text


def content_from_json(data) -> DocumentContent:
    """A :class:`DocumentContent` from decoded JSON, or :class:`InvalidContent`."""
    if not isinstance(data, dict):
        raise InvalidContent("the document must be a JSON object")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise InvalidContent("rows must be a non-empty list")
    if len(rows) > MAX_ROWS:
        raise InvalidContent(f"more than {MAX_ROWS} rows")
    parsed = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InvalidContent(f"row {number} must be an object")
        parsed.append(
            Row(
                label_mn=_text(row.get("label_mn") or row.get("label"), f"rows[{number}].label_mn", MAX_LABEL),
                label_en=_text(row.get("label_en"), f"rows[{number}].label_en", MAX_LABEL, required=False),
                value=_text(row.get("value"), f"rows[{number}].value", MAX_VALUE),
            )
        )
    valid_until = data.get("valid_until")
    if valid_until not in (None, ""):
        if not isinstance(valid_until, str):
            raise InvalidContent("valid_until must be a date (YYYY-MM-DD)")
        try:
            valid_until = datetime.date.fromisoformat(valid_until)
        except ValueError:
            raise InvalidContent("valid_until must be a date (YYYY-MM-DD)") from None
    else:
        valid_until = None
    return DocumentContent(
        title_mn=_text(data.get("title_mn"), "title_mn", MAX_TITLE),
        title_en=_text(data.get("title_en"), "title_en", MAX_TITLE, required=False),
        rows=tuple(parsed),
        valid_until=valid_until,
    )
