"""National identity numbers: their format per country, and uniqueness within a tenant.

Each known country has a pattern over the number with separators removed (and, where the
number carries one, its check digit verified); other countries get a generic pattern, and the
answer says so (`format: "generic"`). Numbers are kept normalized (upper case, no spaces or
separators), so one number written two ways is still one number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pycountry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.scope import tenant_of
from gxcore.enums import DocumentType
from gxcore.errors import NationalIdInvalid
from gxcore.kyc.models import KYCDocument, KYCVerification

_SEPARATORS = re.compile(r"[\s\-./]")
GENERIC = re.compile(r"[A-Z0-9]{5,20}")


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def _verhoeff(number: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def _cpf(number: str) -> bool:
    if len(set(number)) == 1:
        return False
    digits = [int(c) for c in number]
    for n in (9, 10):
        s = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=True))
        if (s * 10 % 11) % 10 != digits[n]:
            return False
    return True


def _dni(number: str) -> bool:
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(number[:8]) % 23] == number[8]


@dataclass(frozen=True)
class Format:
    name: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


FORMATS: dict[str, Format] = {
    "NG": Format("NIN (11 digits)", re.compile(r"\d{11}")),
    "GH": Format("Ghana Card (GHA + 9 digits + check digit)", re.compile(r"GHA\d{10}")),
    "KE": Format("national ID (7 or 8 digits)", re.compile(r"\d{7,8}")),
    "ZA": Format("ID number (13 digits, Luhn)", re.compile(r"\d{13}"), _luhn),
    "GB": Format(
        "National Insurance number",
        re.compile(r"(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]"),
    ),
    "US": Format("SSN (9 digits)", re.compile(r"(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}")),
    "IN": Format("Aadhaar (12 digits, Verhoeff)", re.compile(r"[2-9]\d{11}"), _verhoeff),
    "BR": Format("CPF (11 digits, check digits)", re.compile(r"\d{11}"), _cpf),
    "ES": Format("DNI (8 digits + letter)", re.compile(r"\d{8}[A-Z]"), _dni),
}


@dataclass(frozen=True)
class Checked:
    country_code: str
    number: str  # normalized
    format: str


def normalize(number: str) -> str:
    return _SEPARATORS.sub("", number).upper()


def format_name(country_code: str) -> str:
    fmt = FORMATS.get(country_code.upper())
    return fmt.name if fmt else "generic"


def check_format(country_code: str, number: str) -> Checked:
    """The number normalized, or NationalIdInvalid naming what is wrong."""
    code = country_code.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise NationalIdInvalid(f"unknown country {country_code!r}", field="countryCode")
    normal = normalize(number)
    fmt = FORMATS.get(code)
    pattern = fmt.pattern if fmt else GENERIC
    ok = pattern.fullmatch(normal) is not None and (
        fmt is None or fmt.check is None or fmt.check(normal)
    )
    if not ok:
        expected = fmt.name if fmt else "5 to 20 letters and digits"
        raise NationalIdInvalid(
            f"not a valid national id for {code}: expected {expected}",
            field="idNumber",
            expected=expected,
        )
    return Checked(code, normal, fmt.name if fmt else "generic")


async def lock(session: AsyncSession, checked: Checked) -> None:
    """Hold the number (in this tenant) to the end of the transaction, so checking that no one
    else holds it and recording it are one step."""
    tenant = tenant_of(session, "national ids are held per tenant")
    key = f"gx-national-id:{tenant}:{checked.country_code}:{checked.number}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def holder(session: AsyncSession, checked: Checked) -> str | None:
    """The profile of this tenant holding the number on a national id document, if any."""
    return await session.scalar(
        select(KYCVerification.profile_id)
        .join(KYCDocument, KYCDocument.kyc_id == KYCVerification.kyc_id)
        .where(
            KYCDocument.document_type == DocumentType.NATIONAL_ID,
            KYCDocument.issuing_country == checked.country_code,
            KYCDocument.document_number == checked.number,
        )
        .limit(1)
    )
