"""Registration requests and responses, with the field names of the reference API (camelCase).

Checks that need nothing but the value live here, so a bad field is a 422 naming it before any
row is touched; checks that need the tenant's parameters or the database (country exists, age,
password length, phone region) live in the service.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from gxcore.enums import Gender, RegistrationStep

MAX_PASSWORD_LENGTH = 256  # argon2 hashes anything, but a megabyte "password" is an attack


def _email(value: str) -> str:
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    # One address, one account: compared and stored without regard to case.
    return normalized.lower()


def _name(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not value or any(unicodedata.category(c).startswith("C") for c in value):
        raise ValueError("must be non-empty printable text")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]
Name = Annotated[str, StringConstraints(max_length=100), AfterValidator(_name)]
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True, strip_whitespace=True)
]
Otp = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RegistrationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(max_length=MAX_PASSWORD_LENGTH)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class EmailStart(_Request):
    email: Email


class RegistrationRef(_Request):
    registrationId: RegistrationId  # the reference API's field names


class OtpVerify(RegistrationRef):
    otp: Otp


class NameCountry(RegistrationRef):
    firstName: Name
    lastName: Name
    countryCode: CountryCode


class DobGender(RegistrationRef):
    dateOfBirth: date
    gender: Gender


class PasswordSet(RegistrationRef):
    password: Password
    confirmPassword: Password


class PhoneSet(RegistrationRef):
    phoneNum: Annotated[str, StringConstraints(min_length=3, max_length=32)]


class RegistrationStatus(BaseModel):
    """What any holder of the id may see: progress only, never personal data or hashes."""

    registrationId: str
    currentStep: RegistrationStep
    expiresAt: datetime
    emailVerified: bool = False
    phoneVerified: bool = False
    profileId: str | None = Field(default=None, description="set once COMPLETED")
