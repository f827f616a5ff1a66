"""Backfills of identity's columns (`gx db backfill NAME`, gxcore.db.backfill).

`national-id` fills `UserProfile.nationalIdNumber` between the expand revision (53f000e2d96b)
and the contract one (6972afdaa927). The value a real operator has is the number on the user's
national id document that KYC approved (latest approval first); gxcore does not invent one.
A profile with no such document, or whose number another profile of the tenant already holds
(two countries can issue one number), gets the documented placeholder
`unverified:<profileId>` (gxcore.identity.models.national_id_placeholder): unique, never a
real normalized number, and easy to list for follow-up (`WHERE "nationalIdNumber" LIKE
'unverified:%'`).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.backfill import Backfill, Key
from gxcore.identity.models import national_id_placeholder

_REMAINING = text('SELECT count(*) FROM "UserProfile" WHERE "nationalIdNumber" IS NULL')

# A batch is three plain statements over at most `size` keys, so that no plan can go wrong on
# a table whose statistics lag behind (one combined statement took minutes on fresh rows).
# 1. The next rows to fill, in primary-key order, skipping rows a writer holds.
_NEXT = text(
    """
    SELECT "profileId", "tenantId" FROM "UserProfile"
    WHERE "nationalIdNumber" IS NULL AND "profileId" > :after
    ORDER BY "profileId" LIMIT :size
    FOR UPDATE SKIP LOCKED
    """
)
# 2. Their approved national id numbers, the latest approval first.
_APPROVED = text(
    """
    SELECT DISTINCT ON (v."profileId") v."profileId", d."documentNumber"
    FROM "KYCVerification" v
    JOIN "KYCDocument" d ON d."tenantId" = v."tenantId" AND d."kycId" = v."kycId"
    WHERE v."profileId" = ANY(CAST(:profiles AS text[])) AND v.status = 'APPROVED'
      AND d."documentType" = 'NATIONAL_ID' AND d."documentNumber" IS NOT NULL
    ORDER BY v."profileId", v."verifiedAt" DESC NULLS LAST, d."uploadedAt" DESC
    """
)
# ... and which of those numbers another profile of the tenant already holds.
_HELD = text(
    """
    SELECT "tenantId", "nationalIdNumber" FROM "UserProfile"
    WHERE ("tenantId", "nationalIdNumber") IN (
        SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:numbers AS text[])))
    """
)
# 3. The update.
_FILL = text(
    """
    UPDATE "UserProfile" p
    SET "nationalIdNumber" = u.value, "updatedAt" = CURRENT_TIMESTAMP
    FROM unnest(CAST(:tenants AS text[]), CAST(:profiles AS text[]), CAST(:values AS text[]))
        AS u(tenant, profile, value)
    WHERE p."tenantId" = u.tenant AND p."profileId" = u.profile AND p."nationalIdNumber" IS NULL
    """
)


async def _remaining(session: AsyncSession) -> int:
    return int(await session.scalar(_REMAINING) or 0)


async def _batch(session: AsyncSession, after: Key | None, size: int) -> tuple[Key | None, int]:
    rows = (await session.execute(_NEXT, {"after": after[0] if after else "", "size": size})).all()
    if not rows:
        return None, 0
    tenant_of = {profile: tenant for profile, tenant in rows}
    approved: dict[str, str] = {
        profile: number
        for profile, number in await session.execute(_APPROVED, {"profiles": list(tenant_of)})
    }
    held = {
        (tenant, number)
        for tenant, number in await session.execute(
            _HELD,
            {"tenants": [tenant_of[p] for p in approved], "numbers": list(approved.values())},
        )
    }
    values = []
    for profile, tenant in rows:
        number = approved.get(profile)
        if number is None or (tenant, number) in held:
            values.append(national_id_placeholder(profile))
        else:
            held.add((tenant, number))  # one profile per number, within the batch too
            values.append(number)
    await session.execute(
        _FILL,
        {"tenants": [t for _, t in rows], "profiles": [p for p, _ in rows], "values": values},
    )
    return (rows[-1][0],), len(rows)


NATIONAL_ID = Backfill(
    name="national-id",
    description="UserProfile.nationalIdNumber from approved KYC national id documents "
    "(placeholder unverified:<profileId> where none)",
    remaining=_remaining,
    batch=_batch,
)
