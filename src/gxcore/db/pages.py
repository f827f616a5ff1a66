"""Pages of every list gxcore serves: one helper, one cursor format, one response shape.

A list is ordered by an `Order`: any tuple of columns ending with the row's id, each ascending
or descending, so the ordering is unique and a position in it is a row's values of those
columns. Two ways through a list:

- **keyset** (the default): the next page starts strictly after the last row's position. Its
  cost does not grow with depth, and rows inserted or removed meanwhile never make a page skip
  or repeat a row that was there before.
- **offset**, when the caller asks for a `page` number (1-based): `OFFSET (page - 1) * limit`.
  Handy for "page 7 of a table"; its cost grows with the page number, so the number is bounded
  (`MAX_PAGE_NUMBER`); deeper lists are walked by cursor.

A cursor is opaque: the position's values, and an HMAC-SHA256 tag over them, the ordering and
the binding of the list it came from (the endpoint's path and the tenant, see gxcore.http), under
a key derived from the server's token secret. So a cursor changed by one byte, forged, or taken
from another list is `INVALID_CURSOR` (400), never a 500 and never a page of something else.

Page size is `limit`, 1..MAX_LIMIT for every list (DEFAULT_LIMIT when not given). The query is
the caller's `select`: of columns where a response needs only some of a table's, so only those
are fetched. The helper adds the ordering, the keyset or offset bound and `LIMIT limit + 1` (the
extra row says whether there is a next page).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Self, TypeVar, TypeVarTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Row, Select, Table, and_, literal, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from gxcore.config import Settings
from gxcore.errors import InvalidCursor, ValidationFailed
from gxcore.keys import server_key

#: Rows per page when the caller does not say; at most MAX_LIMIT, for every list.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Deepest page number an offset page may ask for; a deeper walk goes by cursor.
MAX_PAGE_NUMBER = 10_000
#: Longest cursor a request may carry (what the helper issues is far shorter).
MAX_CURSOR_LENGTH = 500

_TAG_BYTES = 16  # 128 bits of HMAC-SHA256: forging one is out of reach
_KEY_PURPOSE = b"gx-page-cursors-v1"

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
#: A column to order by: a model's attribute or any column expression.
Column = ColumnElement[Any] | QueryableAttribute[Any]


# --------------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursors:
    """Seals and opens cursors under one key (built once per app, like the token keys)."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> Cursors:
        return cls(HKDF(hashes.SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(secret))

    @classmethod
    def from_settings(cls, settings: Settings) -> Cursors:
        """Derived from GX_JWT_SECRET (or its development key): rotating that secret also
        retires every cursor handed out, which costs a client one restart of its walk."""
        secret = server_key(
            settings, settings.jwt_secret, variable="GX_JWT_SECRET", file="jwt_secret"
        )
        return cls.from_secret(secret)

    def _tag(self, binding: str, payload: bytes) -> bytes:
        message = binding.encode() + b"\x00" + payload
        return hmac.new(self.key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def seal(self, binding: str, values: Sequence[object]) -> str:
        payload = json.dumps([_dump(v) for v in values], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._tag(binding, payload))}"

    def open(self, binding: str, cursor: str) -> list[object]:
        """The values `seal` put in `cursor` for this same `binding`; INVALID_CURSOR otherwise."""
        try:
            payload_text, tag_text = cursor.split(".")
            payload, tag = _unb64(payload_text), _unb64(tag_text)
        except (ValueError, binascii.Error) as e:
            raise _invalid() from e
        if not hmac.compare_digest(tag, self._tag(binding, payload)):
            raise _invalid()
        try:
            values = json.loads(payload)
            return [_load(v) for v in values]
        except (ValueError, TypeError, KeyError) as e:  # only if the key itself leaked
            raise _invalid() from e


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        "not a cursor this list returned: start again without `cursor`", field="cursor"
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # only the one spelling: a changed padding bit is a changed cursor
        raise ValueError("not the canonical base64 of its bytes")
    return raw


def _dump(value: object) -> object:
    # Tagged where JSON has no type of its own, so a value comes back as what was compared.
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if not isinstance(value, (str, int)):  # None too: keyset columns are NOT NULL
        raise TypeError(f"a keyset column holds {type(value).__name__}: not orderable here")
    return str(value) if isinstance(value, str) else value  # a StrEnum as its value


def _load(value: object) -> object:
    if isinstance(value, dict):
        if "t" in value:
            moment = datetime.fromisoformat(value["t"])
            if moment.tzinfo is None:
                raise ValueError("a naive instant")
            return moment
        return Decimal(value["d"])
    if isinstance(value, (str, int)):  # bool is an int
        return value
    raise ValueError("not a position")


# --------------------------------------------------------------------------------------------
# What a caller asks for, and the ordering a list is walked in
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """One request for a page: its size, and where it starts (a cursor, a page number, or the
    top). `binding` names the list (gxcore.http binds it to the endpoint and the tenant)."""

    cursors: Cursors
    binding: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    page: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if self.page is not None and not 1 <= self.page <= MAX_PAGE_NUMBER:
            raise ValidationFailed(
                f"page must be between 1 and {MAX_PAGE_NUMBER}; walk deeper by cursor",
                field="page",
            )
        if self.page is not None and self.cursor is not None:
            raise ValidationFailed("give `cursor` or `page`, not both", field="page")
        if self.cursor is not None and len(self.cursor) > MAX_CURSOR_LENGTH:
            raise _invalid()


@dataclass(frozen=True)
class Order:
    """A unique ordering: `(column, descending)` pairs, the last one the row's id. Every column
    is NOT NULL (a NULL has no place in a row comparison)."""

    keys: tuple[tuple[Column, bool], ...]

    @classmethod
    def newest_first(cls, *columns: Column) -> Order:
        return cls(tuple((c, True) for c in columns))

    @classmethod
    def oldest_first(cls, *columns: Column) -> Order:
        return cls(tuple((c, False) for c in columns))

    @property
    def signature(self) -> str:
        """What a cursor is bound to besides its list: the ordering's columns and directions."""
        return ",".join(f"{_name(c)}{' desc' if d else ''}" for c, d in self.keys)

    def by(self) -> list[ColumnElement[Any]]:
        return [c.desc() if d else c.asc() for c, d in self.keys]

    def after(self, position: Sequence[object]) -> ColumnElement[bool]:
        """Rows strictly after `position` in this ordering."""
        if len(position) != len(self.keys):
            raise _invalid()
        columns = [c for c, _ in self.keys]
        directions = {d for _, d in self.keys}
        if len(directions) == 1:  # a row comparison: one index range scan
            row, at = tuple_(*columns), tuple_(*position)
            return row < at if directions.pop() else row > at
        # Mixed directions: (a after x) or (a = x and (b after y)) ... Values are bound as
        # literals of their column's type (SQLAlchemy refuses `<` against a bare True).
        bound = [literal(v, c.type) for v, c in zip(position, columns, strict=True)]
        terms = []
        for i, (column, desc) in enumerate(self.keys):
            ahead = column < bound[i] if desc else column > bound[i]
            terms.append(and_(*(c == bound[j] for j, c in enumerate(columns[:i])), ahead))
        return or_(*terms)


def _name(column: Column) -> str:
    # The same in every process (cursors outlive one): an alias's generated name is not.
    if isinstance(column, QueryableAttribute):
        return f"{column.parent.class_.__name__}.{column.key}"
    table = getattr(column, "table", None)
    return f"{table.name if isinstance(table, Table) else ''}.{getattr(column, 'key', '')}"


# --------------------------------------------------------------------------------------------
# Fetching a page, and the one response shape
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice(Generic[T]):
    """A fetched page: its rows, and how to ask for the next one (None at the end)."""

    rows: list[T]
    next_cursor: str | None
    next_page: int | None


async def fetch(
    session: AsyncSession, query: Select[*Ts], order: Order, request: PageRequest
) -> Slice[Row[*Ts]]:
    """The page `request` asks for of `query` (a select of columns, or of an entity and what
    goes with it), in `order`. Each row is one of `query`'s, with the ordering's values after
    its own columns (labelled `_position_<i>`, never clashing with a selected name)."""
    binding = f"{request.binding}\n{order.signature}"
    position = (c.label(f"_position_{i}") for i, (c, _) in enumerate(order.keys))
    paged = query.add_columns(*position).order_by(*order.by()).limit(request.limit + 1)
    if request.cursor is not None:
        paged = paged.where(order.after(request.cursors.open(binding, request.cursor)))
    if request.page is not None:
        paged = paged.offset((request.page - 1) * request.limit)
    rows: list[Row[*Ts]] = list((await session.execute(paged)).all())
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    next_cursor = request.cursors.seal(binding, rows[-1][-len(order.keys) :]) if more else None
    next_page = request.page + 1 if more and request.page is not None else None
    return Slice(rows, next_cursor, next_page)


async def fetch_scalars(
    session: AsyncSession, query: Select[T], order: Order, request: PageRequest
) -> Slice[T]:
    """`fetch` of a select of one entity (or one column): its values, not rows."""
    found = await fetch(session, query, order, request)
    return Slice([r[0] for r in found.rows], found.next_cursor, found.next_page)


class Page(BaseModel, Generic[T]):
    """One page of a list, the same shape for every list endpoint."""

    items: list[T]
    nextCursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; null at the end"
    )
    nextPage: int | None = Field(
        default=None,
        description="when `page` was asked for: the next page's number; null at the end",
    )

    @classmethod
    def of(cls, found: Slice[Any], items: list[T]) -> Self:
        return cls(items=items, nextCursor=found.next_cursor, nextPage=found.next_page)
