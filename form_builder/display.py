"""Answers as people read them: on the check-your-answers page, the receipt and in the admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from service_pages.models import Aimag, Soum

from .spec import Field, FormSpec, localized


@dataclass
class AnswerRow:
    field: Field
    label: str
    text: str
    step: int


def _place_text(value: dict) -> str:
    aimag = Aimag.objects.filter(code=value.get("aimag")).values_list("name_mn", flat=True).first()
    soum = Soum.objects.filter(code=value.get("soum")).values_list("name_mn", flat=True).first()
    return ", ".join(part for part in (aimag, soum, value.get("bag")) if part)


def answer_text(spec_field: Field, value, language=None) -> str:
    if value is None:
        return ""
    kind = spec_field.type
    if kind in ("checkbox", "yes_no"):
        return _("Yes") if value else _("No")
    if kind in ("choice", "multiple_choice"):
        labels = {c["value"]: localized(c.get("label") or c["value"], language) for c in spec_field.options.get("choices", [])}
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(v, str(v)) for v in values)
    if kind == "file" and isinstance(value, dict):
        return f"{value.get('name', '')} ({filesizeformat(value.get('size') or 0)})"
    if kind == "place" and isinstance(value, dict):
        return _place_text(value)
    return str(value)


def answer_rows(spec: FormSpec, data: dict, language=None) -> list[AnswerRow]:
    rows = []
    for index, step in enumerate(spec.steps):
        for spec_field in step.fields:
            if spec_field.has_answer and spec_field.key in data:
                rows.append(
                    AnswerRow(
                        field=spec_field,
                        label=localized(spec_field.label, language),
                        text=answer_text(spec_field, data[spec_field.key], language),
                        step=index,
                    )
                )
    return rows
