"""The field types of the form builder: one registry used by the HTML forms and the JSON API.

A form definition lists fields as ``{"type": key, "options": {...}}``. For each ``key`` the
:class:`FieldType` here gives

- ``json_schema(options)``: the JSON-Schema fragment of one answer (API clients, agencies),
  describing the *stored* (normalized) value; optional answers also allow ``null``;
- ``form_field(options)``: the ``django.forms.Field`` that validates a posted answer (``None`` for
  types without an answer, such as ``heading``);
- ``clean(value, options)``: validate one answer (from a form post or JSON) through that form field
  and return the normalized stored value, JSON-serializable (``None`` when an optional answer
  is left empty); raises ``django.core.exceptions.ValidationError``.

``options`` is a plain dict. Common keys: ``required`` (default ``False``), ``label``,
``help_text``; per type: ``max_length``, ``min_length``, ``min`` / ``max`` (numbers, dates, number of
choices), ``decimal_places``, ``choices``, ``max_size_mb``, ``allowed_types``.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import (
    FileExtensionValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from service_pages.models import Aimag, Soum

from . import validators
from .uploads import ContentTypeValidator

EMPTY_VALUES = (None, "", [], (), {})


class UnknownFieldType(KeyError):
    """``get_field_type()`` was given a key that is not in ``FIELD_TYPES``."""

    def __init__(self, key):
        super().__init__(key)
        self.key = key

    def __str__(self):
        return f"unknown form field type {self.key!r}; known types: {', '.join(sorted(FIELD_TYPES))}"


class FieldOptionsError(ValueError):
    """The options of a field in a form definition are unusable (a mistake of the form's author)."""


def _options(field_options) -> dict:
    return dict(field_options or {})


class FieldType:
    """Base class: a kind of question on a form. Subclasses set ``key`` and ``label``."""

    key: str = ""
    label = ""
    #: False for layout-only types (``heading``): no form field, no stored answer.
    has_answer = True

    # -- JSON Schema ------------------------------------------------------------------------
    def base_schema(self, options: dict) -> dict:
        """The schema of a non-empty answer; subclasses override."""
        return {"type": "string"}

    def json_schema(self, field_options=None) -> dict:
        options = _options(field_options)
        schema = self.base_schema(options)
        if options.get("label"):
            schema = {"title": str(options["label"]), **schema}
        if options.get("help_text"):
            schema["description"] = str(options["help_text"])
        if self.has_answer and not options.get("required", False):
            schema = _nullable(schema)
        return schema

    # -- Django form field ------------------------------------------------------------------
    def field_kwargs(self, options: dict) -> dict:
        kwargs = {"required": bool(options.get("required", False))}
        if options.get("label"):
            kwargs["label"] = options["label"]
        if options.get("help_text"):
            kwargs["help_text"] = options["help_text"]
        return kwargs

    def form_field(self, field_options=None) -> forms.Field | None:
        raise NotImplementedError

    # -- stored value -----------------------------------------------------------------------
    def to_stored(self, cleaned):
        """The JSON-serializable stored value of a form field's cleaned value."""
        return None if cleaned in EMPTY_VALUES else cleaned

    def clean(self, value, field_options=None):
        field = self.form_field(field_options)
        if field is None:
            return None
        return self.to_stored(field.clean(value))

    def __repr__(self):
        return f"<{type(self).__name__} {self.key!r}>"


def _nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema:  # an enum without "type"
        return {**schema, "enum": [*schema["enum"], None]}
    return {"anyOf": [schema, {"type": "null"}]}


# -- text --------------------------------------------------------------------------------------


class ShortTextField(FieldType):
    key = "short_text"
    label = _("Short text")
    default_max_length = 255
    widget = forms.TextInput

    def _lengths(self, options):
        max_length = int(options.get("max_length") or self.default_max_length)
        min_length = options.get("min_length")
        return max_length, (int(min_length) if min_length else None)

    def base_schema(self, options):
        max_length, min_length = self._lengths(options)
        schema = {"type": "string", "maxLength": max_length}
        if min_length:
            schema["minLength"] = min_length
        return schema

    def form_field(self, field_options=None):
        options = _options(field_options)
        max_length, min_length = self._lengths(options)
        return forms.CharField(
            max_length=max_length, min_length=min_length, widget=self.widget, **self.field_kwargs(options)
        )


class LongTextField(ShortTextField):
    key = "long_text"
    label = _("Long text")
    default_max_length = 5000
    widget = forms.Textarea


class EmailFieldType(FieldType):
    key = "email"
    label = _("Email address")

    def base_schema(self, options):
        return {"type": "string", "format": "email", "maxLength": 254}

    def form_field(self, field_options=None):
        return forms.EmailField(max_length=254, **self.field_kwargs(_options(field_options)))


# -- numbers and dates -------------------------------------------------------------------------


MAX_NUMBER_TEXT = 32


def _reasonable_number(value):
    """Refuse numbers whose mere reading is costly ("1e300000", 10 000 digits) or not finite."""
    if isinstance(value, bool):
        raise ValidationError(_("Enter a number."), code="invalid")
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e15):
        raise ValidationError(_("Enter a number."), code="invalid")
    if isinstance(value, int) and abs(value) > 10**15:
        raise ValidationError(_("Enter a number."), code="invalid")
    if isinstance(value, str) and (len(value) > MAX_NUMBER_TEXT or "e" in value.lower()):
        raise ValidationError(_("Enter a number."), code="invalid")
    return value


class _SafeIntegerField(forms.IntegerField):
    def to_python(self, value):
        return super().to_python(_reasonable_number(value))


class _SafeDecimalField(forms.DecimalField):
    def to_python(self, value):
        return super().to_python(_reasonable_number(value))


class NumberField(FieldType):
    """A whole number, or a decimal one with ``decimal_places`` (stored as a JSON number)."""

    key = "number"
    label = _("Number")

    def base_schema(self, options):
        schema = {"type": "number" if options.get("decimal_places") else "integer"}
        if options.get("min") is not None:
            schema["minimum"] = options["min"]
        if options.get("max") is not None:
            schema["maximum"] = options["max"]
        return schema

    def form_field(self, field_options=None):
        options = _options(field_options)
        kwargs = self.field_kwargs(options)
        if options.get("min") is not None:
            kwargs["min_value"] = options["min"]
        if options.get("max") is not None:
            kwargs["max_value"] = options["max"]
        if options.get("decimal_places"):
            return _SafeDecimalField(decimal_places=int(options["decimal_places"]), **kwargs)
        return _SafeIntegerField(**kwargs)

    def to_stored(self, cleaned):
        if cleaned is None:
            return None
        if isinstance(cleaned, Decimal):
            return int(cleaned) if cleaned == cleaned.to_integral_value() else float(cleaned)
        return cleaned


def _date_option(value, name):
    """``min`` / ``max`` of a date field: an ISO date, a ``datetime.date`` or ``"today"``."""
    if value in (None, ""):
        return None
    if value == "today":
        return timezone.localdate()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise FieldOptionsError(f"date option {name!r} must be an ISO date or 'today', not {value!r}") from None


class DateFieldType(FieldType):
    """A calendar date, stored as an ISO string ("2024-05-01")."""

    key = "date"
    label = _("Date")

    def base_schema(self, options):
        schema = {"type": "string", "format": "date"}
        low, high = _date_option(options.get("min"), "min"), _date_option(options.get("max"), "max")
        if low:
            schema["formatMinimum"] = low.isoformat()
        if high:
            schema["formatMaximum"] = high.isoformat()
        return schema

    def form_field(self, field_options=None):
        options = _options(field_options)
        field_validators = []
        low, high = _date_option(options.get("min"), "min"), _date_option(options.get("max"), "max")
        if low:
            field_validators.append(MinValueValidator(low))
        if high:
            field_validators.append(MaxValueValidator(high))
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            validators=field_validators,
            **self.field_kwargs(options),
        )

    def to_stored(self, cleaned):
        return cleaned.isoformat() if cleaned else None


# -- choices -----------------------------------------------------------------------------------


def _choices(options) -> list[tuple[str, str]]:
    """``choices`` as (value, label) pairs; items may be strings, pairs or {"value", "label"}."""
    raw = options.get("choices")
    if not raw:
        raise FieldOptionsError("a choice field needs a non-empty 'choices' list")
    pairs = []
    for item in raw:
        if isinstance(item, dict):
            value, label = item.get("value"), item.get("label", item.get("value"))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            value, label = item
        else:
            value = label = item
        if value in (None, ""):
            raise FieldOptionsError(f"choice without a value: {item!r}")
        pairs.append((str(value), str(label)))
    values = [value for value, _label in pairs]
    if len(set(values)) != len(values):
        raise FieldOptionsError("choice values must be unique")
    return pairs


class ChoiceFieldType(FieldType):
    """One of the given choices (a drop-down list; ``"widget": "radio"`` for radio buttons)."""

    key = "choice"
    label = _("Choice")

    def base_schema(self, options):
        return {"type": "string", "enum": [value for value, _label in _choices(options)]}

    def form_field(self, field_options=None):
        options = _options(field_options)
        widget = forms.RadioSelect if options.get("widget") == "radio" else forms.Select
        choices = _choices(options)
        if widget is forms.Select:  # an empty first entry, so that nothing is chosen by default
            choices = [("", "---------"), *choices]
        return forms.ChoiceField(choices=choices, widget=widget, **self.field_kwargs(options))


class MultipleChoiceFieldType(FieldType):
    """Any number of the given choices (``min`` / ``max`` bound how many), stored as a list."""

    key = "multiple_choice"
    label = _("Multiple choice")

    def base_schema(self, options):
        schema = {
            "type": "array",
            "items": {"type": "string", "enum": [value for value, _label in _choices(options)]},
            "uniqueItems": True,
        }
        if options.get("min"):
            schema["minItems"] = int(options["min"])
        if options.get("max"):
            schema["maxItems"] = int(options["max"])
        return schema

    def form_field(self, field_options=None):
        options = _options(field_options)
        return ChoiceCountField(
            choices=_choices(options),
            widget=forms.CheckboxSelectMultiple,
            min_count=int(options.get("min") or 0),
            max_count=int(options.get("max") or 0),
            **self.field_kwargs(options),
        )

    def to_stored(self, cleaned):
        return list(cleaned) or None


class ChoiceCountField(forms.MultipleChoiceField):
    """``MultipleChoiceField`` bounding the number of choices; keeps the order of the choices."""

    default_error_messages = {
        "min_count": ngettext_lazy("Choose at least %(limit)d option.", "Choose at least %(limit)d options.", "limit"),
        "max_count": ngettext_lazy("Choose at most %(limit)d option.", "Choose at most %(limit)d options.", "limit"),
    }

    def __init__(self, *, min_count=0, max_count=0, **kwargs):
        super().__init__(**kwargs)
        self.min_count, self.max_count = min_count, max_count

    def to_python(self, value):
        if isinstance(value, str):  # a single value sent by an API client
            value = [value] if value else []
        return super().to_python(value)

    def clean(self, value):
        chosen = set(super().clean(value))
        ordered = [str(choice) for choice, _label in self.choices if str(choice) in chosen]
        if ordered and self.min_count and len(ordered) < self.min_count:
            raise ValidationError(
                self.error_messages["min_count"],
                code="min_count",
                params={"limit": self.min_count},
            )
        if self.max_count and len(ordered) > self.max_count:
            raise ValidationError(
                self.error_messages["max_count"],
                code="max_count",
                params={"limit": self.max_count},
            )
        return ordered


class CheckboxFieldType(FieldType):
    """A single tick box; ``required`` means it must be ticked (consent). Stored as a boolean."""

    key = "checkbox"
    label = _("Checkbox")

    def base_schema(self, options):
        return {"type": "boolean"}

    def json_schema(self, field_options=None):
        options = _options(field_options)
        schema = super().json_schema({**options, "required": True})  # never null: unticked is false
        if options.get("required"):
            schema["const"] = True
        return schema

    def form_field(self, field_options=None):
        return forms.BooleanField(**self.field_kwargs(_options(field_options)))

    def to_stored(self, cleaned):
        return bool(cleaned)


class YesNoField(forms.TypedChoiceField):
    """Yes / No radio buttons; accepts booleans and "yes"/"no"/"true"/"false"/"1"/"0" too."""

    TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.RadioSelect)
        super().__init__(
            choices=[("true", _("Yes")), ("false", _("No"))], coerce=lambda v: v == "true", empty_value=None, **kwargs
        )

    def to_python(self, value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            text = value.strip().lower()
            if text in self.TRUE:
                return "true"
            if text in self.FALSE:
                return "false"
        return super().to_python(value)


class YesNoFieldType(FieldType):
    """A yes-or-no question, stored as a boolean (``None`` when left unanswered)."""

    key = "yes_no"
    label = _("Yes or no")

    def base_schema(self, options):
        return {"type": "boolean"}

    def form_field(self, field_options=None):
        return YesNoField(**self.field_kwargs(_options(field_options)))

    def to_stored(self, cleaned):
        return cleaned if isinstance(cleaned, bool) else None


# -- files -------------------------------------------------------------------------------------

DEFAULT_MAX_SIZE_MB = 10
DEFAULT_ALLOWED_TYPES = ("pdf", "jpg", "jpeg", "png")


class MaxFileSizeValidator:
    def __init__(self, max_size_mb):
        self.max_size_mb = max_size_mb

    def __call__(self, uploaded):
        if uploaded.size > self.max_size_mb * 1024 * 1024:
            raise ValidationError(
                _("The file is too large: at most %(max)s MB is allowed."),
                code="file_size",
                params={"max": self.max_size_mb},
            )

    def __eq__(self, other):
        return isinstance(other, MaxFileSizeValidator) and other.max_size_mb == self.max_size_mb


class FirstFailure:
    """Run validators in order and report only the first problem (a 300 MB "photo.exe" is refused
    for its extension, not also for its size and content)."""

    def __init__(self, *validators):
        self.validators = validators

    def __call__(self, value):
        for validator in self.validators:
            validator(value)

    def __eq__(self, other):
        return isinstance(other, FirstFailure) and other.validators == self.validators


class FileFieldType(FieldType):
    """An attached file, limited by ``max_size_mb`` and ``allowed_types`` (extensions).

    The type is judged by the file's content (:mod:`form_builder.uploads`), not by its name or the
    client's Content-Type. ``clean()`` returns the metadata ``{"name", "size", "content_type"}``
    the schema describes; the submission stores the file itself (``StoredFile``) and adds its
    ``id`` and ``sha256`` to that metadata.
    """

    key = "file"
    label = _("File")

    def _limits(self, options):
        max_size_mb = options.get("max_size_mb") or DEFAULT_MAX_SIZE_MB
        allowed = options.get("allowed_types") or DEFAULT_ALLOWED_TYPES
        return max_size_mb, [str(ext).lower().lstrip(".") for ext in allowed]

    def base_schema(self, options):
        max_size_mb, allowed = self._limits(options)
        return {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "size": {"type": "integer", "minimum": 0, "maximum": int(max_size_mb * 1024 * 1024)},
                "content_type": {"type": "string"},
                "id": {"type": "string", "format": "uuid"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            "required": ["name", "size", "content_type"],
            "x-max-size-mb": max_size_mb,
            "x-allowed-types": allowed,
        }

    def form_field(self, field_options=None):
        options = _options(field_options)
        max_size_mb, allowed = self._limits(options)
        field = forms.FileField(
            max_length=255,
            validators=[
                FirstFailure(FileExtensionValidator(allowed), MaxFileSizeValidator(max_size_mb), ContentTypeValidator(allowed))
            ],
            **self.field_kwargs(options),
        )
        field.widget.attrs["accept"] = ",".join(f".{ext}" for ext in allowed)
        return field

    def to_stored(self, cleaned):
        if not cleaned:
            return None
        return {
            "name": os.path.basename(cleaned.name),
            "size": cleaned.size,
            # The type its content was found to be (ContentTypeValidator), not what the client said.
            "content_type": getattr(cleaned, "sniffed_type", None) or "application/octet-stream",
        }


# -- national identifiers ----------------------------------------------------------------------


class _ValidatedCharField(forms.CharField):
    """A ``CharField`` whose non-empty value goes through ``normalize`` (may raise ValidationError)."""

    def __init__(self, *, normalize, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize

    def to_python(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super().to_python(value)

    def clean(self, value):
        value = super().clean(value)
        return value if value in self.empty_values else self.normalize(value)


class RegisterNumberFieldType(FieldType):
    """A citizen register number ("УБ99010112"); stored normalized (Cyrillic, no spaces)."""

    key = "register_number"
    label = _("Register number")

    def base_schema(self, options):
        return {"type": "string", "pattern": validators.REGISTER_NUMBER_PATTERN}

    def form_field(self, field_options=None):
        return _ValidatedCharField(
            normalize=lambda value: validators.validate_register_number(value).normalized,
            **self.field_kwargs(_options(field_options)),
        )


class CompanyNumberFieldType(FieldType):
    """A legal entity register number (7 digits)."""

    key = "company_number"
    label = _("Company register number")

    def base_schema(self, options):
        return {"type": "string", "pattern": validators.COMPANY_NUMBER_PATTERN}

    def form_field(self, field_options=None):
        return _ValidatedCharField(
            normalize=validators.validate_company_number,
            widget=forms.TextInput(attrs={"inputmode": "numeric"}),
            **self.field_kwargs(_options(field_options)),
        )


class PhoneMNFieldType(FieldType):
    """A Mongolian mobile or landline number, stored in E.164 ("+97699112233")."""

    key = "phone_mn"
    label = _("Phone number (Mongolia)")

    def base_schema(self, options):
        return {"type": "string", "pattern": validators.PHONE_MN_PATTERN}

    def form_field(self, field_options=None):
        return _ValidatedCharField(
            normalize=validators.validate_mongolian_phone,
            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            **self.field_kwargs(_options(field_options)),
        )


# -- place -------------------------------------------------------------------------------------

BAG_MAX_LENGTH = 100


def _aimag_choices():
    return [("", "---------"), *Aimag.objects.values_list("code", "name_mn")]


def _soum_choices():
    groups: dict[str, list] = {}
    for code, name, aimag_name in Soum.objects.values_list("code", "name_mn", "aimag__name_mn"):
        groups.setdefault(aimag_name, []).append((code, name))
    return [("", "---------"), *groups.items()]


class PlaceWidget(forms.MultiWidget):
    """Three inputs, each with its own visible label (screen readers name every part)."""

    template_name = "form_builder/widgets/place.html"
    part_labels = (_("Aimag or the capital"), _("Soum or district"), _("Bag or khoroo"))

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for subwidget, label in zip(context["widget"]["subwidgets"], self.part_labels, strict=False):
            subwidget["part_label"] = label
        return context

    def __init__(self, attrs=None):
        super().__init__(
            [forms.Select(choices=_aimag_choices), forms.Select(choices=_soum_choices), forms.TextInput()],
            attrs,
        )

    def decompress(self, value):
        if isinstance(value, dict):
            return [value.get("aimag"), value.get("soum"), value.get("bag")]
        return [None, None, None]


class PlaceField(forms.MultiValueField):
    """Aimag (or the capital) → soum (or district) → bag (free text, optional for now).

    Accepts the HTML widget's list ``[aimag, soum, bag]`` or a dict ``{"aimag", "soum", "bag"}``
    of codes; checks both codes exist in ``service_pages`` and that the soum is in the aimag.
    """

    default_error_messages = {
        "incomplete": _("Choose both the aimag and the soum or district."),
        "invalid_aimag": _("Choose an aimag or the capital from the list."),
        "invalid_soum": _("Choose a soum or district from the list."),
        "soum_aimag": _("The soum or district is not in the chosen aimag."),
    }

    def __init__(self, **kwargs):
        fields = (
            forms.CharField(max_length=6),
            forms.CharField(max_length=6),
            forms.CharField(max_length=BAG_MAX_LENGTH, required=False),
        )
        super().__init__(fields=fields, widget=PlaceWidget, require_all_fields=False, **kwargs)

    def clean(self, value):
        if isinstance(value, dict):
            unknown = set(value) - {"aimag", "soum", "bag"}
            if unknown:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = [value.get("aimag"), value.get("soum"), value.get("bag")]
        if isinstance(value, (list, tuple)):
            if len(value) != 3 or any(isinstance(part, (list, tuple, dict, bool)) for part in value):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = [str(part) if isinstance(part, int) else part for part in value]
            aimag, soum = value[0], value[1]
            given = [part for part in value if part not in self.empty_values]
            if given and (aimag in self.empty_values or soum in self.empty_values):
                # Django's own check would raise this message without a code.
                raise ValidationError(self.error_messages["incomplete"], code="incomplete")
        return super().clean(value)

    def compress(self, data_list):
        if not data_list:
            return None
        aimag_code, soum_code, bag = data_list
        if not Aimag.objects.filter(code=aimag_code).exists():
            raise ValidationError(self.error_messages["invalid_aimag"], code="invalid_aimag")
        soum = Soum.objects.filter(code=soum_code).values_list("aimag__code", flat=True).first()
        if soum is None:
            raise ValidationError(self.error_messages["invalid_soum"], code="invalid_soum")
        if soum != aimag_code:
            raise ValidationError(self.error_messages["soum_aimag"], code="soum_aimag")
        return {"aimag": aimag_code, "soum": soum_code, "bag": " ".join((bag or "").split())}


class PlaceFieldType(FieldType):
    """Where: aimag code, soum/district code (``service_pages.Aimag`` / ``Soum``) and bag name."""

    key = "place"
    label = _("Place (aimag, soum, bag)")

    def base_schema(self, options):
        return {
            "type": "object",
            "properties": {
                "aimag": {"type": "string", "maxLength": 4},
                "soum": {"type": "string", "maxLength": 6},
                "bag": {"type": "string", "maxLength": BAG_MAX_LENGTH},
            },
            "required": ["aimag", "soum", "bag"],
            "additionalProperties": False,
        }

    def form_field(self, field_options=None):
        return PlaceField(**self.field_kwargs(_options(field_options)))


# -- layout ------------------------------------------------------------------------------------


class HeadingFieldType(FieldType):
    """A section heading between questions: no answer, no form field."""

    key = "heading"
    label = _("Heading")
    has_answer = False

    def base_schema(self, options):
        return {"type": "null"}

    def form_field(self, field_options=None):
        return None


# -- registry ----------------------------------------------------------------------------------

FIELD_TYPES: dict[str, FieldType] = {
    field_type.key: field_type
    for field_type in (
        ShortTextField(),
        LongTextField(),
        NumberField(),
        DateFieldType(),
        EmailFieldType(),
        ChoiceFieldType(),
        MultipleChoiceFieldType(),
        CheckboxFieldType(),
        YesNoFieldType(),
        FileFieldType(),
        RegisterNumberFieldType(),
        CompanyNumberFieldType(),
        PhoneMNFieldType(),
        PlaceFieldType(),
        HeadingFieldType(),
    )
}


def get_field_type(key) -> FieldType:
    """The field type registered under ``key``; :class:`UnknownFieldType` if there is none."""
    try:
        return FIELD_TYPES[key]
    except (KeyError, TypeError):
        raise UnknownFieldType(key) from None
