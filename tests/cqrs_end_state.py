"""The CQRS loop's end state and its invariants, each checked by its own assertion.

`read_end_state` reads the outbox, the ledger's own tables (through the owner: the app roles
cannot reach schema `ledger`) and the read models (through the system scope) of some tenants;
the `check_*` functions assert one invariant each, `check_all` all of them. Used by the chaos
test once relays and projector have drained.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import select

from gxcore.cqrs.models import EventDLQ, EventLog, OutboxCommand, ProjectorState
from gxcore.cqrs.projector import DEFAULT_NAME
from gxcore.db import server
from gxcore.db.tenancy import Database
from gxcore.enums import OffChainTxType, OutboxStatus, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger.port import CHANNEL, Position
from gxcore.ledger.rows import FEE_POOL
from gxcore.wallet.models import Transaction, Wallet

S = OutboxStatus
T = OffChainTxType


@dataclass
class EndState:
    tenants: list[str]
    commands: list[OutboxCommand]
    # ledger.transactions, ledger.events, ledger.accounts rows
    txs: list[Any]
    events: list[Any]
    accounts: list[Any]
    # read models: EventLog (tenant, block, index, tx id, name); EventDLQ (tenant, reason);
    # Wallet (tenant, wallet id, account, balance); Transaction (tenant, wallet id, type,
    # amount, fee); UserProfile (tenant, account, status, onchain status)
    logged: list[Any]
    dead: list[Any]
    wallets: list[Any]
    entries: list[Any]
    profiles: list[Any]
    checkpoints: dict[str, Position]

    @cached_property
    def _balances(self) -> dict[tuple[str, str], Decimal]:
        return {(r["tenant_id"], r["account_id"]): r["balance"] for r in self.accounts}

    @cached_property
    def _txs(self) -> dict[tuple[str, str], Any]:
        return {(r["tenant_id"], r["request_id"]): r for r in self.txs}

    def balance(self, tenant: str, account: str) -> Decimal:
        return self._balances[(tenant, account)]

    def ledger_tx(self, command: OutboxCommand) -> tuple[Any, ...]:
        """(status, tx id, block, code) of the command's ledger transaction; () if none."""
        r = self._txs.get((command.tenant_id, command.request_id))
        return (r["status"], r["tx_id"], r["block_number"], r["code"]) if r else ()


async def ledger_rows(url: str, table: str, tenants: list[str]) -> list[Any]:
    async with server.connect(url) as conn:
        return list(await conn.fetch(f"SELECT * FROM ledger.{table} WHERE tenant_id = ANY($1)",
                                     tenants))  # fmt: skip


async def projected_to(
    db: Database, tenants: list[str], name: str = DEFAULT_NAME
) -> dict[str, Position]:
    """Each tenant's checkpoint (the position of its last event projected)."""
    async with db.system(reason="checkpoints") as session:
        rows = await session.execute(
            select(ProjectorState.tenant_id, ProjectorState.last_block,
                   ProjectorState.last_event_index)
            .where(ProjectorState.tenant_id.in_(tenants), ProjectorState.channel == CHANNEL,
                   ProjectorState.projector_name == name)
        )  # fmt: skip
        return {t: Position(b, i) for t, b, i in rows}


async def ledger_heads(url: str, tenants: list[str]) -> dict[str, Position]:
    """Each tenant's last event on the ledger."""
    async with server.connect(url) as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (tenant_id) tenant_id, block_number, event_index "
            "FROM ledger.events WHERE tenant_id = ANY($1) "
            "ORDER BY tenant_id, block_number DESC, event_index DESC",
            tenants,
        )
    return {r["tenant_id"]: Position(r["block_number"], r["event_index"]) for r in rows}


async def read_end_state(db: Database, url: str, tenants: list[str]) -> EndState:
    async with db.system(reason="end state: read models") as session:

        async def rows(*columns: Any) -> list[Any]:
            model = columns[0].class_
            stmt = select(*columns).where(model.tenant_id.in_(tenants))
            return list((await session.execute(stmt)).all())

        commands = (await session.scalars(
            select(OutboxCommand).where(OutboxCommand.tenant_id.in_(tenants))
        )).all()  # fmt: skip
        logged = await rows(EventLog.tenant_id, EventLog.block_number, EventLog.event_index,
                            EventLog.fabric_tx_id, EventLog.event_name)  # fmt: skip
        dead = await rows(EventDLQ.tenant_id, EventDLQ.reason)
        wallets = await rows(Wallet.tenant_id, Wallet.wallet_id, Wallet.primary_account_id,
                             Wallet.cached_balance)  # fmt: skip
        entries = await rows(Transaction.tenant_id, Transaction.wallet_id, Transaction.type,
                             Transaction.amount, Transaction.fee)  # fmt: skip
        profiles = await rows(UserProfile.tenant_id, UserProfile.fabric_user_id,
                              UserProfile.status, UserProfile.onchain_status)  # fmt: skip
    return EndState(
        tenants=tenants,
        commands=list(commands),
        txs=await ledger_rows(url, "transactions", tenants),
        events=await ledger_rows(url, "events", tenants),
        accounts=await ledger_rows(url, "accounts", tenants),
        logged=logged,
        dead=dead,
        wallets=wallets,
        entries=entries,
        profiles=profiles,
        checkpoints=await projected_to(db, tenants),
    )


# --------------------------------------------------------------------------------------------
# The invariants
# --------------------------------------------------------------------------------------------


def check_commands_final(s: EndState) -> None:
    """Every command ended COMMITTED or FAILED."""
    statuses = Counter(c.status.value for c in s.commands)
    assert set(statuses) <= {"COMMITTED", "FAILED"}, f"commands not final: {statuses}"


def check_ledger_holds_each_command_once(s: EndState) -> None:
    """The ledger holds each (tenant, request id) at most once, and only the outbox's."""
    keys = Counter((r["tenant_id"], r["request_id"]) for r in s.txs)
    twice = [k for k, n in keys.items() if n > 1]
    assert not twice, f"ledger transactions held twice: {twice[:10]}"
    assert len({r["tx_id"] for r in s.txs}) == len(s.txs), "a ledger tx id appears twice"
    commands = {(c.tenant_id, c.request_id) for c in s.commands}
    assert set(keys) == commands, (
        f"on the ledger without a command: {sorted(set(keys) - commands)[:10]}; "
        f"commands never on the ledger: {sorted(commands - set(keys))[:10]}"
    )


def check_committed_on_the_ledger(s: EndState) -> None:
    """A COMMITTED command is a COMMITTED ledger transaction, with its tx id and block."""
    wrong = [
        (c.request_id, c.fabric_tx_id, c.commit_block, s.ledger_tx(c))
        for c in s.commands
        if c.status is S.COMMITTED
        and s.ledger_tx(c) != ("COMMITTED", c.fabric_tx_id, c.commit_block, None)
    ]
    assert not wrong, f"COMMITTED commands the ledger does not hold as committed: {wrong[:10]}"


def check_failed_rejected_on_the_ledger(s: EndState, codes: set[str]) -> None:
    """A FAILED command was rejected by a ledger rule (one of `codes`): a REJECTED ledger
    transaction with the same tx id and code."""
    failed = [c for c in s.commands if c.status is S.FAILED]
    found = Counter(c.error_code for c in failed)
    assert set(found) <= codes, f"failures other than the expected rejections: {found}"
    wrong = [
        (c.request_id, c.error_code, s.ledger_tx(c))
        for c in failed
        if s.ledger_tx(c)[:2] != ("REJECTED", c.fabric_tx_id) or s.ledger_tx(c)[3] != c.error_code
    ]
    assert not wrong, f"FAILED commands the ledger does not hold as rejected: {wrong[:10]}"


def check_event_log(s: EndState) -> None:
    """EventLog holds each ledger event of its tenant exactly once: no duplicate, no gap; the
    checkpoints stand at each tenant's last event; nothing went to the DLQ."""
    assert not s.dead, f"events in the DLQ: {s.dead[:10]}"
    for t in s.tenants:
        expected = Counter(
            (r["block_number"], r["event_index"], r["tx_id"], r["name"])
            for r in s.events
            if r["tenant_id"] == t
        )
        found = Counter(tuple(row[1:]) for row in s.logged if row[0] == t)
        duplicates = [k for k, n in found.items() if n > 1]
        assert not duplicates, f"{t}: events logged twice: {duplicates[:10]}"
        missing, extra = sorted(expected - found), sorted(found - expected)
        assert not missing, f"{t}: {len(missing)} ledger event(s) not in EventLog: {missing[:10]}"
        assert not extra, f"{t}: EventLog rows the ledger does not have: {extra[:10]}"
    heads = {
        r["tenant_id"]: max(
            Position(e["block_number"], e["event_index"])
            for e in s.events
            if e["tenant_id"] == r["tenant_id"]
        )
        for r in s.events
    }
    assert s.checkpoints == heads, f"checkpoints {s.checkpoints} != last ledger events {heads}"


def signed(entry_type: OffChainTxType, amount: Decimal, fee: Decimal) -> Decimal:
    """A history row's effect on its wallet (`gxcore.wallet.handlers`: a SENT row carries the
    fee its sender paid on top of the amount; MINT and RECEIVED rows credit the amount)."""
    if entry_type is T.SENT:
        return -(amount + fee)
    assert entry_type in (T.MINT, T.RECEIVED), f"unexpected history entry {entry_type}"
    return amount


def check_wallets(s: EndState) -> None:
    """Each user account has a wallet whose cachedBalance == the ledger balance == the signed
    sum of its Transaction rows."""
    users = {(r["tenant_id"], r["account_id"]) for r in s.accounts if r["kind"] == "user"}
    assert {(w.tenant_id, w.primary_account_id) for w in s.wallets} == users
    history: dict[str, Decimal] = defaultdict(Decimal)
    for e in s.entries:
        history[e.wallet_id] += signed(e.type, e.amount, e.fee)
    wrong = [
        (w.tenant_id, w.primary_account_id, w.cached_balance, ledger, history[w.wallet_id])
        for w in s.wallets
        if not w.cached_balance
        == (ledger := s.balance(w.tenant_id, w.primary_account_id))
        == history[w.wallet_id]
    ]
    assert not wrong, f"(tenant, account, cached, ledger, history) that differ: {wrong[:10]}"


def check_no_negative_balance(s: EndState) -> None:
    negative = [(r["tenant_id"], r["account_id"]) for r in s.accounts if r["balance"] < 0]
    assert not negative, f"negative ledger balances: {negative}"
    negative = [(w.tenant_id, w.primary_account_id) for w in s.wallets if w.cached_balance < 0]
    assert not negative, f"negative wallet balances: {negative}"


def check_supply(s: EndState, supply: Decimal) -> None:
    """Per tenant, every account together (system pools included) holds what bootstrap put
    in; the fee pool holds exactly the fees the wallets' SENT rows paid."""
    tenant_of = {w.wallet_id: w.tenant_id for w in s.wallets}
    for t in s.tenants:
        total = sum(r["balance"] for r in s.accounts if r["tenant_id"] == t)
        assert total == supply, f"{t}: total supply is {total}, bootstrap put in {supply}"
        fees = sum(e.fee for e in s.entries if tenant_of[e.wallet_id] == t)
        pool = s.balance(t, FEE_POOL)
        assert pool == fees, f"{t}: the fee pool holds {pool}, the wallets paid {fees}"


def check_profiles(s: EndState) -> None:
    """Each profile is ACTIVE on its ledger account, FROZEN while the account is frozen."""
    frozen = {(r["tenant_id"], r["account_id"]): r["frozen"] for r in s.accounts}
    states = {
        True: (UserProfileStatus.FROZEN, "FROZEN"),
        False: (UserProfileStatus.ACTIVE, "ACTIVE"),
    }
    wrong = [
        p
        for p in s.profiles
        if (p.status, p.onchain_status) != states[frozen[(p.tenant_id, p.fabric_user_id)]]
    ]
    assert not wrong, f"profiles not mirroring their account's frozen flag: {wrong[:10]}"


def check_all(s: EndState, *, supply: Decimal, rejections: set[str]) -> None:
    check_commands_final(s)
    check_ledger_holds_each_command_once(s)
    check_committed_on_the_ledger(s)
    check_failed_rejected_on_the_ledger(s, rejections)
    check_event_log(s)
    check_wallets(s)
    check_no_negative_balance(s)
    check_supply(s, supply)
    check_profiles(s)
