"""Validators of Mongolian national identifiers, shared by the HTML forms and the JSON API.

Pure functions: each takes what a person typed (or an API client sent), raises
``django.core.exceptions.ValidationError`` (translatable message, stable ``code``) when it is not
acceptable and otherwise returns the normalized value that gets stored.

- Citizen register number (регистрийн дугаар): ``LL YY MM DD G C``, two Cyrillic capital letters
  and eight digits. The letters are the aimag/district and soum/khoroo code of first registration,
  ``YYMMDD`` the birth date (month + 20 for people born in 2000 or later), ``G`` the sex (odd =
  male, even = female) and ``C`` a check digit whose algorithm is not published, so it is not
  checked here (an online check is the XYP service's job). Sources:
  ``../shared/data/ids/mn_register_number.json``.
- Legal entity register number (улсын бүртгэлийн дугаар): seven digits.
- Phone numbers: parsed by libphonenumber (``phonenumbers``) for region MN, stored in E.164.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Inputs longer than this are rejected before any parsing (a form field, not a document).
MAX_INPUT_LENGTH = 64

# Latin letters typed by mistake for the Cyrillic capital they look like (after upper-casing).
# The project's rule list; ../shared/data/text/hunspell_mn_REP_latin_lookalikes.csv is the
# hunspell REP source (it maps Latin "Y" to "Ү" and lower-case "m"/"v" to "т"/"ү" for running
# text; for register numbers the keyboard slip Y → У is the one kept here).
LATIN_LOOKALIKES = {
    "A": "А",
    "B": "В",
    "E": "Е",
    "K": "К",
    "M": "М",
    "H": "Н",
    "O": "О",
    "P": "Р",
    "C": "С",
    "T": "Т",
    "X": "Х",
    "Y": "У",
}
_LATIN_TO_CYRILLIC = str.maketrans(LATIN_LOOKALIKES)

# The letters a register number may use: А-Я, Ё, Ө, Ү (as in e-Mongolia's own check).
REGISTER_LETTERS = "АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ"
REGISTER_NUMBER_PATTERN = r"^[А-ЯЁӨҮ]{2}[0-9]{8}$"
_REGISTER_NUMBER_RE = re.compile(r"([А-ЯЁӨҮ]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9])([0-9])")
COMPANY_NUMBER_PATTERN = r"^[0-9]{7}$"
_COMPANY_NUMBER_RE = re.compile(r"[0-9]{7}")
# E.164 for Mongolia: +976 then the national significant number (8 to 10 digits).
PHONE_MN_PATTERN = r"^\+976[0-9]{8,10}$"
# What a person may type around the digits of a phone number (no letters, no extensions).
_PHONE_INPUT_RE = re.compile(r"[+0-9 ().\-/]+")
# "00 976 ..." (the international prefix of most countries) is read as "+976 ...".
_DOUBLE_ZERO_976_RE = re.compile(r"^\(?00 ?(?=976)")
_ACCEPTED_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)

MALE = "male"
FEMALE = "female"


@dataclass(frozen=True)
class RegisterNumber:
    """A citizen register number that passed :func:`validate_register_number`."""

    normalized: str  # e.g. "УБ99010112"
    letters: str  # e.g. "УБ"
    birth_date: datetime.date
    sex: str  # MALE or FEMALE

    def __str__(self):
        return self.normalized


def _strip_spaces(value: str) -> str:
    return "".join(unicodedata.normalize("NFC", value).split())


def normalize_register_number(value: str) -> str:
    """Spaces removed, upper-cased, Latin look-alikes replaced by their Cyrillic letter.

    Does not validate: :func:`validate_register_number` does.
    """
    return _strip_spaces(value).upper().translate(_LATIN_TO_CYRILLIC)


def validate_register_number(value, *, today: datetime.date | None = None) -> RegisterNumber:
    """Validate a Mongolian citizen register number; return it normalized with what it encodes.

    ``today`` (default: the local date) bounds the birth date, which may not be in the future.
    """
    format_error = ValidationError(
        _("Enter a register number: two Cyrillic letters followed by eight digits."), code="format"
    )
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
        raise format_error
    normalized = normalize_register_number(value)
    match = _REGISTER_NUMBER_RE.fullmatch(normalized)
    if match is None:
        raise format_error
    letters, yy, mm, dd, sex_digit, _check = match.groups()
    month = int(mm)
    if 1 <= month <= 12:
        year = 1900 + int(yy)
    elif 21 <= month <= 32:
        year, month = 2000 + int(yy), month - 20
    else:
        raise ValidationError(_("The register number does not contain a valid birth date."), code="birth_date")
    try:
        birth_date = datetime.date(year, month, int(dd))
    except ValueError:
        raise ValidationError(
            _("The register number does not contain a valid birth date."), code="birth_date"
        ) from None
    if birth_date > (today or timezone.localdate()):
        raise ValidationError(_("The birth date in the register number is in the future."), code="birth_date_future")
    sex = MALE if int(sex_digit) % 2 else FEMALE
    return RegisterNumber(normalized=normalized, letters=letters, birth_date=birth_date, sex=sex)


def validate_company_number(value) -> str:
    """Validate a legal entity register number (7 digits); return it without spaces."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and len(value) <= MAX_INPUT_LENGTH:
        normalized = _strip_spaces(value)
        if _COMPANY_NUMBER_RE.fullmatch(normalized):
            return normalized
    raise ValidationError(_("Enter a company register number of 7 digits."), code="format")


def validate_mongolian_phone(value) -> str:
    """Validate a Mongolian mobile or fixed-line phone number; return it in E.164 ("+97699112233").

    Accepts the national form ("9911 2233", "011 32 1234"), the international one ("+976 9911
    2233", "00976 9911 2233", "001 976 ...") and the country code typed without "+"
    ("976-99-11-22-33"). Letters and extensions are refused; VoIP and other non-geographic
    ranges too (libphonenumber's type must be mobile or fixed line).
    """
    format_error = ValidationError(_("Enter a phone number, for example 9911 2233 or +976 9911 2233."), code="format")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
        raise format_error
    # Letters would be read as a keypad "vanity" number and extensions silently dropped: refuse both.
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not _PHONE_INPUT_RE.fullmatch(text) or text.count("+") > 1 or not any(ch.isdigit() for ch in text):
        raise format_error
    text = _DOUBLE_ZERO_976_RE.sub("+", text)
    try:
        number = phonenumbers.parse(text, "MN")
    except phonenumbers.NumberParseException:
        raise format_error from None
    if number.extension:
        raise format_error
    if phonenumbers.region_code_for_number(number) != "MN":
        raise ValidationError(_("Enter a Mongolian phone number (+976)."), code="country")
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This is not a valid Mongolian phone number."), code="invalid")
    if phonenumbers.number_type(number) not in _ACCEPTED_PHONE_TYPES:
        raise ValidationError(_("Enter a Mongolian mobile or landline number."), code="phone_type")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
