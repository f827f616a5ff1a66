"""Reference data: countries and system parameters. The only code that reads and writes
these rows for the other features."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pycountry
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country, SystemParameter
from gxcore.admin.parameters import DEFAULTS, PARAMETERS
from gxcore.ledger.contract import PARAMETER_RULES, Params


@dataclass(frozen=True)
class SeedResult:
    countries: int
    parameters_added: int


async def seed(*, session: AsyncSession, tenant_id: str = "default") -> SeedResult:
    """Idempotent: upserts every ISO 3166-1 country and adds missing parameters for `tenant_id`.

    Parameter values an operator has changed are kept; only absent keys get their default.
    The caller owns the transaction.
    """
    rows = [{"country_code": c.alpha_2, "country_name": c.name} for c in pycountry.countries]
    stmt = insert(Country).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Country.country_code],
        set_={"country_name": stmt.excluded.country_name},
        where=Country.country_name.is_distinct_from(stmt.excluded.country_name),
    )
    await session.execute(stmt)

    added = await session.execute(
        insert(SystemParameter)
        .values(
            [
                {"tenant_id": tenant_id, "param_key": p.key, "param_value": p.default}
                for p in PARAMETERS
            ]
        )
        .on_conflict_do_nothing()
        .returning(SystemParameter.param_key)
    )
    total = await session.scalar(select(func.count()).select_from(Country))
    return SeedResult(countries=total or 0, parameters_added=len(added.all()))


async def read_ints(session: AsyncSession, keys: Iterable[str]) -> dict[str, int]:
    """The scope's tenant's integer parameters `keys`, each its default where absent."""
    keys = tuple(keys)
    rows = await session.execute(
        select(SystemParameter.param_key, SystemParameter.param_value).where(
            SystemParameter.param_key.in_(keys)
        )
    )
    values = {key: int(DEFAULTS[key]) for key in keys}
    values.update({key: int(value) for key, value in rows.all()})
    return values


async def ledger_params(session: AsyncSession) -> Params:
    """The scope's tenant's view of the ledger's parameters (fees, genesis), typed."""
    rows = await session.execute(
        select(SystemParameter.param_key, SystemParameter.param_value).where(
            SystemParameter.param_key.in_(PARAMETER_RULES)
        )
    )
    return Params.of({key: value for key, value in rows})
