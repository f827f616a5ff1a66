"""One block: the fresh commands of a batch executed in order, then appended to the chain.

The embedded ledger `prepare`s a batch (parses payloads, names accounts) before it takes any
lock, then calls `execute`, which holds the batch's tenants' heads while it runs the commands,
then draws the block's number and appends the block. A command seen before (in an earlier block
or earlier in the same batch) is not executed again: it gets its first outcome. A rule a command
breaks rejects that command only; its changes are undone in memory and it emits nothing, while
the rest of the block goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Batch:
    """A batch made ready before any lock is taken: all of it depends on the commands
    alone, so the locked section only reads state, runs rules and writes."""

    keys: list[Key]
    #: The first command of each key, in order, with its payload (or why it is rejected), its
    #: tx id and the accounts it names.
    unique: dict[Key, Command]
    parsed: dict[Key, Payload | Rejected]
    tx_ids: dict[Key, str]
    accounts: dict[Key, list[Key]]


def prepare(commands: Sequence[Command]) -> Batch:
    """Parse and index `commands`; no database access, so no lock is needed."""
    keys = [(c.tenant_id, c.request_id) for c in commands]
    unique: dict[Key, Command] = {}
    for key, command in zip(keys, commands, strict=True):
        unique.setdefault(key, command)
    parsed = {key: _parse(command) for key, command in unique.items()}
    accounts: dict[Key, list[Key]] = {}
    for key, command in unique.items():
        payload = parsed[key]
        if not isinstance(payload, Rejected):
            named = HANDLERS[command.command_type].accounts(payload)
            accounts[key] = [(command.tenant_id, account_id) for account_id in named]
    return Batch(keys, unique, parsed, {key: tx_id_of(*key) for key in unique}, accounts)


async def _preload(state: BlockState, batch: Batch, fresh: Sequence[Key]) -> None:
    """Everything the commands are known to read, in a few statements: tenants' chains and
    parameters, then every account named by a payload (and each tenant's system accounts)."""
    tenants = sorted({key[0] for key in fresh})
    await state.load_tenants(tenants)
    accounts = {(t, a) for t in tenants for a in SYSTEM_ACCOUNTS}
    biometrics = set()
    for key in fresh:
        accounts.update(batch.accounts.get(key, ()))
        payload = batch.parsed[key]
        if isinstance(payload, CreateUser):
            biometrics.add((key[0], payload.biometric_hash))
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
    conn: asyncpg.Connection, clock: Callable[[], datetime], commands: Batch | Sequence[Command]
) -> list[Outcome]:
    """Run `commands` as the next block (none is appended when every command was seen), in the
    caller's transaction; `clock` gives the block time once the tenants' heads are held.

    The work runs, and commits, under the heads of the batch's tenants only, so blocks of other
    tenants run and commit beside it; the block's number is drawn once its commands have run
    (`store.draw_block`)."""
    batch = commands if isinstance(commands, Batch) else prepare(commands)
    await store.lock_tenants(conn, (key[0] for key in batch.unique))
    known = await store.find_outcomes(conn, list(batch.unique))
    fresh = [key for key in batch.unique if key not in known]
    if not fresh:
        return [known[key] for key in batch.keys]

    now = clock()
    state = BlockState(conn, now)
    await _preload(state, batch, fresh)

    ran: list[tuple[Key, Tx, str | None, str | None]] = []  # (key, tx, code, message)
    for key in fresh:
        command = batch.unique[key]
        tx = Tx(state, command.tenant_id, batch.tx_ids[key])
        try:
            await _run(state, tx, command, batch.parsed[key])
        except Rejected as rejected:
            state.end_command(committed=False)
            ran.append((key, tx, rejected.code, rejected.message))
        else:
            state.end_command(committed=True)
            ran.append((key, tx, None, None))

    number = await store.draw_block(conn)
    outcomes: dict[Key, Outcome] = {}
    events: list[LedgerEvent] = []
    transactions: list[tuple[Outcome, str]] = []
    for key, tx, code, message in ran:
        command = batch.unique[key]
        status = OutcomeStatus.COMMITTED if code is None else OutcomeStatus.REJECTED
        for event in tx.events if code is None else ():
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
        outcome = Outcome(
            command.tenant_id, command.request_id, tx.tx_id, number, status, code, message
        )
        outcomes[key] = outcome
        transactions.append((outcome, str(command.command_type)))

    await state.flush(number)
    await store.append_block(conn, number, now, transactions, events)
    return [known.get(key) or outcomes[key] for key in batch.keys]
