"""The audit hash chain, without a database: canonical form, entry hash, verification.

Each tenant's AuditLog entries form a chain in `chainSeq` order (1, 2, 3...): an entry stores
the previous entry's `eventHash` as its `previousHash`, and its own `eventHash` is SHA-256 over
its canonical form, previousHash included. Editing an entry breaks its hash; removing one leaves
a gap in chainSeq; moving or inserting one breaks the previousHash link. Truncating the newest
entries is not detectable from the chain alone (that needs its head kept elsewhere).

Entries are mappings keyed by physical column names (`tenantId`, `chainSeq`, ...). The hash covers
exactly what the database stores and returns, so verification after a round trip works: the
timestamp is cut to the milliseconds `timestamptz(3)` keeps, and JSON numbers are compared by
value (jsonb may return `1e+20` as `100000000000000000000`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from enum import Enum, StrEnum
from typing import Any

from gxcore.errors import NaiveDatetime

# Every column that carries meaning; eventHash itself is the only one left out.
HASHED_FIELDS = (
    "auditId",
    "tenantId",
    "chainSeq",
    "eventType",
    "actorProfileId",
    "targetProfileId",
    "resourceType",
    "resourceId",
    "ipAddress",
    "userAgent",
    "deviceId",
    "sessionId",
    "previousValue",
    "newValue",
    "metadata",
    "timestamp",
)


def truncate_ms(moment: datetime) -> datetime:
    """`moment` as the database's timestamptz(3) keeps it (cut, not rounded: hash what is stored)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    return truncate_ms(datetime.now(UTC))


def iso_ms(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds: `2026-11-25T12:00:00.123Z`."""
    if moment.utcoffset() is None:
        raise NaiveDatetime(f"naive datetime {moment.isoformat()} given; use an aware UTC value")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def to_json(value: Any) -> Any:
    """A JSON value for `value`: Decimals as strings, datetimes as `iso_ms`, enums by value.

    Used for what is stored in the jsonb columns and for what is hashed, so both agree.
    """
    if isinstance(value, Enum):
        return to_json(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # positional: asyncpg returns numeric 0 as Decimal("0E-9")
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in the audit log: {value!r}")


def _number(value: float) -> str:
    # By value, not by spelling: 100, 100.0 and 1e2 are one number to jsonb.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"JSON has no {value}")
    if value == 0:
        return "0"  # numeric has no negative zero
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    with localcontext(prec=max(28, len(number.as_tuple().digits))):
        return str(number.normalize())


def _render(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ",".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}:{_render(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def canonical(fields: Mapping[str, Any], previous_hash: str | None) -> bytes:
    """Stable bytes for an entry: sorted keys, no whitespace, ASCII only."""
    document = {name: fields[name] for name in HASHED_FIELDS}
    document["previousHash"] = previous_hash
    return _render(to_json(document)).encode("ascii")


def entry_hash(fields: Mapping[str, Any], previous_hash: str | None) -> str:
    """Hex SHA-256 of the entry's canonical form; `fields` needs every name in HASHED_FIELDS."""
    return hashlib.sha256(canonical(fields, previous_hash)).hexdigest()


class Problem(StrEnum):
    ALTERED = "altered"
    REMOVED = "removed"
    OUT_OF_ORDER = "out of order"


@dataclass(frozen=True)
class Verdict:
    """A chain's state: intact, or where it first breaks and how."""

    entries: int  # entries read: all of them when intact, up to the break otherwise
    problem: Problem | None = None
    chain_seq: int | None = None
    audit_id: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.entries} entries"
        return f"BROKEN at chainSeq {self.chain_seq} (auditId {self.audit_id}): {self.detail}"


class ChainVerifier:
    """Checks one tenant's entries fed in chainSeq order, one at a time (streams any length)."""

    def __init__(self) -> None:
        self._previous: Mapping[str, Any] | None = None
        self._entries = 0
        self._broken: Verdict | None = None

    def add(self, entry: Mapping[str, Any]) -> Verdict | None:
        """Check the next entry; returns the verdict once the chain is broken, else None."""
        if self._broken is None:
            self._entries += 1
            problem = self._check(entry)
            if problem is not None:
                self._broken = Verdict(
                    self._entries, problem[0], entry["chainSeq"], entry["auditId"], problem[1]
                )
            self._previous = entry
        return self._broken

    def result(self) -> Verdict:
        return self._broken or Verdict(self._entries)

    def _check(self, entry: Mapping[str, Any]) -> tuple[Problem, str] | None:
        prev = self._previous
        seq, expected = entry["chainSeq"], (prev["chainSeq"] + 1 if prev else 1)
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            return Problem.REMOVED, f"chainSeq {missing} missing: removed"
        if seq < expected:
            return Problem.OUT_OF_ORDER, f"chainSeq {seq} repeated after {expected - 1}: inserted"
        link = prev["eventHash"] if prev else None
        if entry["previousHash"] != link:
            if prev is None:
                return Problem.OUT_OF_ORDER, "the first entry names a previous entry: inserted"
            return Problem.OUT_OF_ORDER, (
                f"previousHash does not match chainSeq {prev['chainSeq']} "
                f"(auditId {prev['auditId']}): one of the two was moved, inserted or altered"
            )
        if entry_hash(entry, entry["previousHash"]) != entry["eventHash"]:
            return Problem.ALTERED, "eventHash does not match the entry's contents: altered"
        return None


def verify(entries: Iterable[Mapping[str, Any]]) -> Verdict:
    """Verify one tenant's chain, given its entries in chainSeq order; stops at the first break."""
    verifier = ChainVerifier()
    for entry in entries:
        if verifier.add(entry) is not None:
            break
    return verifier.result()
