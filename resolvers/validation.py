"""Input validation with field-specific, typed errors (never echoing personal data)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from permissions.rrn import InvalidRrn, Rrn
from schema.common import UserError


@dataclass
class Errors:
    """Collects user errors; a mutation saves nothing while any is present."""

    items: list[UserError] = field(default_factory=list)

    def add(self, path: list[str], code: str, message: str) -> None:
        self.items.append(UserError(field=path, code=code, message=message))

    def __bool__(self) -> bool:
        return bool(self.items)


# Control characters but newline and tab (Unicode category Cc), unpaired surrogates (Cs:
# PostgreSQL cannot store them, nor NUL) and bidirectional embedding, override and
# isolate controls (they can make text read differently from what it says).
UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# What PostgreSQL's text cannot hold at all: NUL, and unpaired surrogates (no UTF-8 form).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether PostgreSQL can hold `value` as text; a value it cannot hold equals no
    stored one, so a lookup by it finds nothing (sending it would fail the statement)."""
    return _UNSTORABLE.search(value) is None


def storable_text(value: str) -> str:
    """Free text without what PostgreSQL cannot store (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", value)


def required_text(errors: Errors, path: list[str], value: str, max_length: int) -> str:
    if len(value) > 4 * max_length:
        errors.add(path, "TOO_LONG", f"At most {max_length} characters.")
        return ""
    cleaned = " ".join(UNWANTED.sub("", value).split())
    if not cleaned:
        errors.add(path, "REQUIRED", "This field is required.")
    elif len(cleaned) > max_length:
        errors.add(path, "TOO_LONG", f"At most {max_length} characters.")
    return cleaned


def email(errors: Errors, path: list[str], value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        errors.add(path, "INVALID_EMAIL", "Not a valid email address.")
        return value


def phone(errors: Errors, path: list[str], value: str) -> str:
    """Belgian numbers in national form (0470 12 34 56) or any number in +CC form."""
    try:
        number = phonenumbers.parse(value, "BE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors.add(path, "INVALID_PHONE", "Not a valid phone number.")
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def postal_code(errors: Errors, path: list[str], value: str) -> str:
    cleaned = value.strip()
    if not (len(cleaned) == 4 and cleaned.isdigit() and cleaned[0] != "0"):
        errors.add(path, "INVALID_POSTAL_CODE", "A Belgian postal code has four digits.")
    return cleaned


def iso_code(errors: Errors, path: list[str], value: str) -> str:
    cleaned = value.strip().upper()
    if not (len(cleaned) == 2 and cleaned.isalpha()):
        errors.add(path, "INVALID_CODE", "Use a two-letter ISO code.")
    return cleaned


def not_in_future(
    errors: Errors, path: list[str], value: datetime.date, today: datetime.date
) -> None:
    if value > today:
        errors.add(path, "DATE_IN_FUTURE", "This date cannot be in the future.")


def in_future(errors: Errors, path: list[str], value: datetime.date, today: datetime.date) -> None:
    if value <= today:
        errors.add(path, "DATE_NOT_IN_FUTURE", "This date must be in the future.")


def rrn(errors: Errors, path: list[str], value: str | None) -> Rrn | None:
    """A national register (or BIS) number, or None (absent, or an error added)."""
    if value is None:
        return None
    try:
        return Rrn.parse(value)
    except InvalidRrn:
        errors.add(path, "INVALID_RRN", "Not a valid national register number.")
        return None
