"""The Ledger port: what gxcore's CQRS loop needs from a ledger, whatever runs behind it.

The outbox relay calls `submit`; the projector calls `events_after`. Two implementations fit:
the embedded reference ledger (`gxcore.ledger.embedded`) and, in production, a gateway to the GX
chaincode on Hyperledger Fabric. Both obey spec/ledger.md and pass `tests/ledger_contract.py`.

Guarantees every implementation gives:
- `submit` is atomic: the commands of one call commit together in one block, or (on
  `LedgerUnavailable`) none of them does. A rule a command breaks is not an exception but an
  outcome (`REJECTED` with a permanent code); the other commands of the block still commit.
- Idempotent on `(tenant_id, request_id)`: a command seen before, in any earlier block or twice
  in one call, is not executed again; its first outcome (same tx id, same block) is returned.
- Events are read in `(block_number, event_index)` order and only from complete blocks; a reader
  that has seen position P never later finds an event before P.
- Every command but BOOTSTRAP_SYSTEM needs its tenant bootstrapped first (NOT_BOOTSTRAPPED).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from gxcore.enums import CommandType

CHANNEL = "gxchannel"
CHAINCODE = "gxtv3"
EVENT_VERSION = "1.0"


_COMMAND_TYPES = {t.value: t for t in CommandType}


@dataclass(frozen=True)
class Command:
    """One contract call. `payload` keys are camelCase as in `gxcore.ledger.commands`.

    `command_id` (the outbox row) and `traceparent` (the W3C trace context of the caller's span)
    travel with the call for tracing only, as a gateway's call metadata would: they are no part
    of the command, its identity or its outcome."""

    tenant_id: str
    request_id: str
    command_type: CommandType
    payload: Mapping[str, Any] = field(default_factory=dict)
    command_id: str | None = field(default=None, compare=False)
    traceparent: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.request_id:
            raise ValueError("a command needs a tenant_id and a request_id")
        # Accept the enum's string value too (an outbox row stores it as text); a dict lookup
        # first, as the relay builds hundreds of commands per batch.
        if type(self.command_type) is not CommandType:
            value = self.command_type
            found = _COMMAND_TYPES.get(value) if isinstance(value, str) else None
            object.__setattr__(self, "command_type", found or CommandType(value))


class OutcomeStatus(StrEnum):
    COMMITTED = "COMMITTED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Outcome:
    """What became of one command. A rejection is recorded too (tx id and block, like Fabric's
    invalid transactions) so that resubmitting it returns the same rejection."""

    tenant_id: str
    request_id: str
    tx_id: str
    block_number: int
    status: OutcomeStatus
    code: str | None = None
    message: str | None = None

    @property
    def committed(self) -> bool:
        return self.status is OutcomeStatus.COMMITTED


@dataclass(frozen=True, order=True)
class Position:
    """A place in the event stream; positions compare in reading order."""

    block_number: int
    event_index: int


@dataclass(frozen=True, kw_only=True)
class LedgerEvent:
    """A contract event. `payload` validates against `gxcore.ledger.events.EVENT_SCHEMAS`."""

    tenant_id: str
    tx_id: str
    block_number: int
    event_index: int
    channel: str = CHANNEL
    chaincode: str = CHAINCODE
    name: str
    version: str = EVENT_VERSION
    timestamp: datetime
    payload: dict[str, Any]

    @property
    def position(self) -> Position:
        return Position(self.block_number, self.event_index)


@runtime_checkable
class Ledger(Protocol):
    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        """Execute `commands` in one block; one outcome per command, in the same order.

        Raises `gxcore.errors.LedgerUnavailable` (transient) when the ledger cannot take the
        batch; then nothing of it committed and the same batch may be resubmitted as is.
        """
        ...

    async def events_after(
        self, position: Position | None, limit: int = 500, *, tenant_id: str | None = None
    ) -> list[LedgerEvent]:
        """Up to `limit` events after `position` (from the start when None), in order.

        With `tenant_id`, only that tenant's events (positions stay the global ones).
        """
        ...

    async def height(self) -> int:
        """Number of the last committed block; 0 while the ledger is empty."""
        ...

    async def close(self) -> None:
        """Release connections; the ledger cannot be used afterwards."""
        ...
