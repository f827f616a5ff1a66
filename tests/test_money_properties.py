"""Money through the real loop, as properties: random interleavings of genesis, transfers (with
fees, beyond the available balance, under repeated idempotency keys), freezes and settles.

Each example is a fresh group of users in the `loop` of test_money_api (the app as gx_app, the
relay, the embedded ledger and the projector on a private database) next to a model of the
ledger in plain Decimal arithmetic. After every step the API's balances, holds included, must be
the model's; after every settle the ledger, the read models and the commands' outcomes must
agree with the model and with each other, and no money may appear or vanish.

Commands are relayed in the order they were accepted (the relay sorts a batch by `createdAt`,
and here each request is its own transaction), so the model can replay a settle exactly: a
freeze accepted before a transfer reaches the ledger first and makes that transfer fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gxcore.admin.service import ledger_params
from gxcore.cqrs.models import EventLog, OutboxCommand
from gxcore.db.engine import create_engine
from gxcore.enums import OffChainTxType, OutboxStatus
from gxcore.ledger.contract import BPS, QUANTUM, ZERO, Params, transfer_fee
from gxcore.ledger.rows import FEE_POOL, GENESIS_POOL
from gxcore.ledger.state import tx_id_of
from gxcore.wallet.models import Transaction, TransferHold, Wallet
from tests.test_money_api import Loop, loop  # noqa: F401
from tests.test_registration import assert_problem

COMMITTED, FAILED = OutboxStatus.COMMITTED, OutboxStatus.FAILED
SENT, RECEIVED, MINT = OffChainTxType.SENT, OffChainTxType.RECEIVED, OffChainTxType.MINT

# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """An amount as a share of the sender's available balance at the time of the request."""

    of_available: Fraction


@dataclass(frozen=True)
class Edge:
    """The largest amount whose amount + fee the available balance covers, or one unit more."""

    over: bool


@dataclass(frozen=True)
class Send:
    sender: int  # indexes into the example's users, modulo their number
    receiver: int
    amount: Decimal | Share | Edge
    key: int | None  # an Idempotency-Key, from a small set so that keys repeat
    terse: bool  # "12.5" instead of "12.500000000": the same amount


@dataclass(frozen=True)
class Replay:
    """An earlier request with an Idempotency-Key, again: the same one, or another amount."""

    which: int
    same: bool


@dataclass(frozen=True)
class Freeze:
    who: int
    freeze: bool  # False: unfreeze


@dataclass(frozen=True)
class Genesis:
    who: int


@dataclass(frozen=True)
class Join:
    """A new user (approved, so the loop settles), with or without a genesis requested."""

    genesis: bool


@dataclass(frozen=True)
class Settle:
    pass


Op = Send | Replay | Freeze | Genesis | Join | Settle

index = st.integers(0, 7)
amounts: st.SearchStrategy[Decimal | Share | Edge] = st.one_of(
    st.decimals(min_value=QUANTUM, max_value=Decimal(1200), places=9),
    # Around the fee threshold (3 by default: fees start above it) and the smallest unit.
    st.sampled_from([Decimal(x) for x in ("0.000000001", "2.999999999", "3", "3.000000001")]),
    st.builds(Share, st.fractions(min_value=0, max_value=Fraction(11, 10), max_denominator=1000)),
    st.builds(Edge, st.booleans()),
)
sends = st.builds(Send, index, index, amounts, st.none() | st.integers(0, 2), st.booleans())
ops: st.SearchStrategy[Op] = st.one_of(
    sends,
    sends,
    sends,
    sends,
    st.builds(Replay, index, st.booleans()),
    st.builds(Freeze, index, st.booleans()),
    st.builds(Genesis, index),
    st.builds(Join, st.booleans()),
    st.just(Settle()),
)

# --------------------------------------------------------------------------------------------
# The model: what the ledger holds, and what it will do with the commands not yet relayed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    id: str
    kind: str  # transfer, freeze, unfreeze, genesis
    profile: str  # the sender, the wallet's owner, genesis's receiver
    receiver: str = ""
    amount: Decimal = ZERO
    fee: Decimal = ZERO


@dataclass(frozen=True)
class Expected:
    status: int
    code: str | None = None
    replay_of: str | None = None  # the command an idempotent replay answers with
    fee: Decimal = ZERO


@dataclass
class Model:
    params: Params
    #: Ledger balances and freezes as of the last settle, which the projector has mirrored.
    balance: dict[str, Decimal] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    genesis: dict[str, str] = field(default_factory=dict)  # profile -> its genesis command
    pending: list[Command] = field(default_factory=list)  # accepted, in order, not relayed
    transfers: dict[str, Command] = field(default_factory=dict)  # every accepted transfer
    keys: dict[tuple[str, str], tuple[str, Decimal, str]] = field(default_factory=dict)
    outcomes: dict[str, tuple[OutboxStatus, str | None]] = field(default_factory=dict)
    fees: Decimal = ZERO  # into the fee pool
    minted: Decimal = ZERO  # out of the genesis pool

    def join(self, profile: str) -> None:
        self.balance[profile], self.frozen[profile] = ZERO, False

    def held(self, profile: str) -> Decimal:
        mine = (c for c in self.pending if c.kind == "transfer" and c.profile == profile)
        return sum((c.amount + c.fee for c in mine), ZERO)

    def available(self, profile: str) -> Decimal:
        return self.balance[profile] - self.held(profile)

    def decide(self, sender: str, receiver: str, amount: Decimal, key: str | None) -> Expected:
        """The API's answer to a transfer request, in the order the service checks."""
        if self.frozen[sender]:  # its owner is frozen too: no session is let through
            return Expected(403, "ACCOUNT_FROZEN")
        if key is not None and (sender, key) in self.keys:
            first_receiver, first_amount, command = self.keys[(sender, key)]
            if (first_receiver, first_amount) == (receiver, amount):
                return Expected(202, replay_of=command)
            return Expected(409, "IDEMPOTENCY_CONFLICT")
        if self.frozen[receiver]:
            return Expected(409, "WALLET_FROZEN")
        fee = transfer_fee(amount, self.params)
        if amount + fee > self.available(sender):
            return Expected(409, "INSUFFICIENT_FUNDS")
        return Expected(202, fee=fee)

    def accept(self, command: Command, key: str | None) -> None:
        self.pending.append(command)
        if command.kind == "transfer":
            self.transfers[command.id] = command
            if key is not None:
                self.keys[(command.profile, key)] = (command.receiver, command.amount, command.id)
        elif command.kind == "genesis":
            self.genesis[command.profile] = command.id

    def reject(self, command: Command, key: str | None) -> None:
        """A transfer held for review and rejected: it ends FAILED without reaching the ledger."""
        self.accept(command, key)
        self.pending.remove(command)
        self.outcomes[command.id] = (FAILED, "RISK_REJECTED")

    def settle(self) -> None:
        """The ledger executes the pending commands in order; each one's outcome is recorded."""
        for command in self.pending:
            self.outcomes[command.id] = outcome = self._execute(command)
            event(f"ledger: {command.kind} {outcome[1] or outcome[0].value}")
        self.pending.clear()

    def _execute(self, c: Command) -> tuple[OutboxStatus, str | None]:
        if c.kind == "transfer":
            if self.frozen[c.profile] or self.frozen[c.receiver]:
                return FAILED, "ACCOUNT_FROZEN"
            if self.balance[c.profile] < c.amount + c.fee:
                return FAILED, "INSUFFICIENT_FUNDS"
            self.balance[c.profile] -= c.amount + c.fee
            self.balance[c.receiver] += c.amount
            self.fees += c.fee
        elif c.kind in ("freeze", "unfreeze"):
            freeze = c.kind == "freeze"
            if self.frozen[c.profile] == freeze:
                return FAILED, "ALREADY_FROZEN" if freeze else "NOT_FROZEN"
            self.frozen[c.profile] = freeze
        else:
            if self.frozen[c.profile]:
                return FAILED, "ACCOUNT_FROZEN"
            self.balance[c.profile] += self.params.genesis_allocation
            self.minted += self.params.genesis_allocation
        return COMMITTED, None


def largest_sendable(available: Decimal, params: Params) -> Decimal:
    """The largest amount with amount + fee <= available (the fee is rounded half-even, so the
    edge lies within a unit or two of available / (1 + bps))."""
    best = max(ZERO, min(available, params.transfer_fee_threshold))  # no fee up to the threshold
    guess = (available * BPS / (BPS + params.transfer_fee_bps)).quantize(QUANTUM, ROUND_DOWN)
    for candidate in (guess + k * QUANTUM for k in (2, 1, 0, -1, -2)):
        fits = candidate + transfer_fee(candidate, params) <= available
        if candidate > params.transfer_fee_threshold and fits:
            return max(best, candidate)
    return best


# --------------------------------------------------------------------------------------------
# One example, run against the loop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    user: dict[str, Any]  # as Loop.user returns it: id and headers
    wallet: str
    account: str

    @property
    def id(self) -> str:
        return str(self.user["id"])


@dataclass
class Run:
    loop: Loop
    owner: AsyncEngine  # the ledger's schema is the owner's only
    model: Model
    people: list[Person] = field(default_factory=list)
    keyed: list[tuple[Person, Person, Decimal, str]] = field(default_factory=list)
    pools: dict[str, Decimal] = field(default_factory=dict)  # at the start of the example

    async def start(self, users: int) -> None:
        await self.loop.settle()  # what an earlier (failed) example left in the outbox
        self.pools = await self._pools()
        for _ in range(users):
            await self.join(Join(genesis=True))
        await self.settle()

    async def do(self, op: Op) -> None:
        """One step, then the balances of the users it touched (of everyone after a settle)."""
        touched: tuple[Person, ...] = ()
        match op:
            case Send():
                touched = await self.send(op)
            case Replay(which=which, same=same) if self.keyed:
                sender, receiver, amount, key = self.keyed[which % len(self.keyed)]
                changed = amount if same else amount + 1
                touched = await self.transfer(sender, receiver, changed, key, terse=True)
            case Freeze(who=who, freeze=freeze):
                touched = await self.freeze(self.person(who), freeze)
            case Genesis(who=who):
                touched = await self.genesis(self.person(who))
            case Join():
                await self.join(op)
            case Settle():
                await self.settle()
        await self.check_balances(touched)

    def person(self, i: int) -> Person:
        return self.people[i % len(self.people)]

    async def send(self, op: Send) -> tuple[Person, ...]:
        sender = self.person(op.sender)
        others = [p for p in self.people if p is not sender]
        receiver = others[op.receiver % len(others)]
        available = self.model.available(sender.id)
        match op.amount:
            case Share(of_available=share):
                amount = (available * share.numerator / share.denominator).quantize(
                    QUANTUM, ROUND_DOWN
                )
            case Edge(over=over):
                amount = largest_sendable(available, self.model.params) + (QUANTUM if over else 0)
            case Decimal():
                amount = op.amount
        key = None if op.key is None else f"key-{op.key}"
        return await self.transfer(sender, receiver, max(amount, QUANTUM), key, terse=op.terse)

    async def transfer(
        self, sender: Person, receiver: Person, amount: Decimal, key: str | None, *, terse: bool
    ) -> tuple[Person, ...]:
        expected = self.model.decide(sender.id, receiver.id, amount, key)
        event(f"transfer: {expected.code or ('replayed' if expected.replay_of else 'accepted')}")
        headers = {} if key is None else {"Idempotency-Key": key}
        answer = await self.loop.send(
            sender.user, receiver.user, f"{amount.normalize() if terse else amount:f}", **headers
        )
        if key is not None:
            self.keyed.append((sender, receiver, amount, key))
        if expected.code is not None:
            assert_problem(answer, expected.status, expected.code)
        elif expected.replay_of is not None:
            assert answer.status_code == 202, answer.text
            assert answer.json()["commandId"] == expected.replay_of
            assert answer.headers["Idempotent-Replayed"] == "true"
        else:
            assert answer.status_code == 202, answer.text
            command_id = answer.json()["commandId"]
            assert command_id not in self.model.outcomes and command_id not in self.model.transfers
            command = Command(command_id, "transfer", sender.id, receiver.id, amount, expected.fee)
            if answer.json()["status"] == "HELD":  # scored risky: reviewed at once
                release = amount.as_tuple().digits[-1] % 2 == 0  # a stable coin flip
                verb = "release" if release else "reject"
                event(f"review: {verb}")
                decided = await self.loop.client.post(
                    f"/admin/transfers/{command_id}/{verb}",
                    json={"reason": "property test"},
                    headers=self.loop.admin,
                )
                assert decided.status_code == 200, decided.text
                if not release:
                    self.model.reject(command, key)
                    return sender, receiver
            self.model.accept(command, key)
        return sender, receiver

    async def freeze(self, target: Person, freeze: bool) -> tuple[Person, ...]:
        action = "freeze" if freeze else "unfreeze"
        answer = await self.loop.client.post(
            f"/wallets/{target.wallet}/{action}",
            json={"reason": "property test"},
            headers=self.loop.admin,
        )
        assert answer.status_code == 202, answer.text
        self.model.accept(Command(answer.json()["commandId"], action, target.id), None)
        return (target,)

    async def genesis(self, target: Person) -> tuple[Person, ...]:
        answer = await self.loop.client.post(
            "/genesis", json={"userId": target.id}, headers=self.loop.admin
        )
        assert answer.status_code == 202, answer.text
        command_id = answer.json()["commandId"]
        earlier = self.model.genesis.get(target.id)
        if earlier is not None and self.model.outcomes.get(earlier, (None,))[0] is not FAILED:
            assert command_id == earlier  # once per user: the same command again
        else:  # the first, or a new one after a failure
            assert command_id != earlier
            self.model.accept(Command(command_id, "genesis", target.id), None)
        return (target,)

    async def join(self, op: Join) -> None:
        self.model.settle()  # Loop.user settles once the user is approved
        user = await self.loop.user(genesis=False)
        async with self.loop.db.tenant(self.loop.tenant) as s:
            wallet = (await s.scalars(select(Wallet).where(Wallet.profile_id == user["id"]))).one()
        self.people.append(Person(user, wallet.wallet_id, wallet.primary_account_id))
        self.model.join(user["id"])
        await self.check_settled()
        if op.genesis:
            await self.genesis(self.people[-1])

    async def settle(self) -> None:
        await self.loop.settle()
        self.model.settle()
        await self.check_settled()

    # --- invariants ------------------------------------------------------------------------

    async def check_balances(self, people: Sequence[Person]) -> None:
        """These users' balance, held and available are the model's, and none is negative."""
        for p in people:
            got = await self.loop.client.get(f"/wallets/{p.id}/balance", headers=self.loop.admin)
            assert got.status_code == 200, got.text
            b = got.json()["balance"]
            seen = (Decimal(b["balance"]), Decimal(b["held"]), Decimal(b["available"]))
            assert min(seen) >= 0, b
            m = self.model
            assert seen == (m.balance[p.id], m.held(p.id), m.available(p.id)), (p.id, b)
            assert b["isFrozen"] is m.frozen[p.id]

    async def check_settled(self) -> None:
        """After a settle: money conserved, read models equal to the ledger, every outcome the
        model's, exactly the history entries of what committed, and no hold left live."""
        assert not self.model.pending
        await self.check_balances(self.people)
        await self._check_supply()
        tenant = self.loop.tenant
        mine = [p.id for p in self.people] + [p.wallet for p in self.people]
        wallets = [p.wallet for p in self.people]
        async with self.loop.db.tenant(tenant) as s:
            commands = (
                await s.scalars(
                    select(OutboxCommand).where(
                        OutboxCommand.service == "svc-tokenomics",
                        or_(*(OutboxCommand.request_id.contains(x) for x in mine)),
                    )
                )
            ).all()
            rows = (
                await s.execute(
                    select(
                        Transaction.on_chain_tx_id,
                        Transaction.wallet_id,
                        Transaction.type,
                        Transaction.counterparty,
                        Transaction.amount,
                        Transaction.fee,
                    ).where(Transaction.wallet_id.in_(wallets))
                )
            ).all()
            holds = (
                await s.execute(
                    select(
                        TransferHold.command_id,
                        exists().where(
                            EventLog.tenant_id == TransferHold.tenant_id,
                            EventLog.fabric_tx_id == TransferHold.tx_id,
                        ),
                    ).where(TransferHold.wallet_id.in_(wallets))
                )
            ).all()
        # Every command of these users is one the model accepted, with the model's outcome;
        # refused requests wrote none.
        assert {c.id: (c.status, c.error_code) for c in commands} == self.model.outcomes

        by_account = {p.id: p.account for p in self.people}
        by_profile = {p.id: p.wallet for p in self.people}
        expected: list[tuple[Any, ...]] = []
        for c in commands:
            if c.status is not COMMITTED:
                continue
            tx = tx_id_of(tenant, c.request_id)
            if (t := self.model.transfers.get(c.id)) is not None:
                sender, receiver = by_account[t.profile], by_account[t.receiver]
                expected += [
                    (tx, by_profile[t.profile], SENT, receiver, t.amount, t.fee),
                    (tx, by_profile[t.receiver], RECEIVED, sender, t.amount, ZERO),
                ]
            elif c.id in self.model.genesis.values():
                owner = next(p for p, g in self.model.genesis.items() if g == c.id)
                allocation = self.model.params.genesis_allocation
                expected.append((tx, by_profile[owner], MINT, GENESIS_POOL, allocation, ZERO))
        assert sorted(map(tuple, rows)) == sorted(expected)

        # A hold stays only for a FAILED transfer (kept for `gx outbox retry`); any other is
        # already projected, so none counts any more.
        failed = {i for i in self.model.transfers if self.model.outcomes[i][0] is FAILED}
        assert {h for h, _ in holds if h in failed} == failed
        assert all(projected for h, projected in holds if h not in failed), holds

    async def _pools(self) -> dict[str, Decimal]:
        async with self.owner.connect() as conn:
            rows = await conn.execute(
                text("SELECT account_id, balance FROM ledger.accounts WHERE tenant_id = :t"),
                {"t": self.loop.tenant},
            )
            return {account: balance for account, balance in rows}

    async def _check_supply(self) -> None:
        ledger = await self._pools()
        async with self.owner.connect() as conn:
            chain = (
                await conn.execute(
                    text(
                        "SELECT genesis_supply, loan_pool_supply FROM ledger.chains "
                        "WHERE tenant_id = :t"
                    ),
                    {"t": self.loop.tenant},
                )
            ).one()
        async with self.loop.db.tenant(self.loop.tenant) as s:
            cached = dict(
                (await s.execute(select(Wallet.primary_account_id, Wallet.cached_balance))).all()
            )
        # The ledger conserves its own money; each wallet mirrors its account; the wallets and
        # the pools they are paid from and into hold exactly what genesis minted.
        supply = chain.genesis_supply
        assert sum(ledger.values()) == supply + chain.loan_pool_supply
        assert {a: ledger[a] for a in cached} == cached
        assert sum(cached.values()) + ledger[GENESIS_POOL] + ledger[FEE_POOL] == supply
        # This example's share: the fees it paid and the genesis it drew, to the unit.
        assert ledger[FEE_POOL] - self.pools[FEE_POOL] == self.model.fees
        assert self.pools[GENESIS_POOL] - ledger[GENESIS_POOL] == self.model.minted
        for p in self.people:
            assert ledger[p.account] == self.model.balance[p.id]


@pytest.fixture
async def owner(scratch_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_url)
    yield engine
    await engine.dispose()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(users=st.integers(2, 4), steps=st.lists(ops, min_size=10, max_size=30))
# The paths random steps reach only now and then, each once (users 0, 1, 2: alice, bob, carol):
# a replay in another spelling and a conflicting one, the exact edge of the available balance,
# a transfer accepted and then failed by a freeze that reached the ledger first, a genesis
# failed the same way and asked for again until it is given.
@example(
    users=2,
    steps=[
        Send(0, 0, Decimal("100.5"), key=0, terse=False),
        Replay(0, same=True),
        Replay(0, same=False),
        Send(0, 0, Edge(over=True), key=None, terse=False),
        Send(0, 0, Edge(over=False), key=None, terse=True),
        Settle(),
        Freeze(1, freeze=True),
        Send(1, 0, Decimal(50), key=None, terse=False),  # bob's freeze goes first
        Settle(),
        Send(0, 0, Decimal(1), key=None, terse=False),  # to frozen bob
        Send(1, 0, Decimal(1), key=None, terse=False),  # from frozen bob
        Freeze(1, freeze=False),
        Freeze(1, freeze=False),  # NOT_FROZEN on the ledger
        Join(genesis=False),
        Freeze(2, freeze=True),
        Genesis(2),  # carol's freeze goes first
        Settle(),
        Genesis(2),  # failed, so a new command: carol is still frozen, it fails again
        Freeze(2, freeze=False),
        Settle(),
        Genesis(2),  # and once she is not, the third command gives her the genesis
        Settle(),
        Genesis(2),  # given: the same command answers
    ],
)
async def test_money_is_conserved_held_and_released_through_any_interleaving(
    loop: Loop,  # noqa: F811
    owner: AsyncEngine,
    users: int,
    steps: list[Op],
) -> None:
    async with loop.db.tenant(loop.tenant) as s:
        params = await ledger_params(s)
    run = Run(loop, owner, Model(params))
    await run.start(users)
    for op in steps:
        await run.do(op)
    await run.settle()  # so that every example ends with all its holds released
