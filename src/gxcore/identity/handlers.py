"""Projector handlers for identity: a user's account opened, frozen, unfrozen on the ledger.

UserCreated activates the profile it names (`profileId`, else the profile whose `fabricUserId`
is the account id) and opens its wallet, set-based per batch. An event naming no profile of its
tenant goes to the DLQ as UNKNOWN_PROFILE: the ledger account exists, but nothing here may guess
whose it is.

Handlers converge: applied to a profile already in the state an event leads to, they change
nothing, so a rebuild over live read models gives the same rows. Statuses an operator set
(SUSPENDED, CLOSED) are not overridden by the ledger's freeze flag; `onchainStatus` always
mirrors the account (ACTIVE or FROZEN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, text

from gxcore.db import lifecycle
from gxcore.db.arrays import packed, unpack
from gxcore.enums import UserProfileStatus as S
from gxcore.errors import InvalidTransition, ProjectionRejected
from gxcore.identity.models import UserProfile
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.wallet.handlers import open_wallets

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch

ONCHAIN_ACTIVE, ONCHAIN_FROZEN = "ACTIVE", "FROZEN"
#: Statuses of a profile whose account is on the ledger already: UserCreated leaves them be.
REGISTERED_ON_CHAIN = frozenset({S.ACTIVE, S.FROZEN, S.SUSPENDED, S.CLOSED})


# Profiles are locked while the projector decides: an administrator's concurrent review or
# suspension either happens before (and is seen) or waits, never lost under the projector's write.


async def profile_for_account(batch: Batch, tenant_id: str, account_id: str) -> UserProfile | None:
    return await batch.session.scalar(
        select(UserProfile)
        .where(UserProfile.tenant_id == tenant_id, UserProfile.fabric_user_id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@dataclass
class _Profile:
    tenant_id: str
    status: S
    fabric_user_id: str | None


async def users_created(
    batch: Batch, created: list[tuple[LedgerEvent, ev.UserCreated]]
) -> list[tuple[LedgerEvent, str]]:
    """UserCreated, set-based (registrations come in bursts): one statement reads and locks the
    profiles named, the decisions are made in order in Python, then one statement activates the
    profiles and one opens the wallets. Returns the events refused, with their reasons; nothing
    is written for them (every refusal is decided before the first write)."""
    rows = await batch.session.execute(
        _PROFILES,
        packed(
            tenants=sorted({event.tenant_id for event, _ in created}),
            ids=sorted({p.profile_id for _, p in created if p.profile_id}),
            accounts=sorted({p.user_id for _, p in created}),
        ),
    )
    profiles = {pid: _Profile(t, S(status), fabric) for pid, t, status, fabric in rows}
    by_account = {(p.tenant_id, p.fabric_user_id): pid for pid, p in profiles.items()}
    refused: list[tuple[LedgerEvent, str]] = []
    activated: dict[str, tuple[S, str, object]] = {}
    wallets: list[tuple[str, str, str]] = []
    for event, p in created:
        tenant = event.tenant_id
        pid = p.profile_id if p.profile_id and _owned(profiles, p.profile_id, tenant) else None
        pid = pid or by_account.get((tenant, p.user_id))
        if pid is None:
            why = (
                f"UNKNOWN_PROFILE: no profile {p.profile_id!r} (nor one with fabricUserId "
                f"{p.user_id!r}) in tenant {tenant!r}; register it, then replay this entry"
            )
            refused.append((event, why))
            continue
        profile = profiles[pid]
        if profile.fabric_user_id not in (None, p.user_id):
            why = (
                f"ACCOUNT_MISMATCH: profile {pid} is bound to ledger account "
                f"{profile.fabric_user_id!r}, not {p.user_id!r}"
            )
            refused.append((event, why))
            continue
        if profile.status not in REGISTERED_ON_CHAIN:
            try:
                lifecycle.check(profile.status, S.ACTIVE, what="UserProfile")
            except InvalidTransition as e:
                refused.append((event, f"{e.code}: {e.message}"))
                continue
            profile.status = S.ACTIVE
        profile.fabric_user_id = p.user_id
        by_account[(tenant, p.user_id)] = pid
        activated.setdefault(pid, (profile.status, p.user_id, event.timestamp))
        wallets.append((tenant, pid, p.user_id))
    if activated:
        ids = sorted(activated)
        await batch.session.execute(
            _ACTIVATE,
            {
                **packed(
                    tenants=[profiles[i].tenant_id for i in ids],
                    ids=ids,
                    statuses=[activated[i][0].value for i in ids],
                    accounts=[activated[i][1] for i in ids],
                ),
                "ats": [activated[i][2] for i in ids],
            },
        )
    for tenant, account in await open_wallets(batch.session, wallets):
        batch.wallet_opened(tenant, account)
    return refused


def _owned(profiles: dict[str, _Profile], profile_id: str, tenant_id: str) -> bool:
    # A profile id of another tenant is as good as unknown: never touch another tenant's row.
    found = profiles.get(profile_id)
    return found is not None and found.tenant_id == tenant_id


# Only the batch's tenants: account ids repeat across tenants, and another tenant's profile is
# neither read nor locked here.
_PROFILES = text(
    'SELECT "profileId", "tenantId", "status", "fabricUserId" FROM "UserProfile" '
    f'WHERE "tenantId" = ANY({unpack("tenants")}) AND ("profileId" = ANY({unpack("ids")}) '
    f'OR "fabricUserId" = ANY({unpack("accounts")})) AND "deletedAt" IS NULL '
    'ORDER BY "profileId" FOR UPDATE'
)

# onchainRegisteredAt keeps the first registration; a frozen account stays FROZEN (a rebuild
# meets the state it made).
_ACTIVATE = text(
    'UPDATE "UserProfile" AS p SET "status" = CAST(u.status AS "UserProfileStatus"), '
    '"fabricUserId" = u.account, '
    '"onchainRegisteredAt" = COALESCE(p."onchainRegisteredAt", u.at), '
    "\"onchainStatus\" = CASE WHEN p.\"onchainStatus\" = 'FROZEN' THEN 'FROZEN' ELSE 'ACTIVE' END, "
    '"updatedAt" = CURRENT_TIMESTAMP, "version" = p."version" + 1 '
    f"FROM unnest({unpack('tenants')}, {unpack('ids')}, {unpack('statuses')}, "
    f"{unpack('accounts')}, CAST(:ats AS timestamptz[])) AS u(tenant, id, status, account, at) "
    'WHERE p."tenantId" = u.tenant AND p."profileId" = u.id'
)


async def _set_frozen(batch: Batch, event: LedgerEvent, account_id: str, frozen: bool) -> None:
    profile = await profile_for_account(batch, event.tenant_id, account_id)
    if profile is None:
        raise ProjectionRejected(
            "UNKNOWN_ACCOUNT",
            f"no profile or organization for ledger account {account_id!r} in tenant "
            f"{event.tenant_id!r}",
        )
    profile.onchain_status = ONCHAIN_FROZEN if frozen else ONCHAIN_ACTIVE
    current, target = (S.ACTIVE, S.FROZEN) if frozen else (S.FROZEN, S.ACTIVE)
    if profile.status is current:
        lifecycle.transition(profile, target)


async def wallet_frozen(batch: Batch, event: LedgerEvent, p: ev.WalletFrozen) -> None:
    await _set_frozen(batch, event, p.account_id, True)


async def wallet_unfrozen(batch: Batch, event: LedgerEvent, p: ev.WalletUnfrozen) -> None:
    await _set_frozen(batch, event, p.account_id, False)
