"""The form builder's national field types: validators (property tests) and the field-type registry."""

import datetime
import json
import re

import phonenumbers
import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from form_builder import field_types, validators
from form_builder.field_types import FIELD_TYPES, FieldOptionsError, UnknownFieldType, get_field_type
from form_builder.validators import (
    LATIN_LOOKALIKES,
    REGISTER_LETTERS,
    RegisterNumber,
    validate_company_number,
    validate_mongolian_phone,
    validate_register_number,
)

# Modest example counts (Hypothesis keeps its example database in .hypothesis/, which it git-ignores itself).
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TODAY = datetime.date(2025, 6, 15)


def error_of(func, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(*args, **kwargs)
    error = info.value
    # A form field's validators wrap their error in a list: unwrap a single one to see its code.
    return error.error_list[0] if not hasattr(error, "code") and len(error.error_list) == 1 else error


# -- register numbers: properties ---------------------------------------------------------------

birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2099, 12, 31))
letters = st.text(alphabet=REGISTER_LETTERS, min_size=2, max_size=2)


def encode(letter_pair: str, born: datetime.date, sex_digit: int, check_digit: int) -> str:
    month = born.month + (20 if born.year >= 2000 else 0)
    return f"{letter_pair}{born.year % 100:02d}{month:02d}{born.day:02d}{sex_digit}{check_digit}"


@PROPERTY
@given(letters, birth_dates.filter(lambda d: d <= TODAY), st.integers(0, 9), st.integers(0, 9))
def test_valid_register_numbers_round_trip(letter_pair, born, sex_digit, check_digit):
    number = encode(letter_pair, born, sex_digit, check_digit)
    result = validate_register_number(number, today=TODAY)
    assert result == RegisterNumber(
        normalized=number,
        letters=letter_pair,
        birth_date=born,
        sex="male" if sex_digit % 2 else "female",
    )
    # Spaces and lower case are tolerated, and the result is the same.
    spaced = f" {number[:2].lower()} {number[2:4]} {number[4:6]} {number[6:8]} {number[8:]} "
    assert validate_register_number(spaced, today=TODAY) == result


@PROPERTY
@given(birth_dates.filter(lambda d: d > TODAY), letters, st.integers(0, 9))
def test_future_birth_dates_are_rejected(born, letter_pair, digit):
    error = error_of(validate_register_number, encode(letter_pair, born, digit, digit), today=TODAY)
    assert error.code == "birth_date_future"


@PROPERTY
@given(
    letters,
    st.integers(0, 99),
    st.integers(0, 99).filter(lambda m: not (1 <= m <= 12 or 21 <= m <= 32)),
    st.integers(1, 28),
)
def test_impossible_months_are_rejected(letter_pair, yy, mm, dd):
    error = error_of(validate_register_number, f"{letter_pair}{yy:02d}{mm:02d}{dd:02d}12", today=TODAY)
    assert error.code == "birth_date"


@PROPERTY
@given(st.sampled_from(sorted(LATIN_LOOKALIKES)), st.sampled_from(sorted(LATIN_LOOKALIKES)), st.booleans())
def test_latin_lookalikes_are_normalised(first, second, lower):
    typed = first + second
    typed = typed.lower() if lower else typed
    result = validate_register_number(f"{typed}90010112", today=TODAY)
    assert result.letters == LATIN_LOOKALIKES[first] + LATIN_LOOKALIKES[second]
    assert result.normalized == f"{result.letters}90010112"
    assert result.normalized.isascii() is False


@PROPERTY
@given(st.one_of(st.text(max_size=30), st.text(alphabet="АБУҮӨЁABY0123456789 ", max_size=14)))
def test_any_string_gives_a_register_number_or_a_validation_error(text):
    try:
        result = validate_register_number(text, today=TODAY)
    except ValidationError as error:
        assert error.code in {"format", "birth_date", "birth_date_future"}
        assert isinstance(str(error.messages[0]), str)
    else:
        assert result.normalized == validators.normalize_register_number(text)
        assert len(result.normalized) == 10 and result.normalized[2:].isdigit()


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("УБ99010112", ("УБ99010112", datetime.date(1999, 1, 1), "male")),
        ("уб99010102", ("УБ99010102", datetime.date(1999, 1, 1), "female")),
        ("ЁӨ05322101", ("ЁӨ05322101", datetime.date(2005, 12, 21), "female")),
        ("AA00290208", ("АА00290208", datetime.date(2000, 9, 2), "female")),  # Latin A → Cyrillic А
        ("YP 88 02 29 91", ("УР88022991", datetime.date(1988, 2, 29), "male")),
    ],
)
def test_register_number_examples(typed, expected):
    result = validate_register_number(typed, today=TODAY)
    assert (result.normalized, result.birth_date, result.sex) == expected
    assert str(result) == expected[0]


@pytest.mark.parametrize(
    "typed, code",
    [
        ("", "format"),
        (None, "format"),
        (99010112, "format"),
        ("У99010112", "format"),  # one letter
        ("УБ9901011", "format"),  # seven digits
        ("УБ990101123", "format"),
        ("UБ99010112", "format"),  # U is not a look-alike of any Cyrillic capital
        ("УБ٩٩010112", "format"),  # Arabic-Indic digits
        ("УБ99130112", "birth_date"),  # month 13
        ("УБ99000112", "birth_date"),
        ("УБ99020012", "birth_date"),  # day 0
        ("УБ89022912", "birth_date"),  # 1989 is not a leap year
        ("УБ25320112", "birth_date_future"),  # 2025-12-01 after TODAY
        ("ЙЫ" + "9" * 100, "format"),
    ],
)
def test_register_number_errors(typed, code):
    assert error_of(validate_register_number, typed, today=TODAY).code == code


def test_register_number_uses_the_local_date_by_default():
    assert validate_register_number("УБ99010112").birth_date == datetime.date(1999, 1, 1)
    next_year = datetime.date.today().year + 1
    future = f"УБ{next_year % 100:02d}{1 + 20:02d}0112"
    assert error_of(validate_register_number, future).code == "birth_date_future"


# -- company numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["5296722", " 529 6722 ", 5296722])
def test_company_number_valid(typed):
    assert validate_company_number(typed) == "5296722"


@pytest.mark.parametrize("typed", ["", "529672", "52967220", "529672a", None, True, "５２９６７２２"])
def test_company_number_invalid(typed):
    assert error_of(validate_company_number, typed).code == "format"


# -- phones: properties ------------------------------------------------------------------------

MN_MOBILE_PREFIXES = ["88", "89", "85", "86", "80", "99", "95", "94", "91", "90", "96", "66", "69", "55", "72"]


def mobile_numbers():
    """National mobile numbers that libphonenumber's metadata says are valid for MN."""
    return st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(MN_MOBILE_PREFIXES),
        st.from_regex(r"[0-9]{6}", fullmatch=True),
    ).filter(
        lambda national: phonenumbers.number_type(phonenumbers.parse(national, "MN"))
        == phonenumbers.PhoneNumberType.MOBILE
    )


FORMATS = [
    lambda n: n,
    lambda n: f"{n[:4]} {n[4:]}",
    lambda n: f"+976 {n[:4]} {n[4:]}",
    lambda n: f"+976{n}",
    lambda n: f"976-{n[:2]}-{n[2:4]}-{n[4:6]}-{n[6:]}",
    lambda n: f"(+976) {n[:4]}-{n[4:]}",
    lambda n: f"00976 {n}",
    lambda n: f" {n[:2]}.{n[2:4]}.{n[4:6]}.{n[6:]} ",
]


@PROPERTY
@given(mobile_numbers(), st.sampled_from(FORMATS), st.sampled_from(FORMATS))
def test_mobile_numbers_in_any_format_normalise_to_the_same_e164(national, format_a, format_b):
    expected = f"+976{national}"
    assert validate_mongolian_phone(format_a(national)) == expected
    assert validate_mongolian_phone(format_b(national)) == expected


@PROPERTY
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="+0123456789 -()./", max_size=25),
        st.from_regex(r"\+?(976)?[0-9 ]{1,14}", fullmatch=True),
    )
)
def test_any_string_gives_an_e164_number_or_a_validation_error(text):
    try:
        result = validate_mongolian_phone(text)
    except ValidationError as error:
        assert error.code in {"format", "country", "invalid", "phone_type"}
    else:
        assert result.startswith("+976")
        assert phonenumbers.is_valid_number(phonenumbers.parse(result))
        assert validate_mongolian_phone(result) == result


@pytest.mark.parametrize(
    "typed", ["+976 9911 2233", "99112233", "976-99-11-22-33", "+97699112233", "0097699112233", 99112233]
)
def test_phone_examples_from_the_brief(typed):
    assert validate_mongolian_phone(typed) == "+97699112233"


def test_fixed_line_numbers_are_accepted():
    assert validate_mongolian_phone("011 32 1234") == "+97611321234"
    assert validate_mongolian_phone("+976 11 32 1234") == "+97611321234"


@pytest.mark.parametrize(
    "typed, code",
    [
        ("", "format"),
        (None, "format"),
        (True, "format"),
        ("9911-ABCD", "format"),  # keypad letters are not a phone number here
        ("9911 2233 ext. 4", "format"),
        ("+976+99112233", "format"),
        ("9" * 80, "format"),
        ("+1 202 555 0123", "country"),
        ("+7 495 123 4567", "country"),
        ("12345", "invalid"),
        ("99112", "invalid"),
        ("+976 7512 3456", "phone_type"),  # VoIP range
    ],
)
def test_phone_errors(typed, code):
    assert error_of(validate_mongolian_phone, typed).code == code


# -- messages in both languages ----------------------------------------------------------------

ERRORS = [
    (validate_register_number, "bad"),
    (validate_register_number, "УБ99130112"),
    (validate_register_number, "УБ25320112"),  # born after TODAY
    (validate_company_number, "12"),
    (validate_mongolian_phone, "abc"),
    (validate_mongolian_phone, "+1 202 555 0123"),
    (validate_mongolian_phone, "12345"),
    (validate_mongolian_phone, "+976 7512 3456"),
]


@pytest.mark.parametrize("language", ["mn", "en"])
@pytest.mark.parametrize("func, typed", ERRORS)
def test_error_messages_are_translatable_strings(func, typed, language):
    with translation.override(language):
        error = error_of(func, typed, **({"today": TODAY} if func is validate_register_number else {}))
        message = error.messages[0]
        assert isinstance(message, str) and message


def test_error_messages_in_english():
    with translation.override("en"):
        assert error_of(validate_company_number, "12").messages == ["Enter a company register number of 7 digits."]
        assert error_of(validate_register_number, "УБ99130112").messages == [
            "The register number does not contain a valid birth date."
        ]
        assert error_of(validate_mongolian_phone, "+1 202 555 0123").messages == [
            "Enter a Mongolian phone number (+976)."
        ]


# -- the registry ------------------------------------------------------------------------------

EXPECTED_KEYS = {
    "short_text",
    "long_text",
    "number",
    "date",
    "email",
    "choice",
    "multiple_choice",
    "checkbox",
    "yes_no",
    "file",
    "register_number",
    "company_number",
    "phone_mn",
    "place",
    "heading",
}


def test_registry_has_every_type_under_its_key():
    assert set(FIELD_TYPES) == EXPECTED_KEYS
    for key, field_type in FIELD_TYPES.items():
        assert field_type.key == key
        assert get_field_type(key) is field_type
        with translation.override("en"):
            assert isinstance(str(field_type.label), str) and str(field_type.label)
        with translation.override("mn"):
            assert str(field_type.label)


@pytest.mark.parametrize("key", ["nope", "", None, ["short_text"]])
def test_unknown_field_type_is_a_clear_error(key):
    with pytest.raises(UnknownFieldType) as info:
        get_field_type(key)
    assert "unknown form field type" in str(info.value) and "short_text" in str(info.value)
    assert isinstance(info.value, KeyError)


CHOICES = {"choices": ["a", ("b", "Bee"), {"value": "c", "label": "Sea"}]}
SAMPLE_OPTIONS = {
    "short_text": {},
    "long_text": {},
    "number": {},
    "date": {},
    "email": {},
    "choice": CHOICES,
    "multiple_choice": CHOICES,
    "checkbox": {},
    "yes_no": {},
    "file": {},
    "register_number": {},
    "company_number": {},
    "phone_mn": {},
    "place": {},
    "heading": {},
}


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
@pytest.mark.parametrize("required", [True, False])
def test_every_schema_is_json_and_optional_answers_allow_null(key, required):
    field_type = get_field_type(key)
    options = {**SAMPLE_OPTIONS[key], "required": required, "label": "Q", "help_text": "Help"}
    schema = field_type.json_schema(options)
    with translation.override("en"):
        json.dumps(schema)
    assert schema["title"] == "Q" and schema["description"] == "Help"
    nullable = "null" in schema.get("type", []) if isinstance(schema.get("type"), list) else False
    if key in ("checkbox", "heading"):
        assert not isinstance(schema["type"], list)
    else:
        assert nullable is (not required)


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS - {"heading", "place"}))
def test_every_form_field_is_a_django_field_and_renders(key):
    field = get_field_type(key).form_field({**SAMPLE_OPTIONS[key], "required": True, "label": "Q"})
    assert isinstance(field, forms.Field)
    assert field.required and field.label == "Q"
    form_class = type("F", (forms.Form,), {"answer": field})
    assert 'name="answer' in str(form_class()["answer"])


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS - {"heading", "checkbox"}))
def test_required_answers_must_be_given(key):
    error = error_of(get_field_type(key).clean, None, {**SAMPLE_OPTIONS[key], "required": True})
    assert error.code == "required"


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS - {"heading", "checkbox", "place"}))
def test_optional_empty_answers_are_stored_as_none(key):
    assert get_field_type(key).clean("", SAMPLE_OPTIONS[key]) is None
    assert get_field_type(key).clean(None, SAMPLE_OPTIONS[key]) is None


def test_heading_has_no_field_and_no_answer():
    heading = get_field_type("heading")
    assert heading.has_answer is False
    assert heading.form_field({"label": "Section"}) is None
    assert heading.clean("anything") is None
    assert heading.json_schema() == {"type": "null"}


# -- each type's clean -------------------------------------------------------------------------


def test_text_types():
    short = get_field_type("short_text")
    assert short.clean("  hello ", {"required": True}) == "hello"
    assert error_of(short.clean, "x" * 256).code == "max_length"
    assert error_of(short.clean, "abcd", {"max_length": 3}).code == "max_length"
    assert error_of(short.clean, "ab", {"min_length": 3}).code == "min_length"
    assert short.json_schema({"required": True, "max_length": 20, "min_length": 2}) == {
        "type": "string",
        "maxLength": 20,
        "minLength": 2,
    }
    long = get_field_type("long_text")
    assert long.clean("line 1\nline 2") == "line 1\nline 2"
    assert isinstance(long.form_field().widget, forms.Textarea)
    assert long.json_schema({"required": True})["maxLength"] == 5000


def test_number_type():
    number = get_field_type("number")
    assert number.clean("42") == 42
    assert number.clean(7, {"min": 0, "max": 10}) == 7
    assert error_of(number.clean, "11", {"max": 10}).code == "max_value"
    assert error_of(number.clean, -1, {"min": 0}).code == "min_value"
    assert error_of(number.clean, "1.5").code == "invalid"
    assert error_of(number.clean, "abc").code == "invalid"
    assert number.clean("1.25", {"decimal_places": 2}) == 1.25
    assert number.clean("3.00", {"decimal_places": 2}) == 3
    assert error_of(number.clean, "1.255", {"decimal_places": 2}).code == "max_decimal_places"
    assert number.json_schema({"required": True, "min": 0, "max": 10}) == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
    }
    assert number.json_schema({"decimal_places": 1})["type"] == ["number", "null"]


def test_date_type():
    date = get_field_type("date")
    assert date.clean("2024-02-29") == "2024-02-29"
    assert date.clean(datetime.date(2024, 5, 1)) == "2024-05-01"
    assert error_of(date.clean, "2023-02-29").code == "invalid"
    assert error_of(date.clean, "2020-01-01", {"min": "2021-01-01"}).code == "min_value"
    assert error_of(date.clean, "2999-01-01", {"max": "today"}).code == "max_value"
    assert date.json_schema({"required": True, "min": "2021-01-01"}) == {
        "type": "string",
        "format": "date",
        "formatMinimum": "2021-01-01",
    }
    with pytest.raises(FieldOptionsError):
        date.form_field({"min": "yesterday-ish"})


def test_email_type():
    email = get_field_type("email")
    assert email.clean(" citizen@example.mn ") == "citizen@example.mn"
    assert error_of(email.clean, "not an email").code == "invalid"
    assert email.json_schema({"required": True})["format"] == "email"


def test_choice_type():
    choice = get_field_type("choice")
    assert choice.clean("b", CHOICES) == "b"
    assert error_of(choice.clean, "z", CHOICES).code == "invalid_choice"
    assert choice.json_schema({**CHOICES, "required": True}) == {"type": "string", "enum": ["a", "b", "c"]}
    field = choice.form_field(CHOICES)
    assert list(field.choices) == [("", "---------"), ("a", "a"), ("b", "Bee"), ("c", "Sea")]
    assert isinstance(choice.form_field({**CHOICES, "widget": "radio"}).widget, forms.RadioSelect)
    with pytest.raises(FieldOptionsError):
        choice.form_field({})
    with pytest.raises(FieldOptionsError):
        choice.json_schema({"choices": ["a", "a"]})


def test_multiple_choice_type():
    multiple = get_field_type("multiple_choice")
    assert multiple.clean(["c", "a", "c"], CHOICES) == ["a", "c"]  # choice order, no duplicates
    assert multiple.clean("b", CHOICES) == ["b"]
    assert multiple.clean([], CHOICES) is None
    assert error_of(multiple.clean, ["a", "z"], CHOICES).code == "invalid_choice"
    with translation.override("en"):
        error = error_of(multiple.clean, ["a"], {**CHOICES, "min": 2})
        assert error.code == "min_count" and error.messages == ["Choose at least 2 options."]
        error = error_of(multiple.clean, ["a", "b", "c"], {**CHOICES, "max": 1})
        assert error.code == "max_count" and error.messages == ["Choose at most 1 option."]
    schema = multiple.json_schema({**CHOICES, "required": True, "min": 1, "max": 2})
    assert schema == {
        "type": "array",
        "items": {"type": "string", "enum": ["a", "b", "c"]},
        "uniqueItems": True,
        "minItems": 1,
        "maxItems": 2,
    }


def test_checkbox_type():
    checkbox = get_field_type("checkbox")
    assert checkbox.clean(True) is True
    assert checkbox.clean("on") is True
    assert checkbox.clean("") is False
    assert checkbox.clean(False) is False
    assert error_of(checkbox.clean, False, {"required": True}).code == "required"
    assert checkbox.json_schema({"required": True}) == {"type": "boolean", "const": True}
    assert checkbox.json_schema() == {"type": "boolean"}


@pytest.mark.parametrize(
    "value, expected", [(True, True), (False, False), ("yes", True), ("no", False), ("true", True), ("0", False)]
)
def test_yes_no_type(value, expected):
    assert get_field_type("yes_no").clean(value, {"required": True}) is expected


def test_yes_no_type_rejects_other_answers():
    yes_no = get_field_type("yes_no")
    assert error_of(yes_no.clean, "maybe").code == "invalid_choice"
    assert yes_no.json_schema() == {"type": ["boolean", "null"]}
    assert isinstance(yes_no.form_field().widget, forms.RadioSelect)


def test_file_type_declares_its_limits():
    file = get_field_type("file")
    schema = file.json_schema({"required": True, "max_size_mb": 2, "allowed_types": [".PDF", "png"]})
    assert schema["x-max-size-mb"] == 2 and schema["x-allowed-types"] == ["pdf", "png"]
    assert schema["properties"]["size"]["maximum"] == 2 * 1024 * 1024
    field = file.form_field({"allowed_types": ["pdf"]})
    assert isinstance(field, forms.FileField) and field.widget.attrs["accept"] == ".pdf"
    upload = SimpleUploadedFile("proof.pdf", b"%PDF-1.4 ...", content_type="image/png")  # the content decides
    assert file.clean(upload, {"allowed_types": ["pdf"]}) == {
        "name": "proof.pdf",
        "size": 12,
        "content_type": "application/pdf",
    }
    wrong = SimpleUploadedFile("photo.exe", b"MZ", content_type="application/octet-stream")
    assert error_of(file.clean, wrong).code == "invalid_extension"
    big = SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 1), content_type="application/pdf")
    with translation.override("en"):
        error = error_of(file.clean, big, {"max_size_mb": 1})
        assert error.code == "file_size" and error.messages == ["The file is too large: at most 1 MB is allowed."]


def test_national_identifier_types():
    register = get_field_type("register_number")
    assert register.clean(" yb 99 01 01 12 ") == "УВ99010112"
    assert error_of(register.clean, "УБ99130112").code == "birth_date"
    assert register.json_schema({"required": True}) == {"type": "string", "pattern": r"^[А-ЯЁӨҮ]{2}[0-9]{8}$"}
    company = get_field_type("company_number")
    assert company.clean("529 6722") == "5296722"
    assert company.clean(5296722) == "5296722"
    assert error_of(company.clean, "12").code == "format"
    phone = get_field_type("phone_mn")
    assert phone.clean("9911 2233") == "+97699112233"
    assert error_of(phone.clean, "+1 202 555 0123").code == "country"
    assert phone.form_field().widget.input_type == "tel"
    schema_pattern = phone.json_schema({"required": True})["pattern"]
    assert re.fullmatch(schema_pattern, phone.clean("011 32 1234"))


def test_form_field_validation_in_a_django_form():
    fields = {
        "register": get_field_type("register_number").form_field({"required": True}),
        "phone": get_field_type("phone_mn").form_field({"required": True}),
    }
    form_class = type("F", (forms.Form,), fields)
    form = form_class(data={"register": "ub99010112", "phone": "99112233"})
    assert not form.is_valid() and form.errors["register"] and "phone" not in form.errors
    form = form_class(data={"register": "уб 99 01 01 12", "phone": "99112233"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"register": "УБ99010112", "phone": "+97699112233"}


# -- place (needs the aimag and soum tables) -----------------------------------------------------


@pytest.fixture
def places(db):
    from service_pages.models import Aimag, Soum

    darkhan = Aimag.objects.get_or_create(code="45", defaults={"name_mn": "Дархан-Уул", "name_en": "Darkhan-Uul"})[0]
    capital = Aimag.objects.get_or_create(code="11", defaults={"name_mn": "Улаанбаатар", "name_en": "Ulaanbaatar"})[0]
    soum = Soum.objects.filter(aimag=darkhan).first() or Soum.objects.create(
        code="4501", aimag=darkhan, name_mn="Дархан", name_en="Darkhan"
    )
    district = Soum.objects.filter(aimag=capital).first() or Soum.objects.create(
        code="1101", aimag=capital, kind="district", name_mn="Багануур", name_en="Baganuur"
    )
    return {"aimag": darkhan.code, "soum": soum.code, "capital": capital.code, "district": district.code}


@pytest.mark.django_db
def test_place_accepts_a_soum_of_its_aimag(places):
    place = get_field_type("place")
    value = {"aimag": places["aimag"], "soum": places["soum"], "bag": "  3-р   баг "}
    assert place.clean(value, {"required": True}) == {
        "aimag": places["aimag"],
        "soum": places["soum"],
        "bag": "3-р баг",
    }
    assert place.clean([places["capital"], places["district"], ""]) == {
        "aimag": places["capital"],
        "soum": places["district"],
        "bag": "",
    }
    assert place.clean({"aimag": int(places["aimag"]), "soum": int(places["soum"])}) == {
        "aimag": places["aimag"],
        "soum": places["soum"],
        "bag": "",
    }
    assert place.clean(None) is None
    assert place.clean({}) is None


@pytest.mark.django_db
def test_place_errors(places):
    place = get_field_type("place")
    cases = [
        ({"aimag": places["aimag"], "soum": places["district"]}, "soum_aimag"),
        ({"aimag": "99", "soum": places["soum"]}, "invalid_aimag"),
        ({"aimag": places["aimag"], "soum": "999999"}, "invalid_soum"),
        ({"aimag": places["aimag"]}, "incomplete"),
        ({"aimag": places["aimag"], "soum": places["soum"], "extra": 1}, "invalid"),
        ("45/4501", "invalid"),
        ({"aimag": places["aimag"], "soum": places["soum"], "bag": "б" * 101}, "max_length"),
    ]
    for value, code in cases:
        error = error_of(place.clean, value)
        codes = {e.code for e in error.error_list}
        assert code in codes, (value, codes)
    assert error_of(place.clean, None, {"required": True}).code == "required"
    with translation.override("en"):
        error = error_of(place.clean, {"aimag": places["aimag"], "soum": places["district"]})
        assert error.messages == ["The soum or district is not in the chosen aimag."]
    with translation.override("mn"):
        assert isinstance(error_of(place.clean, {"aimag": "99", "soum": "1"}).messages[0], str)


@pytest.mark.django_db
def test_place_form_field_renders_the_places(places):
    field = get_field_type("place").form_field({"required": True, "label": "Where"})
    form_class = type("F", (forms.Form,), {"place": field})
    html = str(form_class()["place"])
    assert 'name="place_0"' in html and 'name="place_1"' in html and 'name="place_2"' in html
    assert f'value="{places["soum"]}"' in html
    form = form_class(data={"place_0": places["aimag"], "place_1": places["soum"], "place_2": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["place"] == {"aimag": places["aimag"], "soum": places["soum"], "bag": ""}
    schema = get_field_type("place").json_schema({"required": True})
    assert schema["required"] == ["aimag", "soum", "bag"] and schema["additionalProperties"] is False


def test_module_exports():
    assert field_types.get_field_type is get_field_type
    assert issubclass(FieldOptionsError, ValueError)
