"""Tenants and reference data (countries, system parameters). The only code that writes these
rows; the other features read them through the functions here.

A tenant exists once `create_tenant` has registered it, seeded its system parameters and put its
BOOTSTRAP_SYSTEM command in the outbox, all in one transaction. The command's request id is the
same for every tenant (the idempotency key is per tenant), so a tenant is bootstrapped once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pycountry
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country, SystemParameter, SystemState, Tenant
from gxcore.admin.parameters import DEFAULTS
from gxcore.cqrs.outbox import enqueue
from gxcore.db.scope import valid_tenant_id
from gxcore.enums import CommandType
from gxcore.errors import TenantExists, TenantNotFound
from gxcore.ledger.contract import PARAMETER_RULES, Params

SERVICE = "svc-admin"
BOOTSTRAP_REQUEST_ID = "bootstrap-system"


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


async def require_tenant(session: AsyncSession, tenant_id: str) -> None:
    """TenantNotFound unless `tenant_id` is registered."""
    if await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is None:
        raise TenantNotFound(
            f"no tenant {tenant_id!r}; create it with `gx tenant create {tenant_id}`",
            tenant=tenant_id,
        )


async def tenant_paused(session: AsyncSession, tenant_id: str) -> bool:
    """TenantNotFound unless `tenant_id` is registered; else whether its system is paused, as
    the projector last saw the ledger (`SystemState`). One statement: the registry's primary
    key joined to the state's, as cheap as the existence check alone (every request makes it)."""
    row = (
        await session.execute(
            select(Tenant.id, SystemState.paused)
            .outerjoin(SystemState, SystemState.tenant_id == Tenant.id)
            .where(Tenant.id == tenant_id)
        )
    ).first()
    if row is None:
        raise TenantNotFound(
            f"no tenant {tenant_id!r}; create it with `gx tenant create {tenant_id}`",
            tenant=tenant_id,
        )
    return bool(row.paused)


async def create_tenant(
    session: AsyncSession, tenant_id: str, *, name: str | None = None
) -> Tenant:
    """Register a tenant, seed its parameters and enqueue its bootstrap; TenantExists if known.

    The session must be the system scope's (the tenant has no scope yet); the caller owns the
    transaction.
    """
    tenant = await session.scalar(
        insert(Tenant)
        .values(id=valid_tenant_id(tenant_id), name=name or tenant_id)
        .on_conflict_do_nothing(index_elements=[Tenant.id])
        .returning(Tenant)
    )
    if tenant is None:
        raise TenantExists(f"tenant {tenant_id!r} already exists", tenant=tenant_id)
    await seed_parameters(session, tenant_id)
    await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.BOOTSTRAP_SYSTEM,
        request_id=BOOTSTRAP_REQUEST_ID,
        payload={},  # the ledger's defaults, which are the seeded parameters' values
        tenant_id=tenant_id,
    )
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.scalars(select(Tenant).order_by(Tenant.id))).all())


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    countries: int
    parameters_added: int


async def seed(*, session: AsyncSession, tenant_id: str = "default") -> SeedResult:
    """Idempotent: upserts every ISO 3166-1 country and adds missing parameters for `tenant_id`,
    which must exist (TenantNotFound).

    Parameter values an operator has changed are kept; only absent keys get their default.
    Writing `Country` takes the database owner. The caller owns the transaction.
    """
    await require_tenant(session, tenant_id)
    countries = await seed_countries(session)
    return SeedResult(
        countries=countries, parameters_added=await seed_parameters(session, tenant_id)
    )


async def seed_step(session: AsyncSession, tenant_id: str) -> str:
    """`seed` as a step of `gx db seed` (gxcore.db.seeding): what it did, in words."""
    result = await seed(session=session, tenant_id=tenant_id)
    return (
        f"seeded {result.countries} countries; {result.parameters_added} system parameters added "
        f"for tenant {tenant_id!r}"
    )


async def seed_countries(session: AsyncSession) -> int:
    """Upsert every ISO 3166-1 country (the shared table); returns how many there are."""
    rows = [{"country_code": c.alpha_2, "country_name": c.name} for c in pycountry.countries]
    stmt = insert(Country).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Country.country_code],
        set_={"country_name": stmt.excluded.country_name},
        where=Country.country_name.is_distinct_from(stmt.excluded.country_name),
    )
    await session.execute(stmt)
    return await session.scalar(select(func.count()).select_from(Country)) or 0


async def seed_parameters(session: AsyncSession, tenant_id: str) -> int:
    """Add the parameters `tenant_id` lacks, with their defaults; returns how many."""
    return await add_missing_parameters(session, tenant_id, DEFAULTS)


async def add_missing_parameters(
    session: AsyncSession, tenant_id: str, values: Mapping[str, str]
) -> int:
    """Add those of `values` that `tenant_id` lacks (a value already set is kept); returns how
    many were added."""
    if not values:
        return 0
    added = await session.execute(
        insert(SystemParameter)
        .values(
            [{"tenant_id": tenant_id, "param_key": k, "param_value": v} for k, v in values.items()]
        )
        .on_conflict_do_nothing(
            index_elements=[SystemParameter.tenant_id, SystemParameter.param_key]
        )
        .returning(SystemParameter.param_key)
    )
    return len(added.all())


async def parameter_values(session: AsyncSession, keys: Iterable[str]) -> dict[str, str]:
    """The scope's tenant's parameters `keys` as stored (absent ones left out): one read for
    a request needing several groups of them, which `read_ints` and `ledger_params` take as
    `values`."""
    rows = await session.execute(
        select(SystemParameter.param_key, SystemParameter.param_value).where(
            SystemParameter.param_key.in_(tuple(keys))
        )
    )
    return {key: value for key, value in rows}


async def read_ints(
    session: AsyncSession, keys: Iterable[str], values: Mapping[str, str] | None = None
) -> dict[str, int]:
    """The scope's tenant's integer parameters `keys`, each its default where absent; from
    `values` (`parameter_values` holding `keys`) when given."""
    keys = tuple(keys)
    stored = await parameter_values(session, keys) if values is None else values
    return {key: int(stored.get(key, DEFAULTS[key])) for key in keys}


async def ledger_params(session: AsyncSession, values: Mapping[str, str] | None = None) -> Params:
    """The scope's tenant's view of the ledger's parameters (fees, genesis), typed; from
    `values` (`parameter_values` holding PARAMETER_RULES) when given."""
    stored = await parameter_values(session, PARAMETER_RULES) if values is None else values
    return Params.of({key: value for key, value in stored.items() if key in PARAMETER_RULES})
