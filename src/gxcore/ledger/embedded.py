"""The embedded reference ledger: the Ledger port on PostgreSQL, in its own schema `ledger`.

    ledger = await EmbeddedLedger.open(owner_url)     # or open_ledger(owner_url, settings)
    outcomes = await ledger.submit(commands)           # one block, atomic
    events = await ledger.events_after(position)
    await ledger.close()

It connects as the database owner (the application roles cannot reach schema `ledger`). Each
`submit` is one database transaction. It first locks the heads of its commands' tenants (rows
of `ledger.tenant_heads`), so one tenant's blocks run and commit strictly one after the other,
in number order, while other tenants' blocks run and commit beside them. Block numbers are
global; a reader of every tenant reads up to the stable height (every block up to it committed
or rolled back), so it never sees a block appear before a position it passed. A block costs a
handful of statements whatever its size (see `gxcore.ledger.store`).

Block time is read once the tenants' heads are held, so one tenant's block times never go
back; across tenants, a later block number may carry an earlier time.

Block time is the `clock`'s reading when the block executes (UTC now by default; Fabric likewise
takes the proposal's timestamp). Every rule that reads time (multisig expiry, voting periods, the
velocity-tax cycle) reads it, never the wall clock, so replaying the same commands with the same
clock readings yields the same state and events; tests pass a clock they move by hand.

The fault switch (`fault_rate`, `fault_delay_ms`; settings `GX_LEDGER_FAULT_*`) makes a share of
submits fail with `LedgerUnavailable` after doing all their work, so nothing commits, and delays
each submit, for tests and chaos drills. A `seed` makes the failures reproducible.

Tracing (gxcore.tracing), when on: each command of a submit gets a `ledger.execute` span, a
child of the context the command carries (the relay's span), from the block's start to its
commit, with the outcome, tx id and block number.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import asyncpg
from sqlalchemy.engine import URL

from gxcore import tracing
from gxcore.config import Settings
from gxcore.db.engine import libpq_url
from gxcore.db.server import CONNECT_TIMEOUT, redacted
from gxcore.errors import ConfigurationError, LedgerError, LedgerUnavailable
from gxcore.ledger import block, store
from gxcore.ledger.port import Command, LedgerEvent, Outcome, Position

Clock = Callable[[], datetime]

#: Driver errors after which the same submit may succeed: lost connections, serialization
#: failures and deadlocks, cancelled statements, a server short of resources or shutting down.
_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.TransactionRollbackError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.LockNotAvailableError,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmbeddedLedger:
    """Build with `open`; implements `gxcore.ledger.port.Ledger`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        fault_rate: float = 0.0,
        fault_delay_ms: int = 0,
        seed: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ConfigurationError(f"ledger fault rate must be within 0..1, got {fault_rate}")
        if fault_delay_ms < 0:
            raise ConfigurationError(f"ledger fault delay must be >= 0 ms, got {fault_delay_ms}")
        self._pool = pool
        self._fault_rate = fault_rate
        self._fault_delay = fault_delay_ms / 1000
        self._rng = random.Random(seed)
        self._clock = clock or _utc_now
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str | URL,
        *,
        fault_rate: float = 0.0,
        fault_delay_ms: int = 0,
        seed: int | None = None,
        clock: Clock | None = None,
        pool_size: int = 4,
    ) -> EmbeddedLedger:
        """Connect to the database at `url` (the owner's address, either URL form)."""
        try:
            pool = await asyncpg.create_pool(
                libpq_url(url),
                min_size=1,
                max_size=pool_size,
                init=store.init_connection,
                timeout=CONNECT_TIMEOUT,
            )
        except _TRANSIENT as e:
            raise LedgerUnavailable(f"cannot reach the ledger at {redacted(url)}: {e}") from e
        except asyncpg.PostgresError as e:
            raise LedgerError(f"cannot open the ledger at {redacted(url)}: {e}") from e
        try:
            return cls(
                pool,
                fault_rate=fault_rate,
                fault_delay_ms=fault_delay_ms,
                seed=seed,
                clock=clock,
            )
        except ConfigurationError:
            await pool.close()
            raise

    async def close(self) -> None:
        self._closed = True
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- the port ---------------------------------------------------------------------------

    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        commands = list(commands)
        if not commands:
            return []
        self._check_open()
        if not tracing.enabled():
            return await self._submit(commands)
        spans = [_execute_span(c) for c in commands]
        try:
            outcomes = await self._submit(commands)
        except BaseException as e:
            for span in spans:
                span.record_exception(e)
                span.set_status(tracing.StatusCode.ERROR, type(e).__name__)
                span.end()
            raise
        for span, outcome in zip(spans, outcomes, strict=True):
            span.set_attributes(
                {
                    "gx.outcome": outcome.status.value,
                    "gx.tx_id": outcome.tx_id,
                    "gx.block": outcome.block_number,
                }
            )
            if not outcome.committed:
                span.set_attribute("gx.error_code", outcome.code or "REJECTED")
                span.set_status(tracing.StatusCode.ERROR, outcome.code or "REJECTED")
            span.end()
        return outcomes

    async def _submit(self, commands: list[Command]) -> list[Outcome]:
        # Drawn before any work, so a seeded run fails the same submits every time.
        fail = self._fault_rate > 0 and self._rng.random() < self._fault_rate
        if self._fault_delay:
            await asyncio.sleep(self._fault_delay)
        batch = block.prepare(commands)  # before the lock: parsing reads no state
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcomes = await block.execute(conn, self._block_time, batch)
                if fail:  # after the work, so the rollback is what keeps the batch out
                    raise LedgerUnavailable("injected ledger fault (GX_LEDGER_FAULT_RATE)")
                return outcomes
        except _TRANSIENT as e:
            raise LedgerUnavailable(f"the ledger did not commit the batch: {e}") from e
        except asyncpg.PostgresError as e:
            raise LedgerError(f"the ledger failed on the batch: {e}") from e

    async def events_after(
        self, position: Position | None, limit: int = 500, *, tenant_id: str | None = None
    ) -> list[LedgerEvent]:
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        self._check_open()
        try:
            async with self._pool.acquire() as conn:
                return await store.events_after(conn, position, limit, tenant_id)
        except _TRANSIENT as e:
            raise LedgerUnavailable(f"cannot read the ledger's events: {e}") from e

    async def height(self) -> int:
        self._check_open()
        try:
            async with self._pool.acquire() as conn:
                return await store.height(conn)
        except _TRANSIENT as e:
            raise LedgerUnavailable(f"cannot read the ledger's height: {e}") from e

    # --- helpers ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError("the ledger is closed")

    def _block_time(self) -> datetime:
        now = self._clock()
        if now.utcoffset() is None:
            raise ConfigurationError(f"the ledger clock gave a naive datetime: {now.isoformat()}")
        return now.astimezone(UTC)


def _execute_span(command: Command) -> tracing.Span:
    attributes = {
        tracing.TENANT: command.tenant_id,
        "gx.command_type": command.command_type.value,
        "gx.request_id": command.request_id,
    }
    if command.command_id is not None:
        attributes[tracing.COMMAND_ID] = command.command_id
    return tracing.tracer().start_span(
        f"ledger.execute {command.command_type.value}",
        context=tracing.context_of(command.traceparent),
        kind=tracing.SpanKind.SERVER,
        attributes=attributes,
    )


async def open_ledger(url: str | URL, settings: Settings) -> EmbeddedLedger:
    """The embedded ledger with the settings' fault switch."""
    return await EmbeddedLedger.open(
        url,
        fault_rate=settings.ledger_fault_rate,
        fault_delay_ms=settings.ledger_fault_delay_ms,
        seed=settings.ledger_fault_seed,
    )
