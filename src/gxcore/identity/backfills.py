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
from gxcore.identity.models import NATIONAL_ID_PLACEHOLDER

_REMAINING = text('SELECT count(*) FROM "UserProfile" WHERE "nationalIdNumber" IS NULL')

# One batch: the next rows to fill in (tenantId, profileId) order, skipping rows a writer holds;
# their approved national id numbers, one profile per number; the update; the keys, in order.
_BATCH = text(
    """
    WITH batch AS (
        SELECT p."tenantId", p."profileId"
        FROM "UserProfile" p
        WHERE p."nationalIdNumber" IS NULL
          AND (p."tenantId", p."profileId") > (:after_tenant, :after_profile)
        ORDER BY p."tenantId", p."profileId"
        LIMIT :size
        FOR UPDATE SKIP LOCKED
    ), approved AS (
        SELECT DISTINCT ON (b."tenantId", b."profileId")
            b."tenantId", b."profileId", d."documentNumber" AS number
        FROM batch b
        JOIN "KYCVerification" v
          ON v."tenantId" = b."tenantId" AND v."profileId" = b."profileId"
         AND v.status = 'APPROVED'
        JOIN "KYCDocument" d
          ON d."tenantId" = v."tenantId" AND d."kycId" = v."kycId"
         AND d."documentType" = 'NATIONAL_ID' AND d."documentNumber" IS NOT NULL
        ORDER BY b."tenantId", b."profileId", v."verifiedAt" DESC NULLS LAST,
                 d."uploadedAt" DESC
    ), usable AS (
        SELECT a.*, row_number() OVER (
            PARTITION BY a."tenantId", a.number ORDER BY a."profileId") AS nth
        FROM approved a
        WHERE NOT EXISTS (
            SELECT 1 FROM "UserProfile" o
            WHERE o."tenantId" = a."tenantId" AND o."nationalIdNumber" = a.number)
    ), filled AS (
    UPDATE "UserProfile" p
    SET "nationalIdNumber" = COALESCE(u.number, :placeholder || p."profileId"),
        "updatedAt" = CURRENT_TIMESTAMP
    FROM batch b
    LEFT JOIN usable u
      ON u."tenantId" = b."tenantId" AND u."profileId" = b."profileId" AND u.nth = 1
    WHERE p."tenantId" = b."tenantId" AND p."profileId" = b."profileId"
    RETURNING p."tenantId", p."profileId"
    )
    -- The database orders the keyset (its collation), so it names the last key too.
    SELECT "tenantId", "profileId" FROM filled ORDER BY "tenantId", "profileId"
    """
)


async def _remaining(session: AsyncSession) -> int:
    return int(await session.scalar(_REMAINING) or 0)


async def _batch(session: AsyncSession, after: Key | None, size: int) -> tuple[Key | None, int]:
    tenant, profile = after if after is not None else ("", "")
    rows = (
        await session.execute(
            _BATCH,
            {
                "after_tenant": tenant,
                "after_profile": profile,
                "size": size,
                "placeholder": NATIONAL_ID_PLACEHOLDER,
            },
        )
    ).all()
    if not rows:
        return None, 0
    return (rows[-1][0], rows[-1][1]), len(rows)


NATIONAL_ID = Backfill(
    name="national-id",
    description="UserProfile.nationalIdNumber from approved KYC national id documents "
    "(placeholder unverified:<profileId> where none)",
    remaining=_remaining,
    batch=_batch,
)
