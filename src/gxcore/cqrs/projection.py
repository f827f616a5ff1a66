"""One projector batch: the context handlers write through, and the few statements it ends with.

Handlers come in two kinds (`Projection`):
- `postings`: a pure function from a payload to the balances after the event and the wallet
  history entries it implies (`Posting`). The batch collects them and writes them set-based at
  the end: one statement for every wallet balance, one for every `Transaction` row. This is the
  hot path (genesis, transfers), so it costs no round trip per event.
- `bulk`: an async function given all the batch's pending events of its name at once (user
  accounts opened: registrations come in bursts); it decides every refusal before it writes, then
  writes with a few set-based statements. Pending events are settled before any `handler` runs
  and at the end, so handlers see them.
- `handler`: an async function that writes the rarer read models (freezes, organizations, loans,
  proposals, parameters) through the ORM, each event in its own savepoint, so an event the read
  models refuse (`ProjectionRejected`, `InvalidTransition`) goes to the DLQ alone. An event with
  postings too (a loan disbursed, a multisig transfer executed) keeps them whatever its handler
  does: the ledger moved the money, so the balances apply and only the read-model part waits in
  the DLQ, with the handler's reason.

The session is the system scope's: it spans tenants, so handlers filter by the event's tenant
themselves, always. Nothing here commits; the projector owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.ids import ordered_uuids
from gxcore.cqrs.outbox import LOCK_IN_ID_ORDER
from gxcore.cqrs.postings import Posting, write_postings
from gxcore.db.arrays import packed, unpack
from gxcore.db.lifecycle import allowed
from gxcore.enums import OutboxStatus
from gxcore.errors import InvalidTransition, ProjectionRejected
from gxcore.ledger.events import EVENT_SCHEMAS, EventPayload
from gxcore.ledger.port import LedgerEvent
from gxcore.ledger.state import tx_id_of

Handler = Callable[["Batch", LedgerEvent, Any], Awaitable[None]]
PostingsOf = Callable[[Any], list[Posting]]
#: Takes a batch's events of one name at once; returns those refused, with their reasons.
BulkHandler = Callable[
    ["Batch", list[tuple[LedgerEvent, Any]]], Awaitable[list[tuple[LedgerEvent, str]]]
]


@dataclass(frozen=True)
class Projection:
    """What projecting one event name does; no part at all means the event is only logged."""

    handler: Handler | None = None
    postings: PostingsOf | None = None
    bulk: BulkHandler | None = None


class Mode(Enum):
    LIVE = "live"  # in order, from the checkpoint
    REPLAY = "replay"  # a DLQ entry, out of order: wallets are resynchronised from EventLog
    REBUILD = "rebuild"  # from block 0 into reset read models: no DLQ rows, no outbox marks


@dataclass(frozen=True)
class DeadEvent:
    event: LedgerEvent
    reason: str  # "CODE: detail"


def envelope(event: LedgerEvent) -> dict[str, Any]:
    """The event as received, the DLQ's `rawPayload`, for the operator (replay reads the ledger)."""
    return {
        "tenantId": event.tenant_id,
        "txId": event.tx_id,
        "blockNumber": event.block_number,
        "eventIndex": event.event_index,
        "channel": event.channel,
        "chaincode": event.chaincode,
        "name": event.name,
        "version": event.version,
        "timestamp": event.timestamp.isoformat(),
        "payload": event.payload,
    }


@dataclass(frozen=True, slots=True)
class Checked:
    """An event's payload validated against its schema, or why it cannot be; with what the
    batch will write for it, worked out ahead: its postings and its payload as JSON text."""

    payload: EventPayload | None
    reason: str = ""
    postings: list[Posting] | None = None
    payload_json: str = ""


def check(event: LedgerEvent, table: Mapping[str, Projection]) -> Checked:
    """Pure: no database. The projector runs it for the next batch while one is written, so
    everything here is off the path of the batch in hand."""
    schema = EVENT_SCHEMAS.get((event.name, event.version))
    if schema is None or event.name not in table:
        return Checked(
            None, f"UNKNOWN_EVENT: no schema or handler for {event.name} version {event.version}"
        )
    try:
        payload = schema.model_validate(event.payload)
    except ValidationError as e:
        return Checked(None, f"VALIDATION_FAILED: {_summary(e)}")
    postings_of = table[event.name].postings
    try:
        postings = postings_of(payload) if postings_of is not None else None
        return Checked(payload, "", postings, _json(event.payload))
    except Exception:  # noqa: BLE001  left to the batch, which fails naming the event
        return Checked(payload)


#: Built once: `json.dumps` with options builds an encoder per call, half the cost of a payload.
_json = json.JSONEncoder(separators=(",", ":")).encode


#: Outbox statuses the lifecycle lets move to COMMITTED (LOCKED, SUBMITTED).
_COMMITTABLE = [s.value for s in OutboxStatus if allowed(s, OutboxStatus.COMMITTED)]


@dataclass
class Batch:
    session: AsyncSession
    table: Mapping[str, Projection]
    mode: Mode = Mode.LIVE
    applied: list[LedgerEvent] = field(default_factory=list)
    dead: list[DeadEvent] = field(default_factory=list)
    # (event, posting) in event order; the last balance per account wins.
    postings: list[tuple[LedgerEvent, Posting]] = field(default_factory=list)
    # REPLAY: wallets to recompute from EventLog, (tenant, account).
    resync: set[tuple[str, str]] = field(default_factory=set)
    # REBUILD: the Transaction rows the events imply, (tenant, tx id, account).
    entries: set[tuple[str, str, str]] = field(default_factory=set)
    # Events seen (applied or dead): their outbox commands are committed on the ledger.
    seen: list[LedgerEvent] = field(default_factory=list)
    # Events waiting for their bulk handler, in order.
    pending: list[tuple[BulkHandler, LedgerEvent, Any]] = field(default_factory=list)
    # id(event) -> its payload as JSON text when `check` made it (events outlive the batch).
    logged: dict[int, str] = field(default_factory=dict)

    async def project(self, event: LedgerEvent, checked: Checked | None = None) -> bool:
        """Apply one event (validated by `check` unless given); False when it went to the dead
        list instead (True with its postings applied and its read-model part on the dead
        list)."""
        self.seen.append(event)
        checked = checked or check(event, self.table)
        if checked.payload is None:
            return self._die(event, checked.reason)
        entry, payload = self.table[event.name], checked.payload
        if checked.payload_json:
            self.logged[id(event)] = checked.payload_json
        if entry.bulk is not None:
            self.pending.append((entry.bulk, event, payload))
            if self.mode is not Mode.REPLAY:
                return True  # settled with the others of the batch
            await self.settle()
            return event in self.applied
        if entry.handler is not None:
            await self.settle()
            refused = await self._handle(entry.handler, event, payload)
            if refused is not None:
                if entry.postings is None:
                    return self._die(event, refused)
                self.dead.append(DeadEvent(event, refused))  # the read-model part only
        if entry.postings is not None:
            postings = checked.postings
            self.post(event, entry.postings(payload) if postings is None else postings)
        self.applied.append(event)
        return True

    async def project_read_model(self, event: LedgerEvent) -> None:
        """Replay the read-model part of an event applied already (in EventLog, its balances
        written) whose handler refused it: the handler alone runs again."""
        checked = check(event, self.table)
        if checked.payload is None:
            self._die(event, checked.reason)
            return
        handler = self.table[event.name].handler
        refused = None if handler is None else await self._handle(handler, event, checked.payload)
        if refused is not None:
            self._die(event, refused)

    async def _handle(self, handler: Handler, event: LedgerEvent, payload: Any) -> str | None:
        """Run `handler` in its own savepoint; the reason it refused the event, if it did."""
        try:
            async with self.session.begin_nested():
                await handler(self, event, payload)
        except ProjectionRejected as e:
            return f"{e.reason}: {e.message}"
        except InvalidTransition as e:
            return f"{e.code}: {e.message}"
        return None

    async def settle(self) -> None:
        """Run the bulk handlers over the events waiting for them."""
        pending, self.pending = self.pending, []
        groups: dict[BulkHandler, list[tuple[LedgerEvent, Any]]] = {}
        for bulk, event, payload in pending:
            groups.setdefault(bulk, []).append((event, payload))
        for bulk, items in groups.items():
            refused = await bulk(self, items)
            for event, reason in refused:
                self._die(event, reason)
            dead = {id(event) for event, _ in refused}
            self.applied.extend(event for event, _ in items if id(event) not in dead)

    def post(self, event: LedgerEvent, postings: Iterable[Posting]) -> None:
        for posting in postings:
            if self.mode is Mode.REPLAY:
                self.resync.add((event.tenant_id, posting.account_id))
                continue
            if self.mode is Mode.REBUILD and posting.type is not None:
                self.entries.add((event.tenant_id, event.tx_id, posting.account_id))
            self.postings.append((event, posting))

    def wallet_opened(self, tenant_id: str, account_id: str) -> None:
        """A wallet was created: out of order, it catches up with its account's history."""
        if self.mode is Mode.REPLAY:
            self.resync.add((tenant_id, account_id))

    def _die(self, event: LedgerEvent, reason: str) -> bool:
        self.dead.append(DeadEvent(event, reason))
        return False

    async def flush(self) -> None:
        """Write what the batch collected: EventLog, wallets, outbox marks, DLQ."""
        await self.settle()
        await self._append_event_log()
        if self.resync:
            await self._resync()
        await write_postings(self.session, self.postings, idempotent=self.mode is not Mode.LIVE)
        if self.mode is not Mode.REBUILD:
            await self._mark_outbox()
        if self.mode is Mode.LIVE:
            await self._insert_dead()

    async def _append_event_log(self) -> None:
        events = self.applied
        if not events:
            return
        await self.session.execute(
            _APPEND_EVENT_LOG,
            {
                **packed(
                    id=ordered_uuids(len(events)),
                    tenant=[e.tenant_id for e in events],
                    tx=[e.tx_id for e in events],
                    block=[str(e.block_number) for e in events],
                    idx=[str(e.event_index) for e in events],
                    channel=[e.channel for e in events],
                    chaincode=[e.chaincode for e in events],
                    name=[e.name for e in events],
                    version=[e.version for e in events],
                    payload=[self.logged.get(id(e)) or _json(e.payload) for e in events],
                ),
                "at": [e.timestamp for e in events],
            },
        )

    async def _mark_outbox(self) -> None:
        """COMMITTED with the block, for commands the relay has not recorded yet.

        A command still in flight is found by the tx id the relay recorded or, without one, by
        the ledger's tx id for (tenantId, requestId) (`tx_id_of`): the relay records the tx id
        only with the outcome, and may have died between the submit and that record.
        """
        blocks = {(e.tenant_id, e.tx_id): e.block_number for e in self.seen}
        if not blocks:
            return
        tenants = sorted({tenant for tenant, _ in blocks})
        in_flight = await self.session.execute(_IN_FLIGHT, {"tenants": tenants, "st": _COMMITTABLE})
        ids, txs, numbers = [], [], []
        for row_id, tenant, request_id, recorded in in_flight:
            tx_id = recorded or tx_id_of(tenant, request_id)
            block = blocks.get((tenant, tx_id))
            if block is not None:
                ids.append(row_id)
                txs.append(tx_id)
                numbers.append(block)
        if ids:
            await self.session.execute(
                _MARK_COMMITTED,
                {
                    **packed(ids=ids, txs=txs, blocks=[str(b) for b in numbers]),
                    "st": _COMMITTABLE,
                    "tenants": tenants,
                },
            )

    async def _insert_dead(self) -> None:
        if not self.dead:
            return
        await self.session.execute(
            _INSERT_DEAD,
            packed(
                id=ordered_uuids(len(self.dead)),
                tenant=[d.event.tenant_id for d in self.dead],
                reason=[d.reason for d in self.dead],
                raw=[json.dumps(envelope(d.event)) for d in self.dead],
                tx=[d.event.tx_id for d in self.dead],
                block=[str(d.event.block_number) for d in self.dead],
                idx=[str(d.event.event_index) for d in self.dead],
                channel=[d.event.channel for d in self.dead],
                chaincode=[d.event.chaincode for d in self.dead],
            ),
        )

    async def _resync(self) -> None:
        """Recompute wallets from the events already applied to their accounts, in order.

        Out of order (a DLQ replay), an event's balances may be older than what the wallet
        already shows, and a wallet opened late has missed its account's earlier events. The
        newest applied event that touched the account holds its balance; every such event
        yields its history entry (written idempotently).
        """
        names = [name for name, p in self.table.items() if p.postings is not None]
        for tenant_id, account_id in sorted(self.resync):
            rows = await self.session.execute(
                _ACCOUNT_EVENTS, {"tenant": tenant_id, "names": names, "account": account_id}
            )
            for tx, block, index, channel, chaincode, name, version, payload, at in rows:
                event = LedgerEvent(
                    tenant_id=tenant_id, tx_id=tx, block_number=block, event_index=index or 0,
                    channel=channel, chaincode=chaincode, name=name, version=version,
                    timestamp=at, payload=payload,
                )  # fmt: skip
                parsed: EventPayload = EVENT_SCHEMAS[(name, version)].model_validate(payload)
                postings = self.table[name].postings(parsed)  # type: ignore[misc]
                self.postings.extend((event, p) for p in postings if p.account_id == account_id)


def _summary(error: ValidationError) -> str:
    parts = [
        f"{'.'.join(map(str, err['loc'])) or 'payload'}: {err['msg']}"
        for err in error.errors(include_url=False)[:3]
    ]
    return "; ".join(parts)


_APPEND_EVENT_LOG = text(
    'INSERT INTO "EventLog" ("id", "tenantId", "fabricTxId", "blockNumber", "eventIndex", '
    '"channel", "chaincode", "eventName", "eventVersion", "payload", "txTimestamp") '
    f"SELECT id, t, tx, b, i, c, cc, n, v, p::jsonb, at FROM unnest({unpack('id')}, "
    f"{unpack('tenant')}, {unpack('tx')}, {unpack('block', 'bigint')}, "
    f"{unpack('idx', 'integer')}, {unpack('channel')}, {unpack('chaincode')}, "
    f"{unpack('name')}, {unpack('version')}, {unpack('payload')}, "
    "CAST(:at AS timestamptz[])) AS u(id, t, tx, b, i, c, cc, n, v, p, at)"
)

_IN_FLIGHT = text(
    'SELECT "id", "tenantId", "requestId", "fabricTxId" FROM "OutboxCommand" '
    'WHERE "tenantId" = ANY(CAST(:tenants AS text[])) '
    'AND "status" = ANY(CAST(:st AS "OutboxStatus"[]))'
)

_TENANTS = "CAST(:tenants AS text[])"
# Locked in id order, as the relay locks the rows it records (`LOCK_IN_ID_ORDER`).
_MARK_COMMITTED = text(
    'UPDATE "OutboxCommand" AS o SET "status" = \'COMMITTED\', "fabricTxId" = u.tx, '
    '"commitBlock" = u.block, "updatedAt" = CURRENT_TIMESTAMP, "version" = o."version" + 1 '
    f"FROM unnest({unpack('ids')}, {unpack('txs')}, {unpack('blocks', 'bigint')}) "
    f"AS u(id, tx, block), ({LOCK_IN_ID_ORDER.format(ids=unpack('ids'), tenants=_TENANTS)}) "
    'AS ordered WHERE o."tenantId" = ordered."tenantId" AND o."id" = ordered."id" '
    'AND o."id" = u.id '
    'AND o."status" = ANY(CAST(:st AS "OutboxStatus"[]))'
)

_INSERT_DEAD = text(
    'INSERT INTO "EventDLQ" ("id", "tenantId", "reason", "rawPayload", "fabricTxId", '
    '"blockNumber", "eventIndex", "channel", "chaincode") '
    f"SELECT id, t, r, raw::jsonb, tx, b, i, c, cc FROM unnest({unpack('id')}, "
    f"{unpack('tenant')}, {unpack('reason')}, {unpack('raw')}, {unpack('tx')}, "
    f"{unpack('block', 'bigint')}, {unpack('idx', 'integer')}, {unpack('channel')}, "
    f"{unpack('chaincode')}) AS u(id, t, r, raw, tx, b, i, c, cc)"
)

# Applied events with a top-level payload value equal to the account id, in ledger order.
_ACCOUNT_EVENTS = text(
    'SELECT "fabricTxId", "blockNumber", "eventIndex", "channel", "chaincode", "eventName", '
    '"eventVersion", "payload", "txTimestamp" FROM "EventLog" '
    'WHERE "tenantId" = :tenant AND "eventName" = ANY(CAST(:names AS text[])) '
    "AND jsonb_path_exists(\"payload\", '$.* ? (@ == $a)', jsonb_build_object('a', "
    "CAST(:account AS text))) "
    'ORDER BY "blockNumber", "eventIndex"'
)
