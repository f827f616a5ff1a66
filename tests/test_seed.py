"""`gx db seed` is idempotent and never overwrites an operator's parameter values."""

from __future__ import annotations

import pycountry
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gxcore.admin import service
from gxcore.admin.models import Country, SystemParameter
from gxcore.admin.parameters import DEFAULTS


async def _snapshot(session: AsyncSession, tenant: str) -> tuple[list[tuple], list[tuple]]:
    countries = (await session.execute(select(Country.country_code, Country.country_name))).all()
    params = (
        await session.execute(
            select(SystemParameter.param_key, SystemParameter.param_value)
            .where(SystemParameter.tenant_id == tenant)
            .order_by(SystemParameter.param_key)
        )
    ).all()
    return sorted(countries), params


async def test_seeding_twice_leaves_the_same_rows(engine: AsyncEngine, tenant: str) -> None:
    async with AsyncSession(engine) as session, session.begin():
        first = await service.seed(session=session, tenant_id=tenant)
    async with AsyncSession(engine) as session:
        before = await _snapshot(session, tenant)
    async with AsyncSession(engine) as session, session.begin():
        second = await service.seed(session=session, tenant_id=tenant)
    async with AsyncSession(engine) as session:
        after = await _snapshot(session, tenant)

    assert before == after
    assert first.countries == second.countries == len(pycountry.countries)
    assert first.parameters_added == len(DEFAULTS) and second.parameters_added == 0
    assert ("NG", "Nigeria") in before[0]
    assert dict(before[1]) == DEFAULTS


async def test_reseeding_keeps_a_changed_parameter(engine: AsyncEngine, tenant: str) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await service.seed(session=session, tenant_id=tenant)
        await session.execute(
            update(SystemParameter)
            .where(
                SystemParameter.tenant_id == tenant, SystemParameter.param_key == "transferFeeBps"
            )
            .values(param_value="25")
        )
    async with AsyncSession(engine) as session, session.begin():
        await service.seed(session=session, tenant_id=tenant)
    async with AsyncSession(engine) as session:
        value = await session.scalar(
            select(SystemParameter.param_value).where(
                SystemParameter.tenant_id == tenant, SystemParameter.param_key == "transferFeeBps"
            )
        )
    assert value == "25"
