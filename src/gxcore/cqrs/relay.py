"""The outbox relay: delivers `OutboxCommand`s to the ledger, set-based, several workers at once.

One batch is three steps and three round trips, whatever its size:
1. **claim** (one statement, its own transaction): up to `batch_size` due commands are marked
   LOCKED under this worker's name; the attempt is counted and the lease's end is written to
   `nextAttemptAt`. `FOR UPDATE SKIP LOCKED` hands each row to one worker only.
2. **submit**: the batch goes to the ledger in one `Ledger.submit` call.
3. **record** (one statement): every outcome is written through `unnest` arrays, guarded by
   `lockedBy` = this worker and status LOCKED, so a worker whose lease was taken over cannot
   overwrite the new owner's result. The rows are locked in id order, as the projector locks
   the commands it marks COMMITTED, so the two never deadlock.

A command is due when `nextAttemptAt` has passed: a new or backed-off PENDING command, or a
LOCKED/SUBMITTED one whose lease expired (its worker died or hung). Taking such a command over is
safe because the ledger is idempotent on (tenantId, requestId): a command the dead worker did get
committed comes back with its first outcome, not executed twice.

Outcomes: committed -> COMMITTED with `fabricTxId`/`commitBlock`; a rejection (a rule broken on
the ledger, permanent) -> FAILED at once with its `errorCode`; a transient failure (ledger
unavailable or too slow) -> PENDING again after an exponential backoff with equal jitter, or
FAILED once the attempt limit is reached. An unexpected error from the ledger is not retried
(only transient errors are): the batch is resubmitted command by command so the one command that
causes it ends FAILED and the rest go through, as many as the lease leaves time for; the others
go back to the queue, due at once, for the next claim.

Wake-up: a dedicated asyncpg connection LISTENs on `NOTIFY_CHANNEL` (sent by `enqueue`), with a
poll every `poll_interval` as the fallback that alone suffices (`listen=False`, e.g. behind a
transaction-mode pooler, where LISTEN is unavailable). `stop()` (SIGTERM) lets the batch in hand
finish; the worker then exits holding no lease.

Tracing (gxcore.tracing), when on: each claimed command gets a `relay.submit` span, a child of
the context stored when it was enqueued, from the submit to the record of its outcome; the
command goes to the ledger with that span's context.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gxcore import tracing
from gxcore.cqrs import metrics
from gxcore.cqrs.outbox import LOCK_IN_ID_ORDER, NOTIFY_CHANNEL
from gxcore.db import lifecycle
from gxcore.db.arrays import as_text, packed, unpack
from gxcore.db.reconnect import Reconnect, is_disconnect
from gxcore.db.tenancy import Database
from gxcore.enums import OutboxStatus
from gxcore.errors import GxError, ValidationFailed
from gxcore.ledger.port import Command, Ledger, Outcome

log = logging.getLogger(__name__)

S = OutboxStatus
#: Statuses a due command may be claimed from (the partial index covers exactly these).
CLAIMABLE = (S.PENDING, S.LOCKED, S.SUBMITTED)
# The statements below move statuses in bulk; the lifecycle table must allow every such move.
for _status in CLAIMABLE:
    lifecycle.check(_status, S.LOCKED, what="OutboxCommand")
for _status in (S.COMMITTED, S.FAILED, S.PENDING):
    lifecycle.check(S.LOCKED, _status, what="OutboxCommand")

TIMEOUT_CODE = "LEDGER_TIMEOUT"
LISTEN_RETRY_SECONDS = 30.0
LEDGER_ERROR_CODE = "LEDGER_ERROR"


@dataclass(frozen=True)
class RelayConfig:
    """How a relay worker behaves. The defaults suit one ledger on the same network."""

    #: Most commands claimed and submitted together (one ledger block). Only due commands are
    #: claimed, so a quiet outbox still sends small blocks at once; under load, big blocks
    #: spread the claim, the block and the record over many commands.
    batch_size: int = 500
    #: How long a claim stays with its worker; after it, another worker may take the command.
    lease_seconds: float = 30.0
    #: A ledger call slower than this counts as a transient failure; shorter than the lease, so
    #: a live worker records its outcome before anyone may take its commands over.
    submit_timeout: float = 10.0
    #: Longest idle wait between two claims (the only wake-up without LISTEN).
    poll_interval: float = 1.0
    #: Attempts (claims) after which a transient failure ends FAILED.
    max_attempts: int = 10
    #: Backoff before attempt n+1 is about base * 2^(n-1) seconds, capped at backoff_max.
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    #: LISTEN for enqueue notifications; off behind a transaction-mode pooler.
    listen: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_attempts < 1:
            raise ValidationFailed("batch_size and max_attempts must be at least 1")
        if not 0 < self.submit_timeout < self.lease_seconds:
            raise ValidationFailed("submit_timeout must be positive and shorter than the lease")
        if self.poll_interval <= 0 or not 0 < self.backoff_base <= self.backoff_max:
            raise ValidationFailed("poll_interval and backoff times must be positive")


class Backoff(Protocol):
    """The part of a worker's configuration `backoff_seconds` reads (any retrying worker's)."""

    @property
    def backoff_base(self) -> float: ...
    @property
    def backoff_max(self) -> float: ...


def backoff_seconds(attempts: int, config: Backoff, rng: random.Random) -> float:
    """Wait before the next attempt, after `attempts` failed ones: equal jitter.

    Half of the exponential step is kept, the other half drawn at random: workers that failed
    together spread out, yet none retries at once against a ledger that has just failed.
    """
    step = min(config.backoff_max, config.backoff_base * 2 ** max(attempts - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class Claimed:
    id: str
    attempts: int
    command: Command
    #: The trace context stored with the command when it was enqueued (None: not traced).
    traceparent: str | None = None


@dataclass(frozen=True)
class Result:
    """What to write for one claimed command."""

    id: str
    status: OutboxStatus
    tx_id: str | None = None
    block: int | None = None
    code: str | None = None
    message: str | None = None
    submitted: bool = False
    retry_in: float | None = None  # seconds, for PENDING


@dataclass
class Stats:
    batches: int = 0
    claimed: int = 0
    committed: int = 0
    failed: int = 0
    retried: int = 0
    #: Outcomes not written because another worker had taken the command over meanwhile.
    lost: int = 0

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_CLAIM = text(
    """
UPDATE "OutboxCommand" AS o
SET status = 'LOCKED', "lockedBy" = :worker, "lockedAt" = now(),
    "nextAttemptAt" = now() + make_interval(secs => :lease),
    attempts = o.attempts + 1, "updatedAt" = now(), "version" = o."version" + 1
FROM (
    SELECT "tenantId", id FROM "OutboxCommand"
    WHERE status IN ('PENDING', 'LOCKED', 'SUBMITTED') AND "nextAttemptAt" <= now()
    ORDER BY "nextAttemptAt"
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
) AS due
WHERE o."tenantId" = due."tenantId" AND o.id = due.id
RETURNING o.id, o."tenantId", o."requestId", o."commandType", o.payload, o.attempts,
          o."createdAt", o.traceparent
"""
)

# lockedBy/lockedAt keep naming the worker that delivered or failed a command; a command back
# in the queue is locked by no one. The error of a retry stays visible until the next outcome.
# The rows are locked in id order first (`ordered`), as the projector locks those it marks
# COMMITTED: two writers that take row locks in one order cannot deadlock.
_RECORD = text(
    f"""
UPDATE "OutboxCommand" AS o
SET status = r.status::"OutboxStatus",
    "fabricTxId" = r.tx_id, "commitBlock" = r.block,
    "errorCode" = r.code, error = r.message,
    "submittedAt" = CASE WHEN r.submitted THEN :submitted_at ELSE o."submittedAt" END,
    "nextAttemptAt" = COALESCE(now() + make_interval(secs => r.retry_in), o."nextAttemptAt"),
    "lockedBy" = CASE WHEN r.status = 'PENDING' THEN NULL ELSE o."lockedBy" END,
    "lockedAt" = CASE WHEN r.status = 'PENDING' THEN NULL ELSE o."lockedAt" END,
    "updatedAt" = now(), "version" = o."version" + 1
FROM unnest({unpack("ids")}, {unpack("statuses")}, {unpack("tx_ids")},
            {unpack("blocks", "bigint")}, {unpack("codes")}, {unpack("messages")},
            {unpack("submitted", "boolean")}, {unpack("retry_in", "float8")})
     AS r(id, status, tx_id, block, code, message, submitted, retry_in),
     ({LOCK_IN_ID_ORDER.format(ids=unpack("ids"), tenants="CAST(:tenants AS text[])")}) AS ordered
WHERE o."tenantId" = ordered."tenantId" AND o.id = ordered.id AND o.id = r.id
  AND o."lockedBy" = :worker AND o.status = 'LOCKED'
RETURNING o.id
"""
)


def new_worker_id() -> str:
    """Unique per worker: host and pid for the operator, a random part so ids never repeat."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Relay:
    """One relay worker. Run several (tasks or processes) side by side; each claims its own rows."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        config: RelayConfig | None = None,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.config = config or RelayConfig()
        self.worker_id = worker_id or new_worker_id()
        self._reconnect = Reconnect(f"relay {self.worker_id}")
        self.stats = Stats()
        self._rng = rng or random.Random()
        self._clock = clock  # seconds, for the lease's end; tests pass one they move by hand
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._listen_retry_at = 0.0  # loop time before which a failed LISTEN is not retried
        self._reason = f"outbox relay {self.worker_id}"

    # -- the batch ------------------------------------------------------------------------------

    async def run_batch(self) -> Stats:
        """Claim, submit and record one batch; returns what happened to it."""
        self._wake.clear()  # a notification from now on means work this claim may have missed
        lease_ends = self._clock() + self.config.lease_seconds  # no earlier than the claim's
        claimed = await self._claim()
        batch = Stats(batches=1, claimed=len(claimed))
        if not claimed:
            return batch
        spans: dict[str, tracing.Span] = {}
        if tracing.enabled():
            claimed, spans = self._traced(claimed)
        try:
            submitted_at = datetime.now(UTC)
            results = await self._deliver(claimed, lease_ends)
            tenants = sorted({c.command.tenant_id for c in claimed})
            written = await self._record(results, submitted_at, tenants)
        except BaseException as e:
            for span in spans.values():
                span.record_exception(e)
                span.set_status(tracing.StatusCode.ERROR, type(e).__name__)
                span.end()
            raise
        if spans:
            _end_spans(spans, results, written)
        commands = {c.id: c.command for c in claimed}
        for r in results:
            if r.id in written and r.status is not S.COMMITTED and r.code:
                metrics.RELAY_FAILURES.labels(code=r.code).inc()
            if r.id not in written:
                batch.lost += 1
            elif r.status is S.COMMITTED:
                batch.committed += 1
            elif r.status is S.FAILED:
                batch.failed += 1
                if r.submitted:  # the ledger's answer, not a failure to reach it
                    c = commands[r.id]
                    log.info(
                        "%s: command %s (%s, tenant %s) rejected by the ledger: %s",
                        self.worker_id, r.id, c.command_type.value, c.tenant_id, r.code,
                        extra={"command_id": r.id, "tenant": c.tenant_id},
                    )  # fmt: skip
            else:
                batch.retried += 1
        for outcome in ("committed", "failed", "retried", "lost"):
            if count := getattr(batch, outcome):
                metrics.RELAY_COMMANDS.labels(outcome=outcome).inc(count)
        if batch.lost:
            log.warning(
                "%s: %d outcome(s) not recorded, lease taken over", self.worker_id, batch.lost
            )
        self.stats.add(batch)
        return batch

    def _traced(self, claimed: list[Claimed]) -> tuple[list[Claimed], dict[str, tracing.Span]]:
        """A `relay.submit` span per command, each a child of the command's stored context;
        the commands then carry their span's context to the ledger."""
        spans: dict[str, tracing.Span] = {}
        out: list[Claimed] = []
        for c in claimed:
            span = tracing.tracer().start_span(
                f"relay.submit {c.command.command_type.value}",
                context=tracing.context_of(c.traceparent),
                kind=tracing.SpanKind.CLIENT,
                attributes={
                    tracing.COMMAND_ID: c.id,
                    tracing.TENANT: c.command.tenant_id,
                    "gx.command_type": c.command.command_type.value,
                    "gx.attempt": c.attempts,
                    "gx.worker": self.worker_id,
                },
            )
            spans[c.id] = span
            out.append(
                replace(c, command=replace(c.command, traceparent=tracing.traceparent(span)))
            )
        return out, spans

    async def _claim(self) -> list[Claimed]:
        params = {
            "worker": self.worker_id,
            "lease": self.config.lease_seconds,
            "limit": self.config.batch_size,
        }
        async with self.db.system(reason=self._reason) as session:
            rows = list((await session.execute(_CLAIM, params)).all())
        # A block executes in order: commands of successive transactions keep theirs (best effort:
        # nothing orders commands of one transaction, or of two batches or workers).
        rows.sort(key=lambda r: (r.createdAt, r.id))
        return [
            Claimed(
                r.id,
                r.attempts,
                Command(r.tenantId, r.requestId, r.commandType, r.payload or {}, command_id=r.id),
                r.traceparent,
            )
            for r in rows
        ]

    async def _deliver(self, claimed: Sequence[Claimed], lease_ends: float) -> list[Result]:
        commands = [c.command for c in claimed]
        try:
            outcomes = await asyncio.wait_for(
                self.ledger.submit(commands), timeout=self.config.submit_timeout
            )
            _check_outcomes(commands, outcomes)
        except TimeoutError:
            message = f"the ledger did not answer within {self.config.submit_timeout:g}s"
            return [self._transient(c, TIMEOUT_CODE, message) for c in claimed]
        except GxError as e:
            if e.transient:
                return [self._transient(c, e.code, e.message) for c in claimed]
            return await self._isolate(claimed, e.code, e, lease_ends)
        # A ledger bug: not retried blindly, yet only the command that causes it fails.
        except Exception as e:  # noqa: BLE001
            return await self._isolate(claimed, LEDGER_ERROR_CODE, e, lease_ends)
        return [_from_outcome(c, o) for c, o in zip(claimed, outcomes, strict=True)]

    async def _isolate(
        self, claimed: Sequence[Claimed], code: str, error: Exception, lease_ends: float
    ) -> list[Result]:
        """Resubmit a failed batch command by command, so only the culprit fails; as many as
        can finish within the lease. The rest go back to the queue, due at once: past the lease
        another worker could take them over while this one still submits them."""
        if len(claimed) == 1:
            log.error(
                "%s: command %s failed: %r", self.worker_id, claimed[0].id, error,
                extra={"command_id": claimed[0].id, "tenant": claimed[0].command.tenant_id},
            )  # fmt: skip
            return [Result(claimed[0].id, S.FAILED, code=code, message=_message(error))]
        log.warning("%s: batch failed (%r); resubmitting one by one", self.worker_id, error)
        results: list[Result] = []
        for i, c in enumerate(claimed):
            if self._clock() + self.config.submit_timeout >= lease_ends:
                left = claimed[i:]
                log.warning(
                    "%s: lease ending; %d command(s) back in the queue unsubmitted",
                    self.worker_id, len(left),
                )  # fmt: skip
                message = f"not resubmitted before the lease ended (batch failed: {error!r})"
                return results + [
                    Result(r.id, S.PENDING, code=code, message=message, retry_in=0.0) for r in left
                ]
            results.extend(await self._deliver([c], lease_ends))
        return results

    def _transient(self, claimed: Claimed, code: str, message: str) -> Result:
        if claimed.attempts >= self.config.max_attempts:
            message = f"{message} (gave up after {claimed.attempts} attempts)"
            return Result(claimed.id, S.FAILED, code=code, message=message)
        delay = backoff_seconds(claimed.attempts, self.config, self._rng)
        return Result(claimed.id, S.PENDING, code=code, message=message, retry_in=delay)

    async def _record(
        self, results: Sequence[Result], submitted_at: datetime, tenants: list[str]
    ) -> set[str]:
        params: dict[str, Any] = {
            "worker": self.worker_id,
            "submitted_at": submitted_at,
            "tenants": tenants,
            **packed(
                ids=[r.id for r in results],
                statuses=[r.status.value for r in results],
                tx_ids=[r.tx_id for r in results],
                blocks=[as_text(r.block) for r in results],
                codes=[r.code for r in results],
                messages=[r.message for r in results],
                submitted=[str(r.submitted) for r in results],
                retry_in=[as_text(r.retry_in) for r in results],
            ),
        }
        async with self.db.system(reason=self._reason) as session:
            return set((await session.scalars(_RECORD, params)).all())

    # -- the loop -------------------------------------------------------------------------------

    async def drain(self) -> Stats:
        """Run batches until none is due (or `stop()`); for `gx relay --once` and tests."""
        while not self._stop.is_set():
            if not (await self.run_batch()).claimed:
                break
        return self.stats

    async def run(self) -> Stats:
        """Deliver commands until `stop()`; the batch in hand is always finished first."""
        log.info(
            "%s: started (%s)", self.worker_id, "LISTEN + poll" if self.config.listen else "poll"
        )
        try:
            while not self._stop.is_set():
                try:
                    batch = await self.run_batch()
                except (DBAPIError, OSError, asyncpg.PostgresError, GxError) as e:
                    if not is_disconnect(e) and isinstance(e, GxError):
                        raise
                    # The database is away: claimed rows keep their lease and are taken over
                    # when it expires. Wait (bounded backoff) and try again.
                    await self._reconnect.wait(e)
                    continue
                self._reconnect.reset()
                if batch.claimed < self.config.batch_size:
                    await self._idle()
        finally:
            await self._close_listener()
        log.info("%s: stopped %s", self.worker_id, self.stats)
        return self.stats

    def stop(self) -> None:
        """Ask the worker to exit after the batch in hand (safe from a signal handler)."""
        self._stop.set()

    async def _idle(self) -> None:
        if self.config.listen:
            await self._ensure_listener()
        waits = [asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(
                waits, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waits:
                w.cancel()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._listen_retry_at:
            return
        try:
            conn = await asyncpg.connect(self.db.listen_url)
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("%s: LISTEN unavailable, polling only for now: %s", self.worker_id, e)
            self._listener = None
            self._listen_retry_at = loop.time() + LISTEN_RETRY_SECONDS
            return
        self._listener = conn
        # Work enqueued while no one listened is found by this claim, not lost.
        self._wake.set()

    def _notified(self, *args: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None


def _end_spans(
    spans: dict[str, tracing.Span], results: Sequence[Result], written: set[str]
) -> None:
    for r in results:
        span = spans.pop(r.id)
        span.set_attribute("gx.outcome", r.status.value)
        if r.tx_id is not None:
            span.set_attribute("gx.tx_id", r.tx_id)
        if r.block is not None:
            span.set_attribute("gx.block", r.block)
        if r.code is not None:
            span.set_attribute("gx.error_code", r.code)
        if r.id not in written:
            span.set_attribute("gx.lost", True)  # another worker had taken the command over
        if r.status is not S.COMMITTED:
            span.set_status(tracing.StatusCode.ERROR, r.code or r.status.value)
        span.end()
    for span in spans.values():  # no result: cannot happen, but a span is never left open
        span.end()


def _check_outcomes(commands: Sequence[Command], outcomes: Sequence[Outcome]) -> None:
    keys = [(c.tenant_id, c.request_id) for c in commands]
    if [(o.tenant_id, o.request_id) for o in outcomes] != keys:
        raise RuntimeError("the ledger's outcomes do not match the commands submitted")


def _from_outcome(claimed: Claimed, outcome: Outcome) -> Result:
    if outcome.committed:
        status, code, message = S.COMMITTED, None, None
    else:
        status, code, message = S.FAILED, outcome.code or "REJECTED", outcome.message
    return Result(
        claimed.id,
        status,
        tx_id=outcome.tx_id,
        block=outcome.block_number,
        code=code,
        message=message,
        submitted=True,
    )


def _message(error: Exception) -> str:
    return str(error) or type(error).__name__
