"""Valid rows for any model, built from its table: required columns filled, parents created first.

Used by the generated tenancy suite, which must cover every tenant table without a hand-written
fixture per table.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, Enum, Integer, Numeric, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Tenant
from gxcore.db.base import Base
from gxcore.db.tenancy import Database
from gxcore.db.types import Money, Timestamptz

COUNTRY = "NG"


def _value(column: Any) -> Any:
    t = column.type
    if isinstance(t, Enum):
        return t.enums[0]
    if isinstance(t, Boolean):
        return False
    if isinstance(t, Integer):
        return 1
    if isinstance(t, (Money, Numeric)):
        return Decimal(1)
    if isinstance(t, Timestamptz):
        return dt.datetime.now(dt.UTC)
    if isinstance(t, Date):
        return dt.date(2000, 1, 1)
    if isinstance(t, JSONB):
        return {}
    if getattr(t, "length", None) == 2:  # char(2): a country code
        return COUNTRY
    return f"{column.key}-{uuid.uuid4().hex[:10]}"


async def make(session: AsyncSession, model: type[Base], tenant: str, **values: Any) -> Any:
    """Insert one valid `model` row for `tenant` (parents included) and return it.

    `session` must be allowed to write any tenant (the system scope).
    """
    mapper = inspect(model)
    for column in mapper.columns:
        key = mapper.get_property_by_column(column).key
        if key in values or column.nullable and not column.foreign_keys:
            continue
        if key == "tenant_id":
            values[key] = tenant
        elif column.foreign_keys:
            if column.nullable:
                continue
            target = next(iter(column.foreign_keys)).column
            parent_model = _model_for(target.table.name)
            if parent_model.__tablename__ == "Country":
                values[key] = COUNTRY
                continue
            parent = await make(session, parent_model, tenant)
            values[key] = getattr(parent, inspect(parent_model).get_property_by_column(target).key)
        elif column.default is None and column.server_default is None:
            values[key] = _value(column)
    row = model(**values)
    session.add(row)
    await session.flush()
    return row


async def register_tenant(db: Database, tenant_id: str) -> str:
    """Put `tenant_id` in the tenant registry, as `gx tenant create` does, without its seeded
    parameters and bootstrap command (tests add what they need)."""
    async with db.system(reason="test setup: tenant") as session:
        session.add(Tenant(id=tenant_id, name=tenant_id))
    return tenant_id


def _model_for(table_name: str) -> type[Base]:
    for mapper in Base.registry.mappers:
        if mapper.local_table.name == table_name:
            return mapper.class_
    raise LookupError(table_name)


def primary_key(row: Any) -> tuple[Any, ...]:
    return inspect(row).identity


def enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
