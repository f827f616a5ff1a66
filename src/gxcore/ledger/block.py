"""One block: the fresh commands of a batch executed in order, then appended to the chain.

Called by the embedded ledger with the head locked. A command seen before (in an earlier block or
earlier in the same batch) is not executed again: it gets its first outcome. A rule a command
breaks rejects that command only; its changes are undone in memory and it emits nothing, while
the rest of the block goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gxcore.ledger import store
from gxcore.ledger.commands import CreateUser, Payload, parse_payload
from gxcore.ledger.contract import Rejected, check_allowed
from gxcore.ledger.handlers import HANDLERS
from gxcore.ledger.port import Command, LedgerEvent, Outcome, OutcomeStatus
from gxcore.ledger.rows import SYSTEM_ACCOUNTS, Chain
from gxcore.ledger.state import BlockState, Tx, tx_id_of

Key = tuple[str, str]


def _parse(command: Command) -> Payload | Rejected:
    try:
        return parse_payload(command.command_type, command.payload)
    except Rejected as rejected:
        return rejected


async def _preload(
    state: BlockState, fresh: dict[Key, Command], parsed: dict[Key, Payload | Rejected]
) -> None:
    """Everything the commands are known to read, in a few statements: tenants' chains and
    parameters, then every account named by a payload (and each tenant's system accounts)."""
    tenants = sorted({c.tenant_id for c in fresh.values()})
    await state.load_tenants(tenants)
    accounts = {(t, a) for t in tenants for a in SYSTEM_ACCOUNTS}
    biometrics = set()
    for key, command in fresh.items():
        payload = parsed[key]
        if isinstance(payload, Rejected):
            continue
        named = HANDLERS[command.command_type].accounts(payload)
        accounts.update((command.tenant_id, account_id) for account_id in named)
        if isinstance(payload, CreateUser):
            biometrics.add((command.tenant_id, payload.biometric_hash))
    await state.load_accounts(accounts)
    if biometrics:
        await state.load_biometrics(biometrics)


async def _run(state: BlockState, tx: Tx, command: Command, payload: Payload | Rejected) -> None:
    if isinstance(payload, Rejected):
        raise payload
    chain = state.cached(Chain, command.tenant_id)
    check_allowed(
        command.command_type,
        bootstrapped=chain is not None,
        paused=chain is not None and chain.paused,
    )
    await HANDLERS[command.command_type].run(tx, payload)


async def execute(
    conn: asyncpg.Connection, height: int, now: datetime, commands: Sequence[Command]
) -> list[Outcome]:
    """Run `commands` as block `height + 1` (none is appended when every command was seen)."""
    keys = [(c.tenant_id, c.request_id) for c in commands]
    known = await store.find_outcomes(conn, keys)
    fresh: dict[Key, Command] = {}
    for key, command in zip(keys, commands, strict=True):
        if key not in known:
            fresh.setdefault(key, command)
    if not fresh:
        return [known[key] for key in keys]

    number = height + 1
    state = BlockState(conn, number, now)
    parsed = {key: _parse(command) for key, command in fresh.items()}
    await _preload(state, fresh, parsed)

    outcomes: dict[Key, Outcome] = {}
    events: list[LedgerEvent] = []
    for key, command in fresh.items():
        tx = Tx(state, command.tenant_id, tx_id_of(*key))
        try:
            await _run(state, tx, command, parsed[key])
        except Rejected as rejected:
            state.end_command(committed=False)
            status, code, message = OutcomeStatus.REJECTED, rejected.code, rejected.message
        else:
            state.end_command(committed=True)
            status, code, message = OutcomeStatus.COMMITTED, None, None
            for event in tx.events:
                events.append(
                    LedgerEvent(
                        tenant_id=command.tenant_id,
                        tx_id=tx.tx_id,
                        block_number=number,
                        event_index=len(events),
                        name=event.name,
                        version=event.version,
                        timestamp=now,
                        payload=event.to_json(),
                    )
                )
        outcomes[key] = Outcome(
            command.tenant_id, command.request_id, tx.tx_id, number, status, code, message
        )

    await state.flush()
    await store.append_block(
        conn,
        number,
        now,
        [(outcomes[key], str(command.command_type)) for key, command in fresh.items()],
        events,
    )
    return [known.get(key) or outcomes[key] for key in keys]
