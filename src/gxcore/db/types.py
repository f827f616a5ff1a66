"""Column types with gxcore's rules built in: exact money, aware timestamps, named enums."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Enum, Numeric, TypeDecorator
from sqlalchemy.dialects.postgresql import TIMESTAMP

from gxcore.errors import InvalidAmount, NaiveDatetime

MONEY_PLACES = 9
MONEY_DIGITS = 36
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
_WIDE = Context(prec=2 * MONEY_DIGITS)
#: Text that is already a money value as stored: up to 27 digits, a point, exactly 9 places.
_CANONICAL = re.compile(rf"-?[0-9]{{1,{MONEY_DIGITS - MONEY_PLACES}}}\.[0-9]{{{MONEY_PLACES}}}")


def storable(value: str) -> str:
    """Text PostgreSQL can hold: no NUL and no lone surrogate (neither is UTF-8). Checked at the
    edge (a 422 naming the field), so neither reaches a query (or argon2) to fail there as a 500."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def to_money(value: Any) -> Decimal:
    """Return `value` as a Decimal with exactly 9 places, or raise InvalidAmount.

    Precision beyond 9 places is refused, never rounded: numeric(36,9) would round it silently.
    Floats are refused outright; their binary value is rarely the decimal the caller meant.
    """
    # Fast paths, the same values the checks below would return: a Decimal already at exactly
    # 9 places and in range (column values and sums of them), and the canonical text of one
    # (every amount in an event payload).
    if type(value) is Decimal:
        if (
            value.as_tuple().exponent == -MONEY_PLACES
            and value.adjusted() < MONEY_DIGITS - MONEY_PLACES
        ):
            return value
    elif type(value) is str and _CANONICAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, (bool, float)):
        raise InvalidAmount(f"money must be a Decimal, int or str, not {type(value).__name__}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as e:
        raise InvalidAmount(f"not a decimal amount: {value!r}") from e
    if not amount.is_finite():
        raise InvalidAmount(f"amount must be finite, got {amount}")
    # Comparisons and copy_abs are exact; quantize uses a context wide enough for 36 digits
    # (the default's 28 would refuse them).
    if amount.copy_abs() >= _LIMIT:
        raise InvalidAmount(f"amount {amount} does not fit numeric({MONEY_DIGITS},{MONEY_PLACES})")
    quantized = amount.quantize(_QUANTUM, context=_WIDE)
    if quantized != amount:
        raise InvalidAmount(f"amount {amount} has more than {MONEY_PLACES} decimal places")
    return quantized


class Money(TypeDecorator[Decimal]):
    """numeric(36,9) that accepts only values it can store exactly."""

    impl = Numeric(MONEY_DIGITS, MONEY_PLACES, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else to_money(value)


class Timestamptz(TypeDecorator[datetime]):
    """timestamptz(3) that refuses naive datetimes and always returns aware UTC values."""

    impl = TIMESTAMP(timezone=True, precision=3)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise NaiveDatetime(f"naive datetime {value.isoformat()} given; use an aware UTC value")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC)


def pg_enum(enum_class: type[enum.Enum]) -> Enum:
    """The PostgreSQL enum type named exactly like its Python class, as in the reference schema."""
    return Enum(
        enum_class,
        name=enum_class.__name__,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
