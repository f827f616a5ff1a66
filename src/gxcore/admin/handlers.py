"""Projector handlers for the ledger's administration: parameters and countries.

`SystemParameter` mirrors the ledger's parameters: bootstrap writes all of them, and every
update (UPDATE_SYSTEM_PARAMETER, an executed proposal) one. Keys the ledger does not keep (OTP,
login limits) are untouched. `Country` is shared by every tenant, so a tenant's country data
only adds missing countries; it never renames one for all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from gxcore.admin.models import Country, SystemParameter
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch


async def set_parameters(batch: Batch, tenant_id: str, values: dict[str, str]) -> None:
    if not values:
        return
    stmt = insert(SystemParameter).values(
        [{"tenant_id": tenant_id, "param_key": k, "param_value": v} for k, v in values.items()]
    )
    await batch.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenantId", "paramKey"],
            set_={"param_value": stmt.excluded.param_value, "updated_at": func.now()},
            where=SystemParameter.param_value.is_distinct_from(stmt.excluded.param_value),
        )
    )


async def set_parameter(batch: Batch, tenant_id: str, key: str, value: str) -> None:
    await set_parameters(batch, tenant_id, {key: value})


async def bootstrapped(batch: Batch, event: LedgerEvent, p: ev.SystemBootstrapped) -> None:
    await set_parameters(batch, event.tenant_id, dict(p.parameters))


async def parameter_updated(batch: Batch, event: LedgerEvent, p: ev.SystemParameterUpdated) -> None:
    await set_parameter(batch, event.tenant_id, p.key, p.new_value)


async def countries_initialized(
    batch: Batch, event: LedgerEvent, p: ev.CountryDataInitialized
) -> None:
    await batch.session.execute(
        insert(Country)
        .values([{"country_code": c.code, "country_name": c.name} for c in p.countries])
        .on_conflict_do_nothing(index_elements=["countryCode"])
    )
