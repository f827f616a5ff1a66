"""The message worker: delivers queued emails, SMS and pushes (`MessageOutbox`) after commit.

One batch is three steps, and no transaction is open while a carrier is talking:
1. **claim** (one statement, its own transaction): up to `batch_size` due PENDING messages get
   one more attempt and a lease (`nextAttemptAt` moves to the lease's end, so a crashed worker's
   messages become due again). `FOR UPDATE SKIP LOCKED` hands each message to one worker only.
2. **send**, outside any transaction: through the `Senders`, `concurrency` at a time, each
   bounded by `send_timeout`. A message past its `expiresAt` (an expired OTP code) is not sent.
3. **record** (one statement): SENT, FAILED, or PENDING again after an exponential backoff with
   equal jitter (the relay's), guarded by the attempt count the claim gave, so a worker whose
   lease was taken over cannot overwrite the new owner's outcome. Leaving PENDING empties the
   body: a code is kept no longer than it takes to deliver it. In the same transaction, a SENT
   message that delivers an in-app notification marks it (`sentViaEmail`/`emailSentAt`,
   `sentViaPush`/`pushSentAt`), and a push token the push service called dead
   (PUSH_TOKEN_INVALID: its message FAILED at once) is deactivated, so it is never used again.

A transient failure (the carrier unreachable or too slow) is retried until `max_attempts`, then
FAILED; any other error fails the message at once. A retry is never due after the message's
expiry, so an expired message is failed (and its body emptied) when it expires, not later.
Delivery is at least once: a worker that dies between sending and recording sends again.

The worker polls every `poll_interval` when idle. `gx messages run` runs it; `gx api` runs one
in its lifespan, so the API's messages go out with no other process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gxcore.cqrs.relay import backoff_seconds
from gxcore.db.arrays import as_text, packed, unpack
from gxcore.db.tenancy import Database
from gxcore.enums import MessageChannel, MessageStatus
from gxcore.errors import GxError, PushTokenInvalid, ValidationFailed
from gxcore.notifications.senders import Senders

log = logging.getLogger(__name__)

S = MessageStatus
EXPIRED = "expired before it could be delivered"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerConfig:
    """How a message worker behaves. The defaults suit one SMTP relay and one SMS gateway."""

    #: Most messages claimed together.
    batch_size: int = 50
    #: Sends in flight at once.
    concurrency: int = 10
    #: A carrier slower than this counts as a transient failure.
    send_timeout: float = 20.0
    #: How long a claim stays with its worker; longer than a whole batch's sends can take.
    lease_seconds: float = 300.0
    #: Longest idle wait between two claims.
    poll_interval: float = 0.1
    #: Attempts after which a transient failure ends FAILED.
    max_attempts: int = 8
    #: Backoff before attempt n+1 is about base * 2^(n-1) seconds, capped at backoff_max.
    backoff_base: float = 5.0
    backoff_max: float = 900.0

    def __post_init__(self) -> None:
        if min(self.batch_size, self.concurrency, self.max_attempts) < 1:
            raise ValidationFailed("batch_size, concurrency and max_attempts must be at least 1")
        rounds = math.ceil(self.batch_size / self.concurrency)
        if not 0 < rounds * self.send_timeout < self.lease_seconds:
            raise ValidationFailed("a batch's sends (send_timeout each) must fit in the lease")
        if self.poll_interval <= 0 or not 0 < self.backoff_base <= self.backoff_max:
            raise ValidationFailed("poll_interval and backoff times must be positive")


@dataclass(frozen=True)
class Claimed:
    tenant_id: str
    id: str
    channel: MessageChannel
    recipient: str
    subject: str | None
    body: str
    attempts: int
    expires_at: datetime | None
    notification_id: str | None = None


@dataclass(frozen=True)
class Result:
    message: Claimed
    status: MessageStatus
    error: str | None = None
    retry_at: datetime | None = None  # for PENDING
    dead_token: bool = False  # a push whose token the push service no longer knows


@dataclass
class Stats:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    #: Outcomes not written because another worker had taken the message over meanwhile.
    lost: int = 0

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _claim_sql(tenant_filter: bool) -> Any:
    only_tenant = 'AND "tenantId" = :tenant' if tenant_filter else ""
    return text(
        f"""
UPDATE "MessageOutbox" AS m
SET attempts = m.attempts + 1, "nextAttemptAt" = :lease_end
FROM (
    SELECT "tenantId", id FROM "MessageOutbox"
    WHERE status = 'PENDING' AND "nextAttemptAt" <= :now {only_tenant}
    ORDER BY "nextAttemptAt"
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
) AS due
WHERE m."tenantId" = due."tenantId" AND m.id = due.id
RETURNING m."tenantId", m.id, m.channel, m.recipient, m.subject, m.body, m.attempts,
          m."expiresAt", m."notificationId"
"""
    )


_RECORD = text(
    f"""
UPDATE "MessageOutbox" AS m
SET status = CAST(r.status AS "MessageStatus"),
    "lastError" = r.error,
    "nextAttemptAt" = COALESCE(r.retry_at, m."nextAttemptAt"),
    "sentAt" = CASE WHEN r.status = 'SENT' THEN :now ELSE m."sentAt" END,
    body = CASE WHEN r.status = 'PENDING' THEN m.body ELSE '' END
FROM unnest({unpack("tenants")}, {unpack("ids")}, {unpack("attempts", "integer")},
            {unpack("statuses")}, {unpack("errors")}, {unpack("retry_at", "timestamptz")})
     AS r(tenant_id, id, attempts, status, error, retry_at)
WHERE m."tenantId" = r.tenant_id AND m.id = r.id
  AND m.status = 'PENDING' AND m.attempts = r.attempts
RETURNING m.id
"""
)
# The notifications that SENT messages of this batch deliver, marked by channel (a notification
# may have an email and pushes in one batch: grouped, so each row is updated once).
_MARK_SENT = text(
    f"""
UPDATE "Notification" AS n
SET "sentViaEmail" = n."sentViaEmail" OR s.email,
    "emailSentAt" = CASE WHEN s.email THEN COALESCE(n."emailSentAt", :now) ELSE n."emailSentAt" END,
    "sentViaPush" = n."sentViaPush" OR s.push,
    "pushSentAt" = CASE WHEN s.push THEN COALESCE(n."pushSentAt", :now) ELSE n."pushSentAt" END
FROM (
    SELECT m."tenantId", m."notificationId",
           bool_or(m.channel = 'EMAIL') AS email, bool_or(m.channel = 'PUSH') AS push
    FROM "MessageOutbox" AS m
    JOIN unnest({unpack("tenants")}, {unpack("ids")}) AS r(tenant_id, id)
      ON m."tenantId" = r.tenant_id AND m.id = r.id
    WHERE m.status = 'SENT' AND m."notificationId" IS NOT NULL
    GROUP BY m."tenantId", m."notificationId"
) AS s
WHERE n."tenantId" = s."tenantId" AND n."notificationId" = s."notificationId"
"""
)
_DEACTIVATE_TOKENS = text(
    f"""
UPDATE "PushToken" AS t SET "isActive" = false
FROM unnest({unpack("tenants")}, {unpack("tokens")}) AS r(tenant_id, token)
WHERE t."tenantId" = r.tenant_id AND t.token = r.token AND t."isActive"
"""
)


class MessageWorker:
    """One message worker. Several may run side by side (tasks or processes)."""

    def __init__(
        self,
        db: Database,
        senders: Senders,
        config: WorkerConfig | None = None,
        *,
        tenant_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.config = config or WorkerConfig()
        self.tenant_id = tenant_id  # only this tenant's messages, when set
        self.stats = Stats()
        self._clock = clock
        self._rng = rng or random.Random()
        self._claim = _claim_sql(tenant_id is not None)
        self._stop = asyncio.Event()
        self._reason = "message worker" + (f" for tenant {tenant_id}" if tenant_id else "")

    # -- the batch ------------------------------------------------------------------------------

    async def run_batch(self) -> Stats:
        """Claim, send and record one batch; returns what happened to it."""
        claimed = await self._claim_due()
        batch = Stats(batches=1, claimed=len(claimed))
        if claimed:
            gate = asyncio.Semaphore(self.config.concurrency)
            results = await asyncio.gather(*(self._send(m, gate) for m in claimed))
            written = await self._record(results)
            for r in results:
                if r.message.id not in written:
                    batch.lost += 1
                elif r.status is S.SENT:
                    batch.sent += 1
                elif r.status is S.FAILED:
                    batch.failed += 1
                else:
                    batch.retried += 1
            if batch.lost:
                log.warning("%d message outcome(s) not recorded, lease taken over", batch.lost)
        self.stats.add(batch)
        return batch

    async def _claim_due(self) -> list[Claimed]:
        now = self._clock()
        params = {
            "now": now,
            "lease_end": now + timedelta(seconds=self.config.lease_seconds),
            "limit": self.config.batch_size,
            **({"tenant": self.tenant_id} if self.tenant_id else {}),
        }
        async with self.db.system(reason=self._reason) as session:
            rows = (await session.execute(self._claim, params)).all()
        return [
            Claimed(
                r.tenantId,
                r.id,
                MessageChannel(r.channel),
                r.recipient,
                r.subject,
                r.body,
                r.attempts,
                r.expiresAt,
                r.notificationId,
            )
            for r in rows
        ]

    async def _send(self, m: Claimed, gate: asyncio.Semaphore) -> Result:
        if m.expires_at is not None and self._clock() >= m.expires_at:
            return Result(m, S.FAILED, error=EXPIRED)
        try:
            async with gate:
                await asyncio.wait_for(self._deliver(m), timeout=self.config.send_timeout)
        except TimeoutError:
            return self._transient(m, f"no answer within {self.config.send_timeout:g}s")
        except PushTokenInvalid as e:
            return replace(self._failed(m, e.message), dead_token=True)
        except GxError as e:
            if e.transient:
                return self._transient(m, e.message)
            return self._failed(m, e.message)
        except Exception as e:  # a sender's bug: not retried blindly
            log.exception("message %s of tenant %s: unexpected error", m.id, m.tenant_id)
            return self._failed(m, str(e) or type(e).__name__)
        return Result(m, S.SENT)

    async def _deliver(self, m: Claimed) -> None:
        if m.channel is MessageChannel.EMAIL:
            await self.senders.email.send_email(
                to=m.recipient, subject=m.subject or "", text=m.body
            )
        elif m.channel is MessageChannel.PUSH:
            if self.senders.push is None:
                raise ValidationFailed("no push sender is configured")
            await self.senders.push.send_push(token=m.recipient, title=m.subject or "", body=m.body)
        else:
            await self.senders.sms.send_sms(to=m.recipient, text=m.body)

    def _transient(self, m: Claimed, error: str) -> Result:
        if m.attempts >= self.config.max_attempts:
            return self._failed(m, f"{error} (gave up after {m.attempts} attempts)")
        retry_at = self._clock() + timedelta(
            seconds=backoff_seconds(m.attempts, self.config, self._rng)
        )
        if m.expires_at is not None:
            retry_at = min(retry_at, m.expires_at)  # failed at its expiry, not kept past it
        return Result(m, S.PENDING, error=error, retry_at=retry_at)

    def _failed(self, m: Claimed, error: str) -> Result:
        log.warning("message %s of tenant %s FAILED: %s", m.id, m.tenant_id, error)
        return Result(m, S.FAILED, error=error)

    async def _record(self, results: Sequence[Result]) -> set[str]:
        params: dict[str, Any] = {
            "now": self._clock(),
            **packed(
                tenants=[r.message.tenant_id for r in results],
                ids=[r.message.id for r in results],
                attempts=[str(r.message.attempts) for r in results],
                statuses=[r.status.value for r in results],
                errors=[r.error for r in results],
                retry_at=[as_text(r.retry_at) for r in results],
            ),
        }
        async with self.db.system(reason=self._reason) as session:
            written = set((await session.scalars(_RECORD, params)).all())
            sent = [r.message for r in results if r.status is S.SENT and r.message.id in written]
            if any(m.notification_id for m in sent):
                await session.execute(
                    _MARK_SENT,
                    {
                        "now": params["now"],
                        **packed(tenants=[m.tenant_id for m in sent], ids=[m.id for m in sent]),
                    },
                )
            dead = [r.message for r in results if r.dead_token and r.message.id in written]
            if dead:
                await session.execute(
                    _DEACTIVATE_TOKENS,
                    packed(tenants=[m.tenant_id for m in dead], tokens=[m.recipient for m in dead]),
                )
            return written

    # -- the loop -------------------------------------------------------------------------------

    async def drain(self) -> Stats:
        """Run batches until none is due (or `stop()`): `gx messages run --once`, and tests."""
        while not self._stop.is_set():
            if not (await self.run_batch()).claimed:
                break
        return self.stats

    async def run(self) -> Stats:
        """Deliver messages until `stop()`; the batch in hand is always finished first."""
        log.info("%s: started", self._reason)
        while not self._stop.is_set():
            try:
                batch = await self.run_batch()
            except (SQLAlchemyError, OSError, asyncpg.PostgresError) as e:
                # The database is away: claimed messages keep their lease and are taken over
                # when it ends. Wait and try again.
                log.warning("%s: database error, retrying: %s", self._reason, e)
                batch = Stats()
            if batch.claimed < self.config.batch_size:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_interval)
                except TimeoutError:
                    pass
        log.info("%s: stopped %s", self._reason, self.stats)
        return self.stats

    def stop(self) -> None:
        """Ask the worker to exit after the batch in hand (safe from a signal handler)."""
        self._stop.set()
