"""Which projector process feeds which tenants: claims with a lease (`ProjectorClaim`).

Several projector processes may run at once, each on a group of tenants; a tenant's read models
must be fed by one of them only. A process claims its tenants when it starts, all or none, and
is refused (`ProjectorTenantOwned`, PROJECTOR_TENANT_OWNED) when another process holds one of
them with a lease still running, before it reads a single event. The owner renews its lease
every third of it (`renew`); a crashed or hung owner stops renewing, and once its lease has
expired the next process to start takes the claim over (logged with the previous owner). An
owner id names host and pid: a process of this host that no longer runs is taken over at once
(a supervisor's restart need not wait for the lease).

Every batch re-checks its tenants' claims (`hold`) in its own transaction, locking them
`FOR SHARE`: a takeover waits for that batch to commit, and an owner whose claim was taken over
stops with `ProjectorLeaseLost` instead of applying an event the new owner applies too.

A whole-ledger projector (no tenant list) claims, at start, every registered tenant no other
projector name holds; it is refused when another process of its own name holds one. During the
run it claims each tenant it meets that has no claim (or an expired one of its own name) and
leaves the events of tenants another process holds to that process. Times are the database's
clock.

Checkpoints are kept per projector name: a tenant moved from one name to another starts from
the new name's checkpoint, so move it together with its `ProjectorState` row (or restart the
same name); the `EventLog` position refuses a second application either way.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.tenancy import Database
from gxcore.errors import ProjectorLeaseLost, ProjectorTenantOwned
from gxcore.ledger.port import CHANNEL

log = logging.getLogger(__name__)

DEFAULT_LEASE = 30.0  # seconds


def new_owner_id() -> str:
    """Host, process and a random part: unique per projector process, readable in `status`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claims:
    """One projector process's claims on one channel."""

    db: Database
    name: str
    channel: str = CHANNEL
    lease: float = DEFAULT_LEASE
    owner_id: str = field(default_factory=new_owner_id)
    #: Whole-ledger mode: claim free tenants met in batches, skip those others hold.
    discover: bool = False
    held: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.lease <= 0:
            raise ValueError(f"the lease must be positive, got {self.lease}")

    async def claim(self, tenants: Sequence[str]) -> None:
        """Claim `tenants` (all or none), or raise ProjectorTenantOwned naming their holders."""
        wanted = sorted(set(tenants))
        async with self.db.system(reason=f"projector {self.name}: claim tenants") as session:
            await self._claim(session, wanted, refuse_any_holder=True)

    async def claim_all(self) -> None:
        """Whole-ledger mode: every registered tenant no other projector name holds."""
        async with self.db.system(reason=f"projector {self.name}: claim tenants") as session:
            registered = (await session.execute(_REGISTERED)).scalars().all()
            await self._claim(session, sorted(registered), refuse_any_holder=False)

    async def _claim(
        self, session: AsyncSession, wanted: list[str], *, refuse_any_holder: bool
    ) -> None:
        rows = (await session.execute(_HOLDERS, self._args(wanted))).all()
        dead = await self._expire_crashed(session, rows)
        holders = [
            _Holder(r.tenant, r.name, r.owner, r.expires, r.live and r.owner not in dead)
            for r in rows
        ]
        live = [h for h in holders if h.live and (refuse_any_holder or h.name == self.name)]
        if live:
            raise ProjectorTenantOwned(_owned_message(self.name, live))
        others = {h.tenant for h in holders if h.live}  # other names' tenants: theirs to feed
        for h in holders:
            if not h.live:
                log.warning(
                    "projector %s (%s): taking over tenant %s from %s (%s), whose lease expired "
                    "or whose process ended",
                    self.name, self.owner_id, h.tenant, h.name, h.owner,
                )  # fmt: skip
        wanted = [t for t in wanted if t not in others]
        got = await self._take(session, wanted)
        if len(got) < len(wanted):  # another process claimed one between our read and write
            raise ProjectorTenantOwned(
                f"projector {self.name!r}: tenant(s) {', '.join(sorted(set(wanted) - got))} "
                "were claimed by another projector process at the same moment"
            )
        self.held |= got

    async def _expire_crashed(self, session: AsyncSession, holders: Sequence[Any]) -> list[str]:
        """End at once the claims of holders that are processes of this host no longer running
        (a supervisor's restart need not wait for their lease); their owner ids."""
        dead = sorted({r.owner for r in holders if r.live and _crashed_here(r.owner)})
        if dead:
            await session.execute(_EXPIRE, {"owners": dead, "channel": self.channel})
        return dead

    async def _take(
        self, session: AsyncSession, tenants: Iterable[str], *, same_name: bool = False
    ) -> set[str]:
        """Claim the free or expired ones of `tenants` (with `same_name`, expired claims of this
        projector name only); the ones now ours."""
        tenants = sorted(tenants)
        if not tenants:
            return set()
        args = {**self._args(tenants), "lease": self.lease, "same_name": same_name}
        return set((await session.execute(_TAKE, args)).scalars())

    async def hold(self, session: AsyncSession, tenants: Sequence[str]) -> set[str]:
        """In a batch's transaction: the ones of `tenants` this process feeds, their claims
        locked until the batch ends. Whole-ledger mode claims the free ones first; otherwise a
        claim lost raises ProjectorLeaseLost."""
        if self.discover:
            # Mid-run, only a new tenant or one of this name: its checkpoints are this name's,
            # and the events of another name's tenant already passed would never be read again.
            fresh = [t for t in tenants if t not in self.held]
            if fresh:
                await self._expire_crashed(
                    session, (await session.execute(_HOLDERS, self._args(fresh))).all()
                )
            self.held |= await self._take(session, fresh, same_name=True)
        mine = set((await session.execute(_MINE, self._args(sorted(tenants)))).scalars())
        lost = (self.held & set(tenants)) - mine
        if lost:
            raise ProjectorLeaseLost(_lost_message(self, lost))
        return mine

    async def renew(self) -> None:
        """Extend the lease of every claim held; raise ProjectorLeaseLost if one was taken."""
        if not self.held:
            return
        async with self.db.system(reason=f"projector {self.name}: renew lease") as session:
            rows = await session.execute(
                _RENEW, {"me": self.owner_id, "channel": self.channel, "lease": self.lease}
            )
            kept = set(rows.scalars())
        lost = self.held - kept
        if lost:
            raise ProjectorLeaseLost(_lost_message(self, lost))

    async def release(self) -> None:
        """Give the claims up (a clean stop): the next projector need not wait for the lease."""
        async with self.db.system(reason=f"projector {self.name}: release tenants") as session:
            await session.execute(_RELEASE, {"me": self.owner_id, "channel": self.channel})
        self.held.clear()

    def _args(self, tenants: list[str]) -> dict[str, object]:
        return {"t": tenants, "channel": self.channel, "me": self.owner_id, "name": self.name}


@dataclass(frozen=True)
class _Holder:
    tenant: str
    name: str
    owner: str
    expires: datetime
    live: bool


def _crashed_here(owner_id: str) -> bool:
    """Whether `owner_id` names a process of this host that no longer runs. A reused pid reads
    as alive: then the lease decides, as for another host's process."""
    host, _, rest = owner_id.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _owned_message(name: str, holders: Sequence[_Holder]) -> str:
    held = "; ".join(
        f"tenant {h.tenant} by projector {h.name!r} ({h.owner}) until {h.expires:%H:%M:%S} UTC"
        for h in holders
    )
    return (
        f"projector {name!r} refused: {held}. Each tenant is fed by one projector process; stop "
        "that one, give this one other tenants, or wait for that lease to expire if it crashed"
    )


def _lost_message(claims: Claims, lost: set[str]) -> str:
    return (
        f"projector {claims.name!r} ({claims.owner_id}) lost tenant(s) {', '.join(sorted(lost))}: "
        "its lease expired and another process took them over; stopping"
    )


_REGISTERED = text('SELECT id FROM "Tenant"')

_HOLDERS = text(
    'SELECT "tenantId" AS tenant, "projectorName" AS name, "ownerId" AS owner, '
    '"expiresAt" AS expires, "expiresAt" > CURRENT_TIMESTAMP AS live FROM "ProjectorClaim" '
    'WHERE channel = :channel AND "tenantId" = ANY(CAST(:t AS text[])) AND "ownerId" <> :me '
    'ORDER BY "tenantId" FOR UPDATE'
)

# A row another process inserts meanwhile makes ours wait, then fail the WHERE: not returned.
_TAKE = text(
    'INSERT INTO "ProjectorClaim" ("tenantId", channel, "projectorName", "ownerId", '
    '"claimedAt", "heartbeatAt", "expiresAt") '
    "SELECT t, :channel, :name, :me, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP + make_interval(secs => :lease) FROM unnest(CAST(:t AS text[])) AS t "
    'ON CONFLICT ("tenantId", channel) DO UPDATE SET "projectorName" = EXCLUDED."projectorName", '
    '"ownerId" = EXCLUDED."ownerId", "claimedAt" = EXCLUDED."claimedAt", '
    '"heartbeatAt" = EXCLUDED."heartbeatAt", "expiresAt" = EXCLUDED."expiresAt" '
    'WHERE "ProjectorClaim"."ownerId" = :me OR ("ProjectorClaim"."expiresAt" <= CURRENT_TIMESTAMP '
    'AND (NOT :same_name OR "ProjectorClaim"."projectorName" = :name)) RETURNING "tenantId"'
)

_MINE = text(
    'SELECT "tenantId" FROM "ProjectorClaim" WHERE channel = :channel AND "ownerId" = :me '
    'AND "tenantId" = ANY(CAST(:t AS text[])) ORDER BY "tenantId" FOR SHARE'
)

_RENEW = text(
    'UPDATE "ProjectorClaim" SET "heartbeatAt" = CURRENT_TIMESTAMP, '
    '"expiresAt" = CURRENT_TIMESTAMP + make_interval(secs => :lease) '
    'WHERE channel = :channel AND "ownerId" = :me RETURNING "tenantId"'
)

_EXPIRE = text(
    'UPDATE "ProjectorClaim" SET "expiresAt" = CURRENT_TIMESTAMP - interval \'1 second\' '
    'WHERE channel = :channel AND "ownerId" = ANY(CAST(:owners AS text[]))'
)

_RELEASE = text('DELETE FROM "ProjectorClaim" WHERE channel = :channel AND "ownerId" = :me')
