"""Is this process ready for work? The checks behind `/readyz` (and `/health`), and the
database-backed numbers `/metrics` shows, read when asked (never by a polling loop).

Ready means, in this order:
- `database`: the system role runs a query;
- `migrations`: the database is at the head revision this code knows (read as the owner, the
  only role that sees Alembic's table);
- `projector`: the projector trails the ledger by at most `ready_max_lag_blocks` blocks and
  `ready_max_lag_seconds` seconds, as `gx projector status` computes it.
Each check gets `probe_timeout` seconds. A probe built without an owner URL or a ledger (an app
embedded by a caller that owns those) reports those checks as skipped, not failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from gxcore.config import Settings
from gxcore.cqrs import operator
from gxcore.cqrs.projector import DEFAULT_NAME, EventSource, ProjectorStatus, status
from gxcore.db import migrate
from gxcore.db.tenancy import Database
from gxcore.enums import OutboxStatus

#: The outbox's depth: every status but COMMITTED (whose count only grows; the relay's
#: throughput counter tells that story).
DEPTH_STATUSES = tuple(s for s in OutboxStatus if s is not OutboxStatus.COMMITTED)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Readiness:
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


@dataclass(frozen=True)
class Snapshot:
    """What `/metrics` reads from the database and the ledger at scrape time."""

    outbox: dict[OutboxStatus, int]
    projector: ProjectorStatus | None  # None without a ledger
    lag_seconds: float


class Probe:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        owner_url: str | None = None,
        ledger: EventSource | None = None,
        projector_name: str = DEFAULT_NAME,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.database = database
        self.owner_url = owner_url
        self.ledger = ledger
        self.projector_name = projector_name
        self.max_lag_blocks = settings.ready_max_lag_blocks
        self.max_lag_seconds = settings.ready_max_lag_seconds
        self.timeout = settings.probe_timeout
        self._clock = clock or (lambda: datetime.now(UTC))

    async def readiness(self) -> Readiness:
        checks = [await self._check("database", self._database)]
        if not checks[0].ok:  # the others would only time out on the same cause
            return Readiness(checks)
        checks.append(await self._check("migrations", self._migrations))
        checks.append(await self._check("projector", self._projector))
        return Readiness(checks)

    async def snapshot(self) -> Snapshot:
        """The gauges' values now; raises TimeoutError past `probe_timeout`."""
        async with asyncio.timeout(self.timeout):
            async with self.database.system(reason="metrics scrape") as session:
                outbox = await operator.counts(session, statuses=DEPTH_STATUSES)
            projector = await self._status() if self.ledger is not None else None
        lag = projector.lag_seconds(self._clock()) if projector else 0.0
        return Snapshot(outbox, projector, lag)

    async def _check(self, name: str, run: Callable[[], Awaitable[str]]) -> Check:
        try:
            async with asyncio.timeout(self.timeout):
                return Check(name, True, await run())
        except TimeoutError:
            return Check(name, False, f"no answer within {self.timeout:g}s")
        except NotReady as e:
            return Check(name, False, str(e))
        except Exception as e:  # noqa: BLE001  (any failure to check is "not ready", named)
            first = str(getattr(e, "orig", None) or e).strip().splitlines()
            return Check(name, False, f"{type(e).__name__}: {first[0] if first else ''}")

    async def _database(self) -> str:
        async with self.database.system_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return "reachable"

    async def _migrations(self) -> str:
        if self.owner_url is None:
            return "skipped: no owner URL given"
        found = await migrate.status(self.owner_url)
        if not found.up_to_date:
            raise NotReady(f"at {', '.join(found.current) or 'no revision'}, head is {found.head}")
        return f"at head {found.head}"

    async def _projector(self) -> str:
        if self.ledger is None:
            return "skipped: no ledger given"
        st = await self._status()
        seconds = st.lag_seconds(self._clock())
        lag = f"{st.lag} block(s), {seconds:.1f}s behind the ledger at block {st.height}"
        if st.lag > self.max_lag_blocks or seconds > self.max_lag_seconds:
            bound = f"{self.max_lag_blocks} block(s), {self.max_lag_seconds:g}s"
            raise NotReady(f"{lag}; the bound is {bound}")
        return lag

    async def _status(self) -> ProjectorStatus:
        assert self.ledger is not None
        return await status(self.database, self.ledger, name=self.projector_name)


class NotReady(Exception):
    """A check ran and found the process not ready (its message says why)."""
