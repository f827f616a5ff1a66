"""The steps of `gx db seed` (and of `gx up`): reference data the features load.

db/ knows no feature, so each feature registers its step here (`gxcore.cli` does it for all of
them) and `gx db seed` runs them in order, in one transaction as the database owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.errors import ConfigurationError

#: (session, tenant id) -> what the step did, in words, for the command's output.
SeedStep = Callable[[AsyncSession, str], Awaitable[str]]

_STEPS: list[SeedStep] = []


def register(step: SeedStep) -> None:
    if step not in _STEPS:
        _STEPS.append(step)


async def run(session: AsyncSession, tenant_id: str) -> list[str]:
    """Run every registered step for `tenant_id`; the caller owns the transaction."""
    if not _STEPS:
        raise ConfigurationError("no seed steps are registered (gxcore.cli registers them)")
    return [await step(session, tenant_id) for step in _STEPS]
