"""Requests and responses of svc-identity, with the field names of the reference API (camelCase).

Checks that need nothing but the value live here, so a bad field is a 422 naming it before any
row is touched; checks that need the tenant's parameters or the database (country exists, age,
password length, phone region) live in the service.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
)

from gxcore.bodies import RequestBody
from gxcore.db.pages import Page
from gxcore.enums import EmploymentStatus, Gender, RegistrationStep, UserProfileStatus

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


Email = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]
Name = Annotated[str, StringConstraints(max_length=100), AfterValidator(_name)]
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True, strip_whitespace=True)
]
Otp = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RegistrationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(max_length=MAX_PASSWORD_LENGTH)]


class EmailStart(RequestBody):
    email: Email


class RegistrationRef(RequestBody):
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


# --------------------------------------------------------------------------------------------
# Sign-in, sessions, devices
# --------------------------------------------------------------------------------------------

Fingerprint = Annotated[
    str, StringConstraints(min_length=8, max_length=256, pattern=r"^[\x21-\x7e]+$")
]
Label = Annotated[str, StringConstraints(max_length=100), AfterValidator(_name)]


class LoginRequest(RequestBody):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
    #: The client's stable device identifier; without one, the user agent stands in for it.
    deviceFingerprint: Fingerprint | None = None
    deviceName: Label | None = None
    deviceOs: Label | None = None


class RefreshRequest(RequestBody):
    refreshToken: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenPair(BaseModel):
    accessToken: str
    tokenType: str = "Bearer"
    expiresIn: int = Field(description="seconds the access token stays valid")
    expiresAt: datetime
    refreshToken: str = Field(description="shown once; only its hash is stored")
    refreshExpiresAt: datetime
    sessionId: str


class DeviceRead(BaseModel):
    deviceId: str
    deviceName: str
    deviceOs: str | None
    isTrusted: bool
    firstSeenAt: datetime
    lastSeenAt: datetime


class LoginDevice(DeviceRead):
    isNew: bool = Field(description="true the first time this device signs in to this account")


class LoginResponse(TokenPair):
    profileId: str
    status: UserProfileStatus
    role: str
    device: LoginDevice


class Revoked(BaseModel):
    revoked: int = Field(description="sessions ended by the call")


# --------------------------------------------------------------------------------------------
# Profiles, and their review by an administrator
# --------------------------------------------------------------------------------------------


def _phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as e:
        raise ValueError(f"not a phone number in international format (+...): {e}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_phone)]


class UserRead(BaseModel):
    profileId: str
    email: str | None
    phoneNum: str | None
    firstName: str
    middleName: str | None
    lastName: str
    dateOfBirth: date | None
    gender: str | None
    placeOfBirth: str | None
    nationalityCountryCode: str | None
    status: UserProfileStatus
    role: str
    employmentStatus: EmploymentStatus | None
    jobTitle: str | None
    companyName: str | None
    industry: str | None
    workEmail: str | None
    workPhoneNum: str | None
    isLocked: bool
    reviewedAt: datetime | None
    denialReason: str | None
    createdAt: datetime
    updatedAt: datetime
    version: int = Field(description="bumped by every update; the ETag, for If-Match")


class UserUpdate(RequestBody):
    """What the owner may change; every field optional, `null` clears the optional ones.

    Email, phone, birth date and nationality were proven or declared at registration and change
    through their own checks, never here (an unknown field is a 422 naming it).
    """

    firstName: Name | None = None
    middleName: Name | None = None
    lastName: Name | None = None
    placeOfBirth: Label | None = None
    employmentStatus: EmploymentStatus | None = None
    jobTitle: Label | None = None
    companyName: Label | None = None
    industry: Label | None = None
    workEmail: Email | None = None
    workPhoneNum: Phone | None = None

    @field_validator("firstName", "lastName", mode="before")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be cleared")
        return value


class UserPage(Page[UserRead]):
    pass


class ReviewReason(RequestBody):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_name)]


class OptionalReason(RequestBody):
    reason: (
        Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_name)]
        | None
    ) = None


#: At most this many users per batch request: one transaction locks each of them.
MAX_BATCH = 100


class UserBatch(RequestBody):
    userIds: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=200)]],
        Field(min_length=1, max_length=MAX_BATCH),
    ]


class BatchResult(BaseModel):
    items: list[UserRead]


class DevicePage(Page[DeviceRead]):
    pass
