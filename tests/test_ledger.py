"""The embedded reference ledger: the port's contract, plus what only the embedded one promises."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from gxcore.config import Settings
from gxcore.db import migrate, server
from gxcore.db.engine import create_engine, libpq_url
from gxcore.db.roles import ROLES, role_url
from gxcore.enums import CommandType
from gxcore.errors import ConfigurationError, LedgerError, LedgerUnavailable
from gxcore.ledger import (
    Command,
    EmbeddedLedger,
    Ledger,
    LedgerEvent,
    Outcome,
    block,
    contract,
    events,
    open_ledger,
    store,
)
from gxcore.ledger.commands import COMMAND_SCHEMAS
from gxcore.ledger.handlers import HANDLERS
from tests.conftest import ROLE_KEY, TEMPLATE_DB
from tests.ledger_contract import LedgerContract, ManualClock, Script

LEDGER_REVISION = "e9c3a4b5d6f7"
TENANT_HEADS_REVISION = "70e9ae4e8a7d"


class TestEmbeddedLedger(LedgerContract):
    @pytest.fixture
    async def ledger(self, migrated_url: str, clock: ManualClock) -> AsyncIterator[Ledger]:
        ledger = await EmbeddedLedger.open(migrated_url, clock=clock)
        yield ledger
        await ledger.close()


# --- helpers ------------------------------------------------------------------------------------


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(libpq_url(url))
    await store.init_connection(conn)
    return conn


async def _balances(url: str, tenant: str) -> dict[str, Decimal]:
    conn = await _connect(url)
    try:
        rows = await conn.fetch(
            "SELECT account_id, balance FROM ledger.accounts WHERE tenant_id = $1", tenant
        )
    finally:
        await conn.close()
    return {r["account_id"]: r["balance"] for r in rows}


async def _tenant_rows(url: str, tenant: str) -> int:
    conn = await _connect(url)
    try:
        return sum(
            [
                await conn.fetchval(
                    f"SELECT count(*) FROM ledger.{table} WHERE tenant_id = $1", tenant
                )
                for table in ("transactions", "events", "chains", "parameters", "accounts")
            ]
        )
    finally:
        await conn.close()


def _cmd(tenant: str, request_id: str, command_type: str, **payload: object) -> Command:
    return Command(tenant, request_id, CommandType(command_type), payload)


def _user(tenant: str, user_id: str) -> list[Command]:
    return [
        _cmd(tenant, f"create-{user_id}", "CREATE_USER", userId=user_id,
             biometricHash=f"bio-{user_id}", nationality="NG", age=30),
        _cmd(tenant, f"genesis-{user_id}", "DISTRIBUTE_GENESIS", userId=user_id),
    ]  # fmt: skip


# --- the fault switch ---------------------------------------------------------------------------


async def test_an_injected_fault_commits_nothing_and_the_same_batch_goes_through_later(
    migrated_url: str, tenant: str
) -> None:
    batch = [_cmd(tenant, "boot", "BOOTSTRAP_SYSTEM"), *_user(tenant, "a"), *_user(tenant, "b")]
    async with (
        await EmbeddedLedger.open(migrated_url, fault_rate=1.0) as faulty,
        await EmbeddedLedger.open(migrated_url) as healthy,
    ):
        height = await healthy.height()
        with pytest.raises(LedgerUnavailable) as raised:
            await faulty.submit(batch)
        assert raised.value.transient and raised.value.code == "LEDGER_UNAVAILABLE"
        assert await healthy.height() == height
        assert await _tenant_rows(migrated_url, tenant) == 0
        assert await healthy.events_after(None, 10, tenant_id=tenant) == []

        outcomes = await healthy.submit(batch)
        assert all(o.committed for o in outcomes)
        # One block; the failed attempt's number stays unused (numbers are drawn, not counted).
        (number,) = {o.block_number for o in outcomes}
        assert number > height and await healthy.height() == number
        assert await healthy.submit(batch) == outcomes
    assert (await _balances(migrated_url, tenant))["a"] == Decimal(500)


async def test_seeded_faults_fail_the_same_submits(migrated_url: str, tenant: str) -> None:
    async def pattern(run: str) -> list[bool]:
        failed = []
        async with await EmbeddedLedger.open(migrated_url, fault_rate=0.5, seed=7) as ledger:
            for i in range(16):
                try:
                    await ledger.submit([_cmd(tenant, f"{run}-{i}", "PAUSE_SYSTEM")])
                    failed.append(False)
                except LedgerUnavailable:
                    failed.append(True)
        return failed

    first = await pattern("one")
    assert first == await pattern("two")
    assert True in first and False in first


async def test_the_fault_switch_slows_every_submit(migrated_url: str, tenant: str) -> None:
    async with await EmbeddedLedger.open(migrated_url, fault_delay_ms=150) as ledger:
        started = time.perf_counter()
        [outcome] = await ledger.submit([_cmd(tenant, "r", "PAUSE_SYSTEM")])
        assert time.perf_counter() - started >= 0.15
        assert outcome.code == "NOT_BOOTSTRAPPED"


async def test_open_ledger_takes_the_fault_switch_from_the_settings(
    migrated_url: str, tenant: str
) -> None:
    settings = Settings(ledger_fault_rate=1.0, ledger_fault_delay_ms=0, ledger_fault_seed=1)
    ledger = await open_ledger(migrated_url, settings)
    try:
        with pytest.raises(LedgerUnavailable):
            await ledger.submit([_cmd(tenant, "r", "BOOTSTRAP_SYSTEM")])
    finally:
        await ledger.close()


@pytest.mark.parametrize("options", [{"fault_rate": 1.5}, {"fault_rate": -0.1},
                                     {"fault_delay_ms": -1}])  # fmt: skip
async def test_a_nonsensical_fault_switch_is_refused(
    migrated_url: str, options: dict[str, float]
) -> None:
    with pytest.raises(ConfigurationError):
        await EmbeddedLedger.open(migrated_url, **options)  # type: ignore[arg-type]


async def test_an_unreachable_database_is_transient() -> None:
    with pytest.raises(LedgerUnavailable):
        await EmbeddedLedger.open("postgresql://gx:gx@127.0.0.1:1/gx")


async def test_a_closed_ledger_refuses_work(migrated_url: str, tenant: str) -> None:
    ledger = await EmbeddedLedger.open(migrated_url)
    assert isinstance(ledger, Ledger)
    await ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        await ledger.submit([_cmd(tenant, "r", "BOOTSTRAP_SYSTEM")])


# --- concurrency and ordering -------------------------------------------------------------------


async def test_concurrent_submitters_make_ordered_blocks_readable_only_whole(
    scratch_url: str,
) -> None:
    tenant = "t-concurrent"
    one = await EmbeddedLedger.open(scratch_url)
    two = await EmbeddedLedger.open(scratch_url)
    try:
        await one.submit([_cmd(tenant, "boot", "BOOTSTRAP_SYSTEM")])

        async def submitter(ledger: EmbeddedLedger, name: str) -> list[list[Outcome]]:
            results = []
            for i in range(8):
                batch = [
                    _cmd(tenant, f"{name}-{i}-{j}", "CREATE_USER", userId=f"{name}-{i}-{j}",
                         biometricHash=f"{name}-{i}-{j}", nationality="NG", age=30)
                    for j in range(5)
                ]  # fmt: skip
                results.append(await ledger.submit(batch))
            return results

        reads: list[list[LedgerEvent]] = []
        finished = asyncio.Event()

        async def reader() -> None:
            position = None
            while True:
                last_round = finished.is_set()
                batch = await two.events_after(position, 100_000)
                if batch:
                    reads.append(batch)
                    position = batch[-1].position
                elif last_round:
                    return
                await asyncio.sleep(0)

        reading = asyncio.create_task(reader())
        results = await asyncio.gather(
            *(submitter(ledger, f"s{k}") for k, ledger in enumerate((one, two, one, two)))
        )
        finished.set()
        await reading

        blocks = []
        for outcomes in (o for per_task in results for o in per_task):
            assert all(o.committed for o in outcomes)
            assert len({o.block_number for o in outcomes}) == 1  # one call, one block
            blocks.append(outcomes[0].block_number)
        assert sorted(blocks) == list(range(2, 34))  # every block once, none skipped
        assert await one.height() == 33

        everything = await one.events_after(None, 100_000)
        assert [e for batch in reads for e in batch] == everything  # nothing missed or reordered
        per_block = Counter(e.block_number for e in everything)
        for batch in reads:  # each read holds whole blocks only
            assert Counter(e.block_number for e in batch) == {
                b: per_block[b] for b in {e.block_number for e in batch}
            }
    finally:
        await one.close()
        await two.close()


# --- determinism --------------------------------------------------------------------------------


@pytest.fixture
async def twin_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """A second private database at head, beside `scratch_url`."""
    name = f"gx_test_{uuid.uuid4().hex[:12]}"
    await server.create_database(server_url, name, template=TEMPLATE_DB)
    yield server.with_database(server_url, name)
    await server.drop_database(server_url, name)


async def _everything(s: Script, clock: ManualClock) -> None:
    """A run through most of the contract, time passing included."""
    await s.bootstrap()
    await s.treasury("NG")
    for u in ("a", "b", "c"):
        await s.user(u)
    await s.organization("O", ["a", "b"])
    await s.submit(
        s.command("TRANSFER_TOKENS", senderId="c", receiverId="O", amount="123.456789012"),
        s.command("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="1000"),  # refused
        # Its id is derived from the tx id.
        s.command(
            "INITIATE_MULTISIG_TX", organizationId="O", initiatorId="a", receiverId="c", amount="20"
        ),
        s.command("APPLY_FOR_LOAN", borrowerId="b", amount="77.7"),
        s.command("SUBMIT_PROPOSAL", proposerId="a", parameterKey="transferFeeBps", newValue="5"),
    )
    clock.advance(days=361)
    await s.submit(s.command("APPLY_VELOCITY_TAX", accountId="b"))


async def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await _connect(url)
    try:
        return {
            table: [tuple(r) for r in await conn.fetch(f"SELECT * FROM ledger.{table} ORDER BY 1, 2, 3")]
            for table in ("blocks", "transactions", "events", "accounts", "organizations",
                          "multisig_txs", "loans", "proposals", "parameters", "countries")
        }  # fmt: skip
    finally:
        await conn.close()


async def test_a_block_in_flight_holds_readers_of_every_tenant_but_not_other_tenants(
    scratch_url: str,
) -> None:
    slow, fast = "t-slow", "t-fast"
    async with await EmbeddedLedger.open(scratch_url) as ledger:
        for t in (slow, fast):
            await ledger.submit([_cmd(t, "boot", "BOOTSTRAP_SYSTEM")])
        passed = (await ledger.events_after(None, 1000))[-1].position
        before = await ledger.height()

        for ending in ("commit", "rollback"):
            conn = await _connect(scratch_url)
            try:
                tx = conn.transaction()
                await tx.start()
                # The slow tenant's block has drawn its number and waits to commit.
                held = await block.execute(
                    conn, lambda: datetime.now(UTC), _user(slow, f"held-{ending}")
                )
                # Another tenant's block neither waits for it nor becomes readable before it...
                done = await asyncio.wait_for(ledger.submit(_user(fast, f"quick-{ending}")), 10)
                assert done[0].block_number > held[0].block_number
                assert await ledger.events_after(passed, 1000) == []
                assert await ledger.height() == before
                # ... except to a reader of its own tenant: one tenant commits in number order.
                own = await ledger.events_after(passed, 1000, tenant_id=fast)
                assert {e.block_number for e in own} == {done[0].block_number}
                # The slow tenant's next block waits for the one in flight.
                queued = asyncio.create_task(ledger.submit(_user(slow, f"next-{ending}")))
                await asyncio.sleep(0.3)
                assert not queued.done()
                if ending == "commit":
                    await tx.commit()
                else:
                    await tx.rollback()
            finally:
                await conn.close()
            after = await asyncio.wait_for(queued, 10)
            assert after[0].block_number > done[0].block_number
            seen = await ledger.events_after(passed, 1000)
            blocks = [e.block_number for e in seen]
            expected = [done[0].block_number, after[0].block_number]
            if ending == "commit":
                expected.insert(0, held[0].block_number)  # read in number order after all
            assert sorted(set(blocks)) == expected and blocks == sorted(blocks)
            passed, before = seen[-1].position, await ledger.height()
            assert before == after[0].block_number


async def test_tenants_submitting_at_once_make_one_order_every_reader_follows(
    scratch_url: str,
) -> None:
    tenants = [f"t-many-{i}" for i in range(4)]
    ledgers = [await EmbeddedLedger.open(scratch_url) for _ in range(2)]
    try:
        for t in tenants:
            await ledgers[0].submit([_cmd(t, "boot", "BOOTSTRAP_SYSTEM")])
        start = (await ledgers[0].events_after(None, 1000))[-1].position
        finished = asyncio.Event()
        reads: list[LedgerEvent] = []

        async def submitter(ledger: EmbeddedLedger, tenant: str, name: str) -> None:
            for i in range(6):
                await ledger.submit(_user(tenant, f"{name}-{i}"))

        async def reader() -> None:
            position = start
            while True:
                last_round = finished.is_set()
                batch = await ledgers[1].events_after(position, 7)
                if batch:
                    reads.extend(batch)
                    position = batch[-1].position
                elif last_round:
                    return
                await asyncio.sleep(0)

        reading = asyncio.create_task(reader())
        await asyncio.gather(
            *(submitter(ledgers[k % 2], t, f"s{k}") for k, t in enumerate(tenants * 2))
        )
        finished.set()
        await reading
        everything = await ledgers[0].events_after(start, 100_000)
        assert len(everything) == 4 * 2 * 6 * 2  # UserCreated and GenesisDistributed each
        assert reads == everything  # read while blocks committed out of number order: none missed
        for t in tenants:
            own = [e.position for e in everything if e.tenant_id == t]
            assert own == sorted(own)
    finally:
        for ledger in ledgers:
            await ledger.close()


async def test_replaying_the_same_commands_gives_the_same_chain_and_state(
    scratch_url: str, twin_url: str
) -> None:
    for url in (scratch_url, twin_url):
        clock = ManualClock()
        async with await EmbeddedLedger.open(url, clock=clock) as ledger:
            await _everything(Script(ledger, "t-replay"), clock)
    first, second = await _dump(scratch_url), await _dump(twin_url)
    assert first["events"] and first["multisig_txs"] and first["loans"]
    assert first == second


# --- conservation -------------------------------------------------------------------------------


def _book(events: list[LedgerEvent]) -> dict[str, Decimal]:
    """Every balance as a projector learns it from the events alone."""
    book: dict[str, Decimal] = {}
    for e in events:
        p = e.payload
        match e.name:
            case "SystemBootstrapped":
                book[p["genesisPoolId"]] = Decimal(p["genesisSupply"])
                book[p["loanPoolId"]] = Decimal(p["loanPoolSupply"])
                book[p["feePoolId"]] = book[p["redistributionPoolId"]] = Decimal(0)
            case "TreasuryActivated":
                book[p["accountId"]] = Decimal(0)
            case "UserCreated":
                book[p["userId"]] = Decimal(0)
            case "GenesisDistributed":
                book[p["userId"]] = Decimal(p["balance"])
                book["system:genesis-pool"] = Decimal(p["poolBalance"])
            case "TransferCompleted":
                book[p["senderId"]] = Decimal(p["senderBalance"])
                book[p["receiverId"]] = Decimal(p["receiverBalance"])
                book["system:fee-pool"] += Decimal(p["fee"])
            case "LoanApproved":
                book[p["borrowerId"]] = Decimal(p["borrowerBalance"])
                book["system:loan-pool"] = Decimal(p["loanPoolBalance"])
            case "VelocityTaxApplied":
                book[p["accountId"]] = Decimal(p["balance"])
                book[p["treasuryAccountId"]] = Decimal(p["treasuryBalance"])
                book["system:redistribution-pool"] += Decimal(p["redistributionShare"])
    return book


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_commands_conserve_the_supply_and_events_tell_every_balance(
    migrated_url: str, tenant: str, seed: int
) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    supply = Decimal(5000 + 800)
    users = [f"u{i}" for i in range(8)]
    loans: list[str] = []

    def amount(most: int) -> str:
        return str(Decimal(rng.randint(1, most * 10**9)).scaleb(-9))

    async with await EmbeddedLedger.open(migrated_url, clock=clock) as ledger:
        s = Script(ledger, tenant)
        await s.bootstrap(genesisSupply="5000", loanPoolSupply="800",
                          parameters={"velocityTaxCycleDays": "30"})  # fmt: skip
        await s.treasury("NG")
        await s.submit(*(
            s.command("CREATE_USER", userId=u, biometricHash=u, nationality="NG",
                      age=rng.choice([12, 30, 50]))
            for u in users
        ))  # fmt: skip
        for _ in range(6):
            batch = []
            for _ in range(40):
                pick = rng.random()
                if pick < 0.15:
                    batch.append(s.command("DISTRIBUTE_GENESIS", userId=rng.choice(users)))
                elif pick < 0.7:
                    sender, receiver = rng.sample(users, 2)
                    batch.append(s.command("TRANSFER_TOKENS", senderId=sender,
                                           receiverId=receiver, amount=amount(300)))  # fmt: skip
                elif pick < 0.8:
                    loans.append(f"L{len(loans)}")
                    batch.append(s.command("APPLY_FOR_LOAN", loanId=loans[-1],
                                           borrowerId=rng.choice(users), amount=amount(400)))  # fmt: skip
                elif pick < 0.9 and loans:
                    batch.append(s.command("APPROVE_LOAN", loanId=rng.choice(loans)))
                else:
                    batch.append(s.command("APPLY_VELOCITY_TAX", accountId=rng.choice(users)))
            results = await s.submit(*batch)
            assert any(r.outcome.committed for r in results)
            balances = await _balances(migrated_url, tenant)
            assert sum(balances.values()) == supply
            assert min(balances.values()) >= 0
            clock.advance(days=rng.choice([0, 10, 40]))
        events = await ledger.events_after(None, 100_000, tenant_id=tenant)
    assert _book(events) == await _balances(migrated_url, tenant)
    names = Counter(e.name for e in events)
    assert names["TransferCompleted"] and names["GenesisDistributed"] and names["LoanApproved"]


# --- cost of a block ----------------------------------------------------------------------------


async def test_a_block_of_200_transfers_costs_a_handful_of_statements(
    migrated_url: str, tenant: str
) -> None:
    users = [f"u{i}" for i in range(20)]
    async with await EmbeddedLedger.open(migrated_url) as ledger:
        setup = [_cmd(tenant, "boot", "BOOTSTRAP_SYSTEM")]
        setup += [c for u in users for c in _user(tenant, u)]
        assert all(o.committed for o in await ledger.submit(setup))
    transfers = [
        _cmd(tenant, f"t{i}", "TRANSFER_TOKENS", senderId=users[i % 20],
             receiverId=users[(i + 1 + i // 20) % 20], amount="1.5")
        for i in range(200)
    ]  # fmt: skip
    conn = await _connect(migrated_url)
    statements: list[str] = []
    try:
        for logged in (False, True):  # the first run warms asyncpg's type cache, then rolls back
            tx = conn.transaction()
            await tx.start()
            if logged:
                conn.add_query_logger(lambda record: statements.append(record.query))
            outcomes = await block.execute(conn, lambda: datetime.now(UTC), transfers)
            cost = list(statements)
            await tx.rollback()
    finally:
        await conn.close()
    assert all(o.committed for o in outcomes), [o for o in outcomes if not o.committed][:1]
    # The tenant's head, seen requests, chains, parameters, accounts; then the block's number,
    # accounts written, the block appended.
    assert len(cost) <= 8, "\n".join(q[:90].strip() for q in cost)


# --- schema and roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_the_application_roles_cannot_touch_the_ledger(migrated_url: str, role: str) -> None:
    conn = await asyncpg.connect(role_url(migrated_url, role, key=ROLE_KEY))
    try:
        assert not await conn.fetchval("SELECT has_schema_privilege('ledger', 'USAGE')")
        for sql in (
            "SELECT * FROM ledger.accounts",
            "UPDATE ledger.accounts SET balance = balance + 1",
            "UPDATE ledger.tenant_heads SET height = 0",
            "SELECT ledger.draw_block()",
            "INSERT INTO ledger.events (block_number) VALUES (0)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def _ledger_tables(url: str) -> set[str]:
    conn = await _connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'ledger'")
    finally:
        await conn.close()
    return {r[0] for r in rows}


async def test_the_ledger_migration_round_trips(empty_url: str) -> None:
    await migrate.upgrade(empty_url, LEDGER_REVISION, role_key=ROLE_KEY)
    tables = await _ledger_tables(empty_url)
    assert len(tables) == 13 and {"head", "blocks", "events", "accounts"} <= tables
    await migrate.downgrade(empty_url, "f1d4b5c6e7a8")
    assert await _ledger_tables(empty_url) == set()
    conn = await _connect(empty_url)
    try:
        assert not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = 'ledger'")
    finally:
        await conn.close()
    await migrate.upgrade(empty_url, LEDGER_REVISION, role_key=ROLE_KEY)
    # The tenant heads' revision replaces the global head, and gives it back on the way down.
    await migrate.upgrade(empty_url, TENANT_HEADS_REVISION, role_key=ROLE_KEY)
    tables = await _ledger_tables(empty_url)
    assert "tenant_heads" in tables and "head" not in tables
    await migrate.downgrade(empty_url, "-1")
    tables = await _ledger_tables(empty_url)
    assert "head" in tables and "tenant_heads" not in tables
    await migrate.upgrade(empty_url, role_key=ROLE_KEY)
    async with await EmbeddedLedger.open(empty_url) as ledger:
        assert await ledger.height() == 0
        boot = await ledger.submit([_cmd("t-round-trip", "boot", "BOOTSTRAP_SYSTEM")])
        assert await ledger.height() == boot[0].block_number


async def test_drift_checks_leave_the_ledger_schema_alone(migrated_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        # Even when told to look at every schema, the checks see nothing of `ledger`.
        opts = {**migrate.compare_options(), "include_schemas": True}
        context = MigrationContext.configure(connection, opts=opts)
        return compare_metadata(context, opts["target_metadata"])

    engine = create_engine(migrated_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert not [d for d in diffs if "ledger" in str(d)], diffs
    assert not [d for d in await migrate.drift(migrated_url) if "ledger" in str(d)]


# --- the rules as pure functions ----------------------------------------------------------------


def test_every_command_type_has_a_handler_and_a_payload_schema() -> None:
    assert set(HANDLERS) == set(CommandType)
    assert set(COMMAND_SCHEMAS) == set(CommandType)


amounts = st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(10**15), places=9)


@given(tax=amounts)
def test_the_tax_split_adds_up_to_the_tax(tax: Decimal) -> None:
    treasury, redistribution = contract.split_tax(tax)
    assert treasury + redistribution == tax
    assert abs(treasury - redistribution) <= contract.QUANTUM


@given(amount=amounts, bps=st.integers(0, 10_000), balance=amounts)
def test_a_transfer_moves_value_and_creates_none(
    amount: Decimal, bps: int, balance: Decimal
) -> None:
    params = contract.Params.of({"transferFeeBps": str(bps)})
    sender = SimpleNamespace(kind="user", balance=balance, frozen=False)
    receiver = SimpleNamespace(kind="user", balance=Decimal("7.000000001"), frozen=False)
    try:
        plan = contract.plan_transfer("a", "b", amount, sender=sender, receiver=receiver,
                                      params=params)  # fmt: skip
    except contract.Rejected as rejected:
        assert rejected.code == "INSUFFICIENT_FUNDS"
        assert balance < amount + contract.transfer_fee(amount, params)
        return
    assert plan.sender_balance + plan.receiver_balance + plan.fee == balance + receiver.balance
    assert plan.sender_balance >= 0 and 0 <= plan.fee <= amount
    assert plan.fee.as_tuple().exponent == -9


def test_the_velocity_tax_is_due_after_the_full_cycle_only() -> None:
    params = contract.Params.of()
    today = datetime(2031, 1, 1, tzinfo=UTC).date()
    since = today - timedelta(days=360)
    plan = contract.plan_velocity_tax(Decimal("1100.000000000"), since, today, params)
    assert (plan.taxable, plan.tax) == (Decimal(1000), Decimal(30))
    assert (plan.treasury_share, plan.redistribution_share, plan.balance) == (
        Decimal(15), Decimal(15), Decimal(1070),
    )  # fmt: skip
    with pytest.raises(contract.Rejected, match="359 days"):
        contract.plan_velocity_tax(Decimal(1100), since + timedelta(days=1), today, params)


@given(
    amount=amounts,
    fee=st.decimals(min_value=0, max_value=Decimal(10**6), places=9),
    balances=st.tuples(amounts, amounts),
    remark=st.none() | st.text(max_size=20),
)
def test_a_transfer_event_built_directly_is_the_model_s_own_payload(
    amount: Decimal, fee: Decimal, balances: tuple[Decimal, Decimal], remark: str | None
) -> None:
    built = events.transfer_completed(sender_id="a", receiver_id="b", amount=amount, fee=fee,
                                      sender_balance=balances[0], receiver_balance=balances[1],
                                      remark=remark)  # fmt: skip
    model = events.TransferCompleted(sender_id="a", receiver_id="b", amount=amount, fee=fee,
                                     sender_balance=balances[0], receiver_balance=balances[1],
                                     remark=remark)  # fmt: skip
    assert (built.name, built.version) == (model.name, model.version)
    assert built.to_json() == model.to_json()
    assert events.parse_event(built.name, built.version, built.to_json()) == model


async def test_ids_holding_the_array_separator_round_trip(migrated_url: str, tenant: str) -> None:
    """Text arrays travel packed (gxcore.db.arrays): ids holding its first separator are fine."""
    odd = ["a\x1fb", "\x1f", "plain"]
    async with await EmbeddedLedger.open(migrated_url) as ledger:
        setup = [_cmd(tenant, "boot", "BOOTSTRAP_SYSTEM")]
        setup += [c for u in odd for c in _user(tenant, u)]
        outcomes = await ledger.submit(setup)
        assert all(o.committed for o in outcomes), [o for o in outcomes if not o.committed]
        transfers = [
            _cmd(tenant, f"t{i}\x1f", "TRANSFER_TOKENS", senderId=odd[i],
                 receiverId=odd[(i + 1) % 3], amount="1.5")
            for i in range(3)
        ]  # fmt: skip
        first = await ledger.submit(transfers)
        assert all(o.committed for o in first)
        assert await ledger.submit(transfers) == first  # found again: not executed twice
    balances = await _balances(migrated_url, tenant)
    assert {balances[u] for u in odd} == {balances["plain"]}  # each sent and received 1.5
