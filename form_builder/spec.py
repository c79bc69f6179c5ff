"""A frozen form version at run time: steps, fields, conditions and validation.

A published :class:`form_builder.models.FormVersion` stores its form as plain JSON (``schema``)::

    {"steps": [
        {"key": "applicant", "title": {"mn": "...", "en": "..."}, "skip_if": null,
         "fields": [
            {"key": "register_number", "type": "register_number",
             "label": {"mn": "...", "en": "..."}, "help_text": {"mn": "", "en": ""},
             "required": true, "options": {...}, "show_if": null, "required_if": null}
         ]}
    ]}

A *condition* is ``{"field": <key of an earlier field>, "op": <operator>, "value": ...}`` with
the operators in :data:`OPERATORS`. ``show_if`` shows a field (and only then validates and keeps
its answer), ``required_if`` makes it required, ``skip_if`` skips a whole step.

Everything that validates answers, for the HTML steps and for the JSON API alike, goes through
:meth:`FormSpec.validate`, so both paths accept and refuse exactly the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .field_types import EMPTY_VALUES, FieldOptionsError, get_field_type

OPERATORS = {
    "equals": _("is"),
    "not_equals": _("is not"),
    "in": _("is one of"),
    "filled": _("is answered"),
    "empty": _("is not answered"),
}
KEY_MAX_LENGTH = 64


class FormSchemaError(ValueError):
    """The stored form is inconsistent (an authoring mistake caught when it is published)."""


def localized(text, language: str | None = None) -> str:
    """The ``{"mn": ..., "en": ...}`` text in ``language`` (default: the active one), else Mongolian."""
    if not isinstance(text, dict):
        return str(text or "")
    language = (language or translation.get_language() or "mn")[:2]
    return text.get(language) or text.get("mn") or text.get("en") or ""


def _as_strings(value) -> list[str]:
    """An answer as the strings a condition compares with ("true"/"false" for booleans)."""
    if value in EMPTY_VALUES:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [str(value[part]) for part in ("aimag", "soum", "name") if value.get(part)]
    return [str(value)]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw) -> Condition | None:
        if not raw or not raw.get("field"):
            return None
        op = raw.get("op") or "equals"
        if op not in OPERATORS:
            raise FormSchemaError(f"unknown condition operator {op!r}")
        value = raw.get("value")
        if isinstance(value, (list, tuple)):
            values = tuple(str(v).strip() for v in value)
        elif value in (None, ""):
            values = ()
        else:
            values = tuple(part.strip() for part in str(value).split(",")) if op == "in" else (str(value).strip(),)
        if op in ("equals", "not_equals", "in") and not values:
            raise FormSchemaError(f"the condition on {raw['field']!r} needs a value")
        return cls(field=str(raw["field"]), op=op, value=values)

    def holds(self, answers: dict) -> bool:
        given = _as_strings(answers.get(self.field))
        if self.op == "filled":
            return bool(given)
        if self.op == "empty":
            return not given
        if self.op == "not_equals":
            return self.value[0] not in given
        return any(value in given for value in self.value)

    def as_json(self) -> dict:
        value = list(self.value) if self.op == "in" else (self.value[0] if self.value else None)
        return {"field": self.field, "op": self.op, "value": value}


@dataclass
class Field:
    key: str
    type: str
    label: dict
    help_text: dict
    required: bool
    options: dict
    show_if: Condition | None = None
    required_if: Condition | None = None

    @property
    def field_type(self):
        return get_field_type(self.type)

    @property
    def has_answer(self) -> bool:
        return self.field_type.has_answer

    def type_options(self, *, required: bool | None = None, language: str | None = None) -> dict:
        """Options for :mod:`form_builder.field_types`, with the label in one language."""
        options = dict(self.options)
        options["required"] = self.required if required is None else required
        options["label"] = localized(self.label, language)
        help_text = localized(self.help_text, language)
        if help_text:
            options["help_text"] = help_text
        if "choices" in options:
            options["choices"] = [
                {"value": choice["value"], "label": localized(choice.get("label") or choice["value"], language)}
                for choice in options["choices"]
            ]
        return options

    def is_visible(self, answers: dict) -> bool:
        return self.show_if is None or self.show_if.holds(answers)

    def is_required(self, answers: dict) -> bool:
        return self.required or (self.required_if is not None and self.required_if.holds(answers))

    def form_field(self, answers: dict | None = None, language: str | None = None):
        """The Django form field, required as the answers so far make it."""
        return self.field_type.form_field(self.type_options(required=self.is_required(answers or {}), language=language))


@dataclass
class Step:
    key: str
    title: dict
    fields: list[Field]
    skip_if: Condition | None = None

    def is_skipped(self, answers: dict) -> bool:
        return self.skip_if is not None and self.skip_if.holds(answers)


@dataclass
class FormSpec:
    steps: list[Step]
    fields: dict[str, Field] = field(init=False)

    def __post_init__(self):
        self.fields = {f.key: f for step in self.steps for f in step.fields}

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_schema(cls, schema: dict) -> FormSpec:
        """Parse and check a stored schema; :class:`FormSchemaError` names the first problem."""
        if not isinstance(schema, dict) or not isinstance(schema.get("steps"), list) or not schema["steps"]:
            raise FormSchemaError("a form needs at least one step")
        steps, seen = [], set()
        for index, raw_step in enumerate(schema["steps"], start=1):
            fields = []
            skip_if = Condition.parse(raw_step.get("skip_if"))
            if skip_if and skip_if.field not in seen:
                raise FormSchemaError(f"step {index} is skipped on {skip_if.field!r}, which is not an earlier question")
            for raw in raw_step.get("fields") or []:
                fields.append(cls._parse_field(raw, seen))
                seen.add(fields[-1].key)
            steps.append(
                Step(key=str(raw_step.get("key") or f"step-{index}"), title=raw_step.get("title") or {}, fields=fields, skip_if=skip_if)
            )
        if not any(f.has_answer for step in steps for f in step.fields):
            raise FormSchemaError("a form needs at least one question")
        return cls(steps=steps)

    @staticmethod
    def _parse_field(raw: dict, earlier: set[str]) -> Field:
        key = str(raw.get("key") or "")
        if not key or len(key) > KEY_MAX_LENGTH or not key.replace("_", "").isalnum() or not key.isascii():
            raise FormSchemaError(f"field key {key!r} must be 1-{KEY_MAX_LENGTH} Latin letters, digits or _")
        if key in earlier:
            raise FormSchemaError(f"two fields have the key {key!r}")
        try:
            field_type = get_field_type(raw.get("type"))
        except KeyError as error:
            raise FormSchemaError(str(error)) from None
        spec_field = Field(
            key=key,
            type=field_type.key,
            label=raw.get("label") or {},
            help_text=raw.get("help_text") or {},
            required=bool(raw.get("required")),
            options=dict(raw.get("options") or {}),
            show_if=Condition.parse(raw.get("show_if")),
            required_if=Condition.parse(raw.get("required_if")),
        )
        for condition in (spec_field.show_if, spec_field.required_if):
            if condition and condition.field not in earlier:
                raise FormSchemaError(f"{key!r} depends on {condition.field!r}, which is not an earlier question")
        try:
            field_type.json_schema(spec_field.type_options())
            field_type.form_field(spec_field.type_options())
        except (FieldOptionsError, ValueError, TypeError) as error:
            raise FormSchemaError(f"{key!r}: {error}") from None
        return spec_field

    # -- navigation --------------------------------------------------------------------------
    def active_steps(self, answers: dict) -> list[int]:
        """Indexes of the steps a person with these answers goes through (skipped ones left out)."""
        return [index for index, step in enumerate(self.steps) if not step.is_skipped(answers)]

    def answer_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.has_answer]

    def file_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.type == "file"]

    # -- validation --------------------------------------------------------------------------
    def validate(self, data: dict, files=None, *, stored_files=None, steps=None, language=None):
        """Validate answers; return ``(answers, errors)``.

        ``data`` maps field keys to raw answers (form posts: strings or lists; JSON: any type),
        ``files`` maps file field keys to uploaded files, ``stored_files`` maps them to the
        metadata of files uploaded earlier (a saved draft). ``steps`` limits validation to those
        step indexes (one step of the HTML form); by default all steps a person goes through.
        Answers of hidden fields and skipped steps are dropped. ``errors`` maps keys (``"__all__"``
        for the form) to lists of ``ValidationError``.
        """
        files, stored_files = files or {}, stored_files or {}
        answers: dict = {}
        errors: dict[str, list[ValidationError]] = {}
        for index, step in enumerate(self.steps):
            if step.is_skipped(answers):
                continue
            in_scope = steps is None or index in steps
            for spec_field in step.fields:
                if not spec_field.has_answer or not spec_field.is_visible(answers):
                    continue
                if not in_scope:
                    if spec_field.key in data:  # answers of other steps (earlier ones) drive conditions
                        answers[spec_field.key] = data[spec_field.key]
                    continue
                try:
                    value = self._clean_one(spec_field, data, files, stored_files, answers, language)
                except ValidationError as error:
                    errors[spec_field.key] = error.error_list
                    continue
                except (TypeError, AttributeError, ValueError, ArithmeticError, RecursionError):
                    # A value of a type the field cannot read at all (a list for a date...): the
                    # client's mistake, answered as such, never a server error.
                    errors[spec_field.key] = [ValidationError(_("Enter a valid value."), code="invalid")]
                    continue
                if value is not None:
                    answers[spec_field.key] = value
        return answers, errors

    def _clean_one(self, spec_field, data, files, stored_files, answers, language):
        form_field = spec_field.form_field(answers, language)
        if spec_field.type == "file":
            upload = files.get(spec_field.key)
            if upload is None and spec_field.key in stored_files:
                return stored_files[spec_field.key]
            if upload is not None and not isinstance(upload, UploadedFile):
                raise ValidationError(_("Send files as multipart/form-data uploads."), code="file_expected")
            if upload is None and data.get(spec_field.key) not in EMPTY_VALUES:
                raise ValidationError(_("Send files as multipart/form-data uploads."), code="file_expected")
            return spec_field.field_type.to_stored(form_field.clean(upload))
        return spec_field.field_type.to_stored(form_field.clean(data.get(spec_field.key)))

    def unknown_keys(self, data: dict) -> list[str]:
        return sorted(str(key) for key in data if key not in self.fields or not self.fields[key].has_answer)

    # -- descriptions ------------------------------------------------------------------------
    def json_schema(self) -> dict:
        """JSON Schema (2020-12) of stored answers; conditional requirements are not expressed.

        Computed once per spec (specs of frozen versions are shared): treat the result as read-only.
        """
        cached = self.__dict__.get("_json_schema")
        if cached is None:
            cached = self.__dict__["_json_schema"] = self._build_json_schema()
        return cached

    def _build_json_schema(self) -> dict:
        properties, required = {}, []
        for spec_field in self.answer_fields():
            schema = spec_field.field_type.json_schema(spec_field.type_options(required=True, language="mn"))
            if not (spec_field.required and spec_field.show_if is None):
                schema = spec_field.field_type.json_schema(spec_field.type_options(required=False, language="mn"))
            else:
                required.append(spec_field.key)
            schema["x-label-en"] = localized(spec_field.label, "en")
            properties[spec_field.key] = schema
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def describe(self, language: str | None = None) -> dict:
        """The form as the headless API returns it: steps, fields, validation, conditions."""
        answer_schema = self.json_schema()["properties"]
        steps = []
        for step in self.steps:
            fields = []
            for spec_field in step.fields:
                options = spec_field.type_options(language=language)
                item = {
                    "key": spec_field.key,
                    "type": spec_field.type,
                    "label": options.pop("label"),
                    "help_text": options.pop("help_text", ""),
                    "required": options.pop("required"),
                    "required_if": spec_field.required_if.as_json() if spec_field.required_if else None,
                    "show_if": spec_field.show_if.as_json() if spec_field.show_if else None,
                    "options": options,
                }
                if spec_field.has_answer:
                    item["schema"] = answer_schema[spec_field.key]
                fields.append(item)
            steps.append(
                {
                    "key": step.key,
                    "title": localized(step.title, language),
                    "skip_if": step.skip_if.as_json() if step.skip_if else None,
                    "fields": fields,
                }
            )
        return {"steps": steps}
