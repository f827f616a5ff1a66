"""Projector handlers for the ledger's administration: parameters, countries, the system state.

`SystemParameter` mirrors the ledger's parameters: bootstrap adds those the tenant lacks (the
tenant was seeded when it was created, and a value an operator set is theirs), and every update
(UPDATE_SYSTEM_PARAMETER, an executed proposal) writes one. Keys the ledger does not keep (OTP,
login limits) are untouched.

`Country` is shared by every tenant and changes only through `gx db seed`: a tenant's country
data writes the tenant's own rows, a `LegalTenderStatus` (RECOGNIZED, from the event's time) for
each country that has none. An event naming a country `Country` does not know is dead-lettered
whole (UNKNOWN_COUNTRY), to replay once the country is seeded.

`SystemState` (one row per tenant) follows the ledger's switch: bootstrapped, then paused and
resumed. Events are applied in ledger order, so the last one applied is the state, live or
in a rebuild.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from gxcore.admin.models import Country, LegalTenderStatus, SystemParameter, SystemState
from gxcore.admin.service import add_missing_parameters
from gxcore.enums import LegalTenderStatusEnum
from gxcore.errors import ProjectionRejected
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch


async def set_parameter(batch: Batch, tenant_id: str, key: str, value: str) -> None:
    stmt = insert(SystemParameter).values(tenant_id=tenant_id, param_key=key, param_value=value)
    await batch.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenantId", "paramKey"],
            set_={"param_value": stmt.excluded.param_value, "updated_at": func.now()},
            where=SystemParameter.param_value.is_distinct_from(stmt.excluded.param_value),
        )
    )


async def bootstrapped(batch: Batch, event: LedgerEvent, p: ev.SystemBootstrapped) -> None:
    await add_missing_parameters(batch.session, event.tenant_id, p.parameters)
    await _set_state(batch, event, bootstrapped=True)


async def paused(batch: Batch, event: LedgerEvent, p: ev.SystemPaused) -> None:
    await _set_state(batch, event, paused=True, pause_reason=p.reason)


async def resumed(batch: Batch, event: LedgerEvent, p: ev.SystemResumed) -> None:
    await _set_state(batch, event, paused=False, pause_reason=None)


async def _set_state(batch: Batch, event: LedgerEvent, **values: object) -> None:
    stamp = {"changed_at": event.timestamp, "block_number": event.block_number}
    stmt = insert(SystemState).values(tenant_id=event.tenant_id, **values, **stamp)
    await batch.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenantId"],
            set_={**values, **stamp, "updated_at": func.now()},
        )
    )


async def parameter_updated(batch: Batch, event: LedgerEvent, p: ev.SystemParameterUpdated) -> None:
    await set_parameter(batch, event.tenant_id, p.key, p.new_value)


async def countries_initialized(
    batch: Batch, event: LedgerEvent, p: ev.CountryDataInitialized
) -> None:
    codes = [c.code for c in p.countries]
    known = set(
        await batch.session.scalars(
            select(Country.country_code).where(Country.country_code.in_(codes))
        )
    )
    if unknown := sorted(set(codes) - known):
        raise ProjectionRejected(
            "UNKNOWN_COUNTRY",
            f"countries {', '.join(unknown)} are not in Country; seed them (`gx db seed`), "
            "then replay this entry",
        )
    have = set(
        await batch.session.scalars(
            select(LegalTenderStatus.country_code).where(
                LegalTenderStatus.tenant_id == event.tenant_id,
                LegalTenderStatus.country_code.in_(codes),
            )
        )
    )
    batch.session.add_all(
        LegalTenderStatus(
            tenant_id=event.tenant_id,
            country_code=code,
            status=LegalTenderStatusEnum.RECOGNIZED,
            effective_date=event.timestamp,
        )
        for code in codes
        if code not in have
    )
