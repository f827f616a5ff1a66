"""The projector: ledger events into read models, exactly once, one transaction per batch.

Each batch reads the next events in ledger order, validates each payload against its schema
(`gxcore.ledger.events.EVENT_SCHEMAS`, by name and version), applies it (`gxcore.cqrs.registry`),
appends `EventLog`, marks the outbox commands behind the events COMMITTED, and advances the
checkpoints, all in one database transaction (`gxcore.cqrs.projection.Batch`). A crash before
the commit leaves nothing behind; the next run reads again from the checkpoint.

Checkpoints: one `ProjectorState` row per (tenant, projector name, channel), holding the
position of the tenant's last event processed. The projector reads every tenant's events in one
global order; a tenant is discovered by its first event, which creates its row. Resuming starts
after the newest checkpoint: everything before it was processed, since batches commit in order.
(A projector given `tenant_id` reads that tenant only and resumes from its row; give it its own
name, or its checkpoint would move the global projector's resume point.)

Exactly once, even with two projectors on one name: a batch locks the checkpoint rows of its
tenants first and skips events at or before them; and `EventLog`'s unique position refuses a
second copy of an event, which rolls the batch back.

Ownership: with `claims` (as `gx projector run` gives it), the process feeds only the tenants it
holds a claim on (gxcore.cqrs.claims): each batch re-checks them, skips the events of tenants
another process holds, and stops with `ProjectorLeaseLost` if one of its own was taken over.

Failures: an event with an unknown name or version, or a payload its schema refuses, goes to
`EventDLQ` with the reason and the event as received, and the projector moves on; so does an
event the read models refuse (`ProjectionRejected`: an unknown profile, say), except that an
event's balance changes (postings) apply even when its read-model handler refuses it: then only
that part goes to the DLQ. Any other error rolls the batch back and is retried with backoff;
then the batch is retried one event per transaction up to where it ended, so the events before
the culprit commit, and on the culprit's last failure the projector stops with
`ProjectorStopped`, naming the event, its checkpoint just before it. A balance change is never
skipped.

Tracing (gxcore.tracing), when on: each batch is a `projector.apply` span, linked to the trace
context of every outbox command behind its events (a batch covers many commands, so a link
each, not a parent), with their ids in `gx.command_ids`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore import tracing
from gxcore.cqrs.checkpoints import advance_checkpoints, lock_checkpoints, resume_position
from gxcore.cqrs.claims import Claims
from gxcore.cqrs.models import EventDLQ, OutboxCommand, ProjectorState
from gxcore.cqrs.projection import Batch, Checked, Projection, check
from gxcore.cqrs.registry import PROJECTIONS
from gxcore.db.reconnect import Reconnect, is_disconnect
from gxcore.db.tenancy import Database
from gxcore.errors import ProjectorLeaseLost, ProjectorStopped
from gxcore.ledger.port import CHANNEL, LedgerEvent, Position

log = logging.getLogger(__name__)

DEFAULT_NAME = "main"
#: Events validated between two yields to the event loop while reading ahead (about 0.5 ms).
_CHECK_CHUNK = 32


class EventSource(Protocol):
    """What the projector needs of a ledger (`gxcore.ledger.port.Ledger` has it)."""

    async def events_after(
        self, position: Position | None, limit: int = 500, *, tenant_id: str | None = None
    ) -> list[LedgerEvent]: ...

    async def height(self) -> int: ...


@dataclass
class Progress:
    """Counts of one batch, or of a run."""

    events: int = 0  # read from the ledger
    applied: int = 0
    dead: int = 0  # sent to the DLQ (whole, or only the read-model part of an applied one)
    skipped: int = 0  # already processed (another projector on the same name got there first)
    position: Position | None = None

    def add(self, other: Progress) -> None:
        self.events += other.events
        self.applied += other.applied
        self.dead += other.dead
        self.skipped += other.skipped
        self.position = other.position or self.position


class Projector:
    def __init__(
        self,
        db: Database,
        source: EventSource,
        *,
        name: str = DEFAULT_NAME,
        channel: str = CHANNEL,
        tenant_id: str | None = None,
        batch_size: int = 500,
        retries: int = 3,
        retry_delay: float = 0.2,
        table: Mapping[str, Projection] = PROJECTIONS,
        claims: Claims | None = None,
    ) -> None:
        if batch_size < 1 or retries < 0:
            raise ValueError("batch_size must be >= 1 and retries >= 0")
        self.db = db
        self.source = source
        self.name = name
        self.channel = channel
        self.tenant_id = tenant_id
        self.batch_size = batch_size
        self.retries = retries
        self.retry_delay = retry_delay
        self.table = table
        #: The process's claims on its tenants (gxcore.cqrs.claims); None: no ownership check
        #: (one projector in-process, as tests and rebuilds run it).
        self.claims = claims
        self._cursor: Position | None = None
        #: Where to read again from after this batch: a tenant taken over mid-run whose events
        #: before the batch were left to its previous owner (None: nothing to read again).
        self._rewind: tuple[Position | None] | None = None
        self._started = False
        # After a batch failed for good: one event per transaction up to this position.
        self._isolate_until: Position | None = None
        self._prefetch: asyncio.Task[list[tuple[LedgerEvent, Checked]]] | None = None
        self._may_read_ahead = asyncio.Event()
        self._reconnect = Reconnect(f"projector {name}")

    async def run(
        self,
        *,
        once: bool = False,
        stop: asyncio.Event | None = None,
        idle_delay: float = 0.5,
        on_batch: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Project batch after batch until `stop` is set (the batch in hand is finished first)
        or, with `once`, until no event is left. Raises ProjectorStopped on an event that cannot
        be applied."""
        stop = stop or asyncio.Event()
        total = Progress()
        try:
            while not stop.is_set():
                progress = await self.step()
                total.add(progress)
                if on_batch is not None and progress.events:
                    on_batch(progress)
                if progress.events == 0:
                    if once:
                        break
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), idle_delay)
        finally:
            await self._drop_prefetch()
        return total

    async def step(self) -> Progress:
        """Project the next batch (empty when caught up), retrying as the module doc says.

        While a batch's writes run on the database, the next batch is read and validated
        (`_prefetch`, `_read`): that Python work overlaps the database's instead of adding to
        it. While the database is away (the primary moving), the batch waits with bounded
        backoff (`Reconnect`) without spending its retries, then resumes from the stored
        checkpoint: a commit cut off mid-answer may have landed."""
        while True:
            try:
                progress = await self._step()
            except Exception as e:
                if not is_disconnect(e):
                    raise
                await self._drop_prefetch()
                self._started = False
                await self._reconnect.wait(e)
                continue
            self._reconnect.reset()
            return progress

    async def _step(self) -> Progress:
        if not self._started:
            async with self.db.system(reason=f"projector {self.name}: resume") as session:
                self._cursor = await resume_position(
                    session, self.name, self.channel, self.tenant_id
                )
            self._started = True
        failures = 0
        while True:
            isolating = self._isolate_until is not None and (
                self._cursor is None or self._cursor < self._isolate_until
            )
            if not isolating:
                self._isolate_until = None
            batch: list[tuple[LedgerEvent, Checked]] = []
            try:
                batch = await self._next(1 if isolating else self.batch_size)
                if not batch:
                    return Progress(position=self._cursor)
                if not isolating:
                    self._prefetch = asyncio.create_task(
                        self._read(batch[-1][0].position, self.batch_size)
                    )
                progress = await self._apply(batch)
            except ProjectorLeaseLost:
                await self._drop_prefetch()
                raise  # another process feeds these tenants now: retrying cannot help
            except Exception as e:  # the batch's transaction rolled back: nothing of it stuck
                await self._drop_prefetch()
                if is_disconnect(e):
                    raise
                failures += 1
                events = [event for event, _ in batch]
                if failures <= self.retries:
                    log.warning(
                        "projector %s: batch failed (%s), retry %d of %d",
                        self.name, first_line(e), failures, self.retries,
                    )  # fmt: skip
                    await asyncio.sleep(self.retry_delay * 2 ** (failures - 1))
                    continue
                if len(events) > 1:
                    self._isolate_until = events[-1].position
                    failures = 0
                    continue
                raise ProjectorStopped(self._stopped(events, failures, e)) from e
            self._cursor = batch[-1][0].position
            if self._rewind is not None:
                (self._cursor,), self._rewind = self._rewind, None
                await self._drop_prefetch()
            return progress

    async def _read(self, after: Position | None, limit: int) -> list[tuple[LedgerEvent, Checked]]:
        """The next events, validated. Read ahead, it works only while `_may_read_ahead` is set,
        when the batch in hand waits on its writes, and in chunks: left to run whenever the event
        loop lets it, validation would hold up that batch's Python work between its statements
        (measured: the database then idled as long as validation took); a chunk delays the
        batch's next statement by half a millisecond at most."""
        await self._may_read_ahead.wait()
        events = await self.source.events_after(after, limit, tenant_id=self.tenant_id)
        checked: list[tuple[LedgerEvent, Checked]] = []
        for start in range(0, len(events), _CHECK_CHUNK):
            await self._may_read_ahead.wait()
            chunk = events[start : start + _CHECK_CHUNK]
            checked.extend((event, check(event, self.table)) for event in chunk)
            await asyncio.sleep(0)
        return checked

    async def _next(self, limit: int) -> list[tuple[LedgerEvent, Checked]]:
        task, self._prefetch = self._prefetch, None
        async with self._read_ahead_allowed():  # nothing else to do until these events are in
            if task is not None and limit == self.batch_size:
                return await task
            if task is not None:
                task.cancel()
            return await self._read(self._cursor, limit)

    @asynccontextmanager
    async def _read_ahead_allowed(self) -> AsyncIterator[None]:
        self._may_read_ahead.set()
        try:
            yield
        finally:
            self._may_read_ahead.clear()

    async def _drop_prefetch(self) -> None:
        task, self._prefetch = self._prefetch, None
        if task is not None:
            task.cancel()
            with suppress(BaseException):
                await task

    async def _apply(self, batch: list[tuple[LedgerEvent, Checked]]) -> Progress:
        if not tracing.enabled():
            return await self._apply_batch(batch, None)
        first, last = batch[0][0].position, batch[-1][0].position
        with tracing.tracer().start_as_current_span(
            "projector.apply",
            kind=tracing.SpanKind.CONSUMER,
            attributes={
                "gx.projector": self.name,
                "gx.events": len(batch),
                "gx.block_from": first.block_number,
                "gx.block_to": last.block_number,
            },
        ) as span:
            progress = await self._apply_batch(batch, span)
            span.set_attributes(
                {
                    "gx.applied": progress.applied,
                    "gx.dead": progress.dead,
                    "gx.skipped": progress.skipped,
                }
            )
            return progress

    async def _apply_batch(
        self, batch: list[tuple[LedgerEvent, Checked]], span: tracing.Span | None
    ) -> Progress:
        events = [event for event, _ in batch]
        tenants = sorted({e.tenant_id for e in events})
        async with self.db.system(reason=f"projector {self.name}") as session:
            mine, taken = set(tenants), set[str]()
            if self.claims is not None:
                before = set(self.claims.held)
                mine = await self.claims.hold(session, tenants)
                taken = self.claims.held - before
            done = await lock_checkpoints(session, self.name, self.channel, sorted(mine))
            if taken:
                mine -= await self._left_behind(events, taken, done)
            work = Batch(session, self.table)
            last: dict[str, Position] = {}
            skipped = 0
            for event, checked in batch:
                if event.tenant_id not in mine:  # another projector process feeds this tenant
                    skipped += 1
                    continue
                checkpoint = done.get(event.tenant_id)
                if checkpoint is not None and event.position <= checkpoint:
                    skipped += 1
                    continue
                await work.project(event, checked)
                last[event.tenant_id] = event.position
            async with self._read_ahead_allowed():  # the batch's writes: the database's turn
                await work.flush()
            await advance_checkpoints(session, self.name, self.channel, last)
            if span is not None:
                await _link_commands(session, span, events)
        for dead in work.dead:
            log.warning(
                "projector %s: %s at %s (tenant %s) sent to the DLQ: %s",
                self.name, dead.event.name, dead.event.position, dead.event.tenant_id,
                dead.reason,
            )  # fmt: skip
        return Progress(
            len(events), len(work.applied), len(work.dead), skipped, events[-1].position
        )

    async def _left_behind(
        self, events: list[LedgerEvent], taken: set[str], done: dict[str, Position]
    ) -> set[str]:
        """Of the tenants this batch took over, those with events before it that were skipped
        while another process held them: this batch leaves them out, and reading starts again
        at the oldest of their checkpoints (the checkpoints skip what was applied since)."""
        behind: dict[str, Position | None] = {}
        for tenant in taken:
            first_here = next(e.position for e in events if e.tenant_id == tenant)
            after = done.get(tenant)
            found = await self.source.events_after(after, 1, tenant_id=tenant)
            if found and found[0].position < first_here:
                behind[tenant] = after
        if behind:
            starts = list(behind.values())
            self._rewind = (None if None in starts else min(p for p in starts if p is not None),)
            log.warning(
                "projector %s: took over %s mid-run; reading again from %s for their events",
                self.name, ", ".join(sorted(behind)), self._rewind[0] or "the start",
            )  # fmt: skip
        return set(behind)

    def _stopped(self, events: list[LedgerEvent], failures: int, error: Exception) -> str:
        cause = f"{type(error).__name__}: {first_line(error)}"
        if not events:
            return (
                f"projector {self.name!r} stopped: reading the ledger failed {failures} times "
                f"({cause}); the checkpoint did not move"
            )
        e = events[0]
        return (
            f"projector {self.name!r} stopped at {e.name} (tenant {e.tenant_id}, block "
            f"{e.block_number}, index {e.event_index}, tx {e.tx_id}) after {failures} failed "
            f"attempts: {cause}. Nothing of this event was applied and the checkpoint stays just "
            "before it; fix the cause, then run the projector again"
        )


async def _link_commands(
    session: AsyncSession, span: tracing.Span, events: list[LedgerEvent]
) -> None:
    """Link `span` to the trace of each outbox command behind `events`. Found by tx id: the
    relay records it with the outcome, and the batch has just recorded it (`Batch.flush`) for
    commands the relay has not finished with."""
    tenants = sorted({e.tenant_id for e in events})
    txs = sorted({e.tx_id for e in events})
    rows = await session.execute(
        select(OutboxCommand.id, OutboxCommand.traceparent)
        .where(OutboxCommand.tenant_id.in_(tenants), OutboxCommand.fabric_tx_id.in_(txs))
        .order_by(OutboxCommand.id)
    )
    ids = []
    for command_id, traceparent in rows:
        ids.append(command_id)
        if (link := tracing.link_to(traceparent, **{tracing.COMMAND_ID: command_id})) is not None:
            span.add_link(link.context, link.attributes)
    span.set_attribute(tracing.COMMAND_IDS, ids)


def first_line(error: BaseException) -> str:
    """An error's first line, for one-line messages."""
    orig = getattr(error, "orig", None)  # a driver error wrapped by SQLAlchemy: the driver's words
    lines = str(orig if orig is not None else error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantState:
    tenant_id: str
    position: Position | None  # None: no event of this tenant processed yet
    updated_at: datetime | None
    dead: int  # entries waiting in the DLQ


@dataclass(frozen=True)
class ProjectorStatus:
    name: str
    channel: str
    height: int  # the ledger's last block
    position: Position | None  # where the projector resumes
    waiting: Position | None  # the first event after it, None when caught up
    tenants: list[TenantState] = field(default_factory=list)
    #: When the ledger committed the first event not projected yet (None when caught up).
    waiting_since: datetime | None = None

    @property
    def lag(self) -> int:
        """Blocks from the first event not projected yet to the ledger's head. Blocks without
        an event to project (only rejected commands, or only other tenants') are no lag."""
        return 0 if self.waiting is None else max(0, self.height - self.waiting.block_number + 1)

    @property
    def dead(self) -> int:
        return sum(t.dead for t in self.tenants)

    def lag_seconds(self, now: datetime) -> float:
        """How long the first event not projected yet has waited; 0 when caught up."""
        return (
            0.0
            if self.waiting_since is None
            else max(0.0, (now - self.waiting_since).total_seconds())
        )


async def status(
    db: Database,
    source: EventSource,
    *,
    name: str = DEFAULT_NAME,
    channel: str = CHANNEL,
    tenant_id: str | None = None,
) -> ProjectorStatus:
    height = await source.height()
    async with db.system(reason=f"projector {name}: status") as session:
        position = await resume_position(session, name, channel, tenant_id)
        waiting = await source.events_after(position, 1, tenant_id=tenant_id)
        states = select(
            ProjectorState.tenant_id, ProjectorState.last_block,
            ProjectorState.last_event_index, ProjectorState.updated_at,
        ).where(ProjectorState.projector_name == name, ProjectorState.channel == channel)  # fmt: skip
        dead = select(EventDLQ.tenant_id, func.count()).group_by(EventDLQ.tenant_id)
        if tenant_id is not None:
            states = states.where(ProjectorState.tenant_id == tenant_id)
            dead = dead.where(EventDLQ.tenant_id == tenant_id)
        rows = (await session.execute(states)).all()
        dead_counts = {t: n for t, n in (await session.execute(dead)).all()}
    tenants = {
        t: TenantState(t, Position(block, index), at, dead_counts.get(t, 0))
        for t, block, index, at in rows
    }
    for t, count in dead_counts.items():
        tenants.setdefault(t, TenantState(t, None, None, count))
    first = waiting[0].position if waiting else None
    since = waiting[0].timestamp if waiting else None
    ordered = sorted(tenants.values(), key=_by_id)
    return ProjectorStatus(name, channel, height, position, first, ordered, since)


def _by_id(state: TenantState) -> str:
    return state.tenant_id
