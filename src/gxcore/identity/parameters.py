"""The tenant's integer parameters (SystemParameter), with the defaults where a key is absent."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import SystemParameter
from gxcore.admin.parameters import DEFAULTS


async def read_ints(session: AsyncSession, keys: Iterable[str]) -> dict[str, int]:
    # Read here until admin grows a parameter service; SystemParameter is admin's table.
    keys = tuple(keys)
    rows = await session.execute(
        select(SystemParameter.param_key, SystemParameter.param_value).where(
            SystemParameter.param_key.in_(keys)
        )
    )
    values = {key: int(DEFAULTS[key]) for key in keys}
    values.update({key: int(value) for key, value in rows.all()})
    return values
