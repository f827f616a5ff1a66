"""The Ledger port's contract (spec/ledger.md), as one suite every implementation must pass.

Subclass `LedgerContract` in a `test_*.py` module and override the `ledger` fixture with an
implementation whose block time follows the `clock` fixture (a `ManualClock`). Every test works
in its own tenant, so implementations may share one ledger across tests. Everything is observed
through the port: outcomes and events, never the implementation's storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gxcore.enums import CommandType
from gxcore.ledger import Command, Ledger, LedgerEvent, Outcome, OutcomeStatus, Position
from gxcore.ledger.events import EVENT_SCHEMAS

START = datetime(2030, 1, 1, 12, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def D(value: str | int) -> Decimal:
    return Decimal(value)


@dataclass
class Submitted:
    """One command's outcome and the events its transaction emitted."""

    outcome: Outcome
    events: list[LedgerEvent]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def payload(self, name: str | None = None) -> dict[str, Any]:
        """The payload of the (only) event, or of the only event called `name`."""
        found = [e for e in self.events if name is None or e.name == name]
        assert len(found) == 1, f"expected one {name or 'event'}, got {self.names}"
        return found[0].payload


class Script:
    """Commands for one tenant, request ids numbered in order, with the events each produced."""

    def __init__(self, ledger: Ledger, tenant: str) -> None:
        self.ledger = ledger
        self.tenant = tenant
        self._count = 0
        self._position: Position | None = None

    def command(self, command_type: str, **payload: Any) -> Command:
        self._count += 1
        return Command(self.tenant, f"req-{self._count}", CommandType(command_type), payload)

    async def new_events(self) -> list[LedgerEvent]:
        found: list[LedgerEvent] = []
        while batch := await self.ledger.events_after(self._position, 200, tenant_id=self.tenant):
            found += batch
            self._position = batch[-1].position
        for event in found:  # every payload fits its published schema
            EVENT_SCHEMAS[(event.name, event.version)].model_validate(event.payload)
        return found

    async def submit(self, *commands: Command) -> list[Submitted]:
        outcomes = await self.ledger.submit(commands)
        events = await self.new_events()
        return [Submitted(o, [e for e in events if e.tx_id == o.tx_id]) for o in outcomes]

    async def run(self, command_type: str, **payload: Any) -> Submitted:
        return (await self.submit(self.command(command_type, **payload)))[0]

    async def ok(self, command_type: str, **payload: Any) -> Submitted:
        done = await self.run(command_type, **payload)
        assert done.outcome.status is OutcomeStatus.COMMITTED, done.outcome
        assert done.outcome.code is None
        return done

    async def refused(self, code: str, command_type: str, **payload: Any) -> Outcome:
        done = await self.run(command_type, **payload)
        assert done.outcome.status is OutcomeStatus.REJECTED, done.outcome
        assert done.outcome.code == code, done.outcome
        assert done.events == [], "a rejected command emits nothing"
        return done.outcome

    # --- set-ups --------------------------------------------------------------------------------

    async def bootstrap(self, **payload: Any) -> Submitted:
        return await self.ok("BOOTSTRAP_SYSTEM", **payload)

    async def user(
        self, user_id: str, *, age: int = 30, nationality: str = "NG", genesis: bool = True
    ) -> None:
        await self.ok(
            "CREATE_USER", userId=user_id, biometricHash=f"bio-{user_id}",
            nationality=nationality, age=age,
        )  # fmt: skip
        if genesis:
            await self.ok("DISTRIBUTE_GENESIS", userId=user_id)

    async def treasury(self, code: str = "NG") -> None:
        await self.ok(
            "INITIALIZE_COUNTRY_DATA",
            countries=[{"code": code, "name": f"Country {code}", "populationShare": "0.01"}],
        )
        await self.ok("ACTIVATE_TREASURY", countryCode=code)

    async def organization(self, org_id: str, stakeholders: Sequence[str]) -> None:
        await self.ok(
            "PROPOSE_ORGANIZATION", organizationId=org_id, organizationName=org_id,
            stakeholders=list(stakeholders), country="NG",
        )  # fmt: skip
        for s in stakeholders:
            await self.ok("ENDORSE_MEMBERSHIP", organizationId=org_id, stakeholderId=s)
        await self.ok("ACTIVATE_ORGANIZATION", organizationId=org_id)


class LedgerContract:
    """The suite. Subclasses provide `ledger` (and may replace `clock`)."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    async def ledger(self, clock: ManualClock) -> AsyncIterator[Ledger]:
        raise NotImplementedError("a subclass provides the ledger under test")
        yield  # pragma: no cover

    @pytest.fixture
    def s(self, ledger: Ledger, tenant: str) -> Script:
        return Script(ledger, tenant)

    # --- the port: envelopes, batches, idempotency, reading ------------------------------------

    async def test_events_carry_the_envelope_and_a_valid_payload(
        self, s: Script, clock: ManualClock
    ) -> None:
        done = await s.bootstrap()
        event = done.events[0]
        assert (event.name, event.version) == ("SystemBootstrapped", "1.0")
        assert (event.channel, event.chaincode) == ("gxchannel", "gxtv3")
        assert event.tenant_id == s.tenant and event.tx_id == done.outcome.tx_id
        assert event.block_number == done.outcome.block_number and event.event_index >= 0
        assert event.timestamp == clock.now
        EVENT_SCHEMAS[(event.name, event.version)].model_validate(event.payload)

    async def test_a_batch_commits_in_one_block_and_a_rejection_spares_the_rest(
        self, s: Script
    ) -> None:
        await s.bootstrap()
        results = await s.submit(
            s.command("CREATE_USER", userId="a", biometricHash="x", nationality="NG", age=30),
            s.command("CREATE_USER", userId="a", biometricHash="y", nationality="NG", age=30),
            s.command("CREATE_USER", userId="b", biometricHash="z", nationality="NG", age=30),
        )
        assert [r.outcome.status for r in results] == [
            OutcomeStatus.COMMITTED, OutcomeStatus.REJECTED, OutcomeStatus.COMMITTED,
        ]  # fmt: skip
        assert results[1].outcome.code == "USER_EXISTS"
        assert len({r.outcome.block_number for r in results}) == 1
        assert len({r.outcome.tx_id for r in results}) == 3
        events = [e for r in results for e in r.events]
        assert [e.payload["userId"] for e in events] == ["a", "b"]
        assert events[1].event_index == events[0].event_index + 1

    async def test_resubmitting_returns_the_first_outcome_and_executes_nothing(
        self, s: Script, ledger: Ledger
    ) -> None:
        await s.bootstrap()
        create = s.command("CREATE_USER", userId="a", biometricHash="x", nationality="NG", age=30)
        twice = s.command("DISTRIBUTE_GENESIS", userId="a")
        first = await s.submit(create, twice, twice)
        assert first[1].outcome == first[2].outcome  # twice in one batch: executed once
        assert first[1].names == ["GenesisDistributed"]
        height = await ledger.height()

        again = await ledger.submit([create, twice])
        assert again == [first[0].outcome, first[1].outcome]
        assert await s.new_events() == []
        assert await ledger.height() == height  # nothing new to write, no new block

    async def test_a_rejection_is_idempotent_too(self, s: Script, ledger: Ledger) -> None:
        command = s.command("CREATE_USER", userId="a", biometricHash="x", nationality="NG", age=30)
        [first] = await ledger.submit([command])  # not bootstrapped yet
        assert first.code == "NOT_BOOTSTRAPPED" and not first.committed
        await s.bootstrap()
        assert await ledger.submit([command]) == [first]  # still the first result

    async def test_events_read_in_order_across_pages_and_per_tenant(
        self, s: Script, ledger: Ledger, tenant: str
    ) -> None:
        other = Script(ledger, tenant + "-other")
        await s.bootstrap()
        await other.bootstrap()
        for i in range(3):
            await s.user(f"u{i}")
        mine = await ledger.events_after(None, 1000, tenant_id=s.tenant)
        assert [e.name for e in mine].count("UserCreated") == 3
        assert all(e.tenant_id == s.tenant for e in mine)
        positions = [e.position for e in mine]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)

        paged: list[LedgerEvent] = []
        position = None
        while page := await ledger.events_after(position, 2, tenant_id=s.tenant):
            assert len(page) <= 2
            paged += page
            position = page[-1].position
        assert paged == mine
        assert await ledger.events_after(mine[-1].position, 10, tenant_id=s.tenant) == []
        assert await ledger.height() >= mine[-1].block_number

    async def test_a_payload_that_does_not_fit_is_rejected(self, s: Script) -> None:
        await s.bootstrap()
        await s.refused("INVALID_PAYLOAD", "CREATE_USER", userId="a", nationality="NG", age=3)
        await s.refused("INVALID_PAYLOAD", "CREATE_USER", userId="a", biometricHash="b",
                        nationality="Nigeria", age=30)  # fmt: skip
        await s.user("a")
        await s.user("b")
        for bad in (1.5, "0.0000000001", "abc", "0", "-1"):
            await s.refused(
                "INVALID_AMOUNT", "TRANSFER_TOKENS", senderId="a", receiverId="b", amount=bad
            )

    # --- admin ---------------------------------------------------------------------------------

    async def test_bootstrap_funds_the_genesis_pool_once(self, s: Script) -> None:
        await s.refused("UNKNOWN_PARAMETER", "BOOTSTRAP_SYSTEM", parameters={"nope": "1"})
        await s.refused("INVALID_VALUE", "BOOTSTRAP_SYSTEM", parameters={"velocityTaxRateBps": 601})
        payload = (await s.bootstrap(genesisSupply="1000000", loanPoolSupply="5000")).payload()
        assert payload["genesisSupply"] == "1000000.000000000"
        assert payload["loanPoolSupply"] == "5000.000000000"
        assert payload["genesisPoolId"] == "system:genesis-pool"
        assert payload["feePoolId"] == "system:fee-pool"
        assert payload["redistributionPoolId"] == "system:redistribution-pool"
        assert payload["loanPoolId"] == "system:loan-pool"
        assert payload["parameters"]["transferFeeBps"] == "10"
        assert payload["parameters"]["velocityTaxThreshold"] == "100.000000000"
        await s.refused("ALREADY_BOOTSTRAPPED", "BOOTSTRAP_SYSTEM")

    async def test_nothing_runs_before_bootstrap(self, s: Script) -> None:
        await s.refused("NOT_BOOTSTRAPPED", "INITIALIZE_COUNTRY_DATA",
                        countries=[{"code": "NG", "name": "Nigeria", "populationShare": "0.1"}])  # fmt: skip
        await s.refused("NOT_BOOTSTRAPPED", "CREATE_USER", userId="a", biometricHash="x",
                        nationality="NG", age=30)  # fmt: skip

    async def test_country_data_and_treasury(self, s: Script) -> None:
        await s.bootstrap()
        await s.refused("COUNTRY_NOT_FOUND", "ACTIVATE_TREASURY", countryCode="NG")
        done = await s.ok(
            "INITIALIZE_COUNTRY_DATA",
            countries=[
                {"code": "NG", "name": "Nigeria", "populationShare": "0.027"},
                {"code": "GH", "name": "Ghana", "populationShare": "0.004"},
            ],
        )
        assert done.payload("CountryDataInitialized")["countries"][0] == {
            "code": "NG", "name": "Nigeria", "populationShare": "0.027",
        }  # fmt: skip
        treasury = await s.ok("ACTIVATE_TREASURY", countryCode="NG")
        assert treasury.payload("TreasuryActivated") == {
            "countryCode": "NG", "accountId": "treasury:NG",
        }  # fmt: skip
        await s.refused("ALREADY_ACTIVE", "ACTIVATE_TREASURY", countryCode="NG")

    async def test_update_system_parameter(self, s: Script) -> None:
        await s.bootstrap()
        done = await s.ok("UPDATE_SYSTEM_PARAMETER", key="transferFeeBps", value="25")
        assert done.payload("SystemParameterUpdated") == {
            "key": "transferFeeBps", "oldValue": "10", "newValue": "25",
        }  # fmt: skip
        await s.refused("UNKNOWN_PARAMETER", "UPDATE_SYSTEM_PARAMETER", key="nope", value="1")
        for key, value in (
            ("velocityTaxRateBps", "601"),  # ledger.md: at most 600
            ("transferFeeBps", "abc"),
            ("transferFeeThreshold", "-1"),
            ("genesisMinAge", "80"),  # above genesisMaxAge (73)
        ):
            await s.refused("INVALID_VALUE", "UPDATE_SYSTEM_PARAMETER", key=key, value=value)
        # The new fee applies: 100 × 25 / 10000.
        await s.user("a")
        await s.user("b")
        sent = await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100")
        assert sent.payload()["fee"] == "0.250000000"

    async def test_a_change_applies_to_the_next_command_of_the_same_block(self, s: Script) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        results = await s.submit(
            s.command("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100"),
            s.command("UPDATE_SYSTEM_PARAMETER", key="transferFeeBps", value="50"),
            s.command("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100"),
            s.command("FREEZE_WALLET", accountId="b"),
            s.command("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100"),
        )
        assert [r.outcome.code for r in results] == [None, None, None, None, "ACCOUNT_FROZEN"]
        fees = [r.payload()["fee"] for r in results if r.names == ["TransferCompleted"]]
        assert fees == ["0.100000000", "0.500000000"]
        assert results[2].payload()["senderBalance"] == "299.400000000"

    async def test_pause_refuses_all_but_admin_commands_until_resumed(self, s: Script) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        await s.refused("NOT_PAUSED", "RESUME_SYSTEM")
        paused = await s.ok("PAUSE_SYSTEM", reason="incident 42")
        assert paused.payload("SystemPaused") == {"reason": "incident 42"}
        await s.refused("ALREADY_PAUSED", "PAUSE_SYSTEM")
        await s.refused("SYSTEM_PAUSED", "TRANSFER_TOKENS", senderId="a", receiverId="b",
                        amount="1")  # fmt: skip
        await s.refused("SYSTEM_PAUSED", "CREATE_USER", userId="c", biometricHash="c",
                        nationality="NG", age=30)  # fmt: skip
        await s.ok("FREEZE_WALLET", accountId="a", reason="incident 42")  # admin: still runs
        resumed = await s.ok("RESUME_SYSTEM")
        assert resumed.names == ["SystemResumed"]
        # The freeze made while paused holds.
        await s.refused(
            "ACCOUNT_FROZEN", "TRANSFER_TOKENS", senderId="a", receiverId="b", amount="1"
        )
        await s.user("c")  # non-admin commands run again

    async def test_appoint_admin(self, s: Script) -> None:
        await s.bootstrap()
        await s.user("a", genesis=False)
        await s.refused("ACCOUNT_NOT_FOUND", "APPOINT_ADMIN", accountId="ghost")
        done = await s.ok("APPOINT_ADMIN", accountId="a")
        assert done.payload("AdminAppointed") == {"accountId": "a"}
        await s.refused("ALREADY_ADMIN", "APPOINT_ADMIN", accountId="a")

    # --- identity and genesis ------------------------------------------------------------------

    async def test_create_user(self, s: Script) -> None:
        await s.bootstrap()
        done = await s.ok(
            "CREATE_USER", userId="fab-1", profileId="p-1", biometricHash="h1",
            nationality="NG", age=30,
        )  # fmt: skip
        assert done.payload("UserCreated") == {
            "userId": "fab-1", "profileId": "p-1", "nationality": "NG",
            "biometricHash": "h1", "age": 30,
        }  # fmt: skip
        await s.refused("USER_EXISTS", "CREATE_USER", userId="fab-1", biometricHash="h2",
                        nationality="NG", age=30)  # fmt: skip
        # Same person, second account.
        await s.refused(
            "USER_EXISTS",
            "CREATE_USER",
            userId="fab-2",
            biometricHash="h1",
            nationality="NG",
            age=30,
        )

    async def test_genesis_credits_the_allocation_once(self, s: Script) -> None:
        await s.bootstrap(genesisSupply="1000")
        await s.user("a", genesis=False)
        done = await s.ok("DISTRIBUTE_GENESIS", userId="a")
        assert done.payload("GenesisDistributed") == {
            "userId": "a", "amount": "500.000000000", "balance": "500.000000000",
            "poolBalance": "500.000000000",
        }  # fmt: skip
        await s.refused("ALREADY_DISTRIBUTED", "DISTRIBUTE_GENESIS", userId="a")
        await s.refused("ACCOUNT_NOT_FOUND", "DISTRIBUTE_GENESIS", userId="ghost")

    async def test_genesis_only_for_ages_13_to_73(self, s: Script) -> None:
        await s.bootstrap()
        for age, eligible in ((12, False), (13, True), (73, True), (74, False)):
            await s.user(f"age{age}", age=age, genesis=False)
            if eligible:
                await s.ok("DISTRIBUTE_GENESIS", userId=f"age{age}")
            else:
                await s.refused("NOT_ELIGIBLE", "DISTRIBUTE_GENESIS", userId=f"age{age}")

    async def test_genesis_stops_when_the_pool_runs_dry(self, s: Script) -> None:
        await s.bootstrap(genesisSupply="999.999999999")
        await s.user("a")
        await s.user("b", genesis=False)
        await s.refused("POOL_EXHAUSTED", "DISTRIBUTE_GENESIS", userId="b")

    # --- transfers -----------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("amount", "fee"),
        [
            ("3", "0"),  # at the threshold: no fee
            ("3.000000001", "0.003000000"),  # just above: 10 bps
            ("100", "0.100000000"),
            ("10.0000005", "0.010000000"),  # 0.0100000005: half-even keeps the even digit
            ("10.0000015", "0.010000002"),  # 0.0100000015: half-even rounds the odd one up
            ("0.000000001", "0"),
        ],
    )
    async def test_transfer_fee_is_exact(self, s: Script, amount: str, fee: str) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        payload = (
            await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount=amount, remark="x")
        ).payload("TransferCompleted")
        assert D(payload["fee"]) == D(fee)
        assert D(payload["amount"]) == D(amount)
        assert D(payload["senderBalance"]) == D(500) - D(amount) - D(fee)
        assert D(payload["receiverBalance"]) == D(500) + D(amount)
        assert (payload["senderId"], payload["receiverId"], payload["remark"]) == ("a", "b", "x")

    async def test_transfer_rules(self, s: Script) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        # 500 + fee 0.5 is more than a holds; 499.5 + 0.4995 is not.
        await s.refused("INSUFFICIENT_FUNDS", "TRANSFER_TOKENS", senderId="a", receiverId="b",
                        amount="500")  # fmt: skip
        await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="499.5")
        await s.refused("SELF_TRANSFER", "TRANSFER_TOKENS", senderId="b", receiverId="b",
                        amount="1")  # fmt: skip
        await s.refused("ACCOUNT_NOT_FOUND", "TRANSFER_TOKENS", senderId="b", receiverId="ghost",
                        amount="1")  # fmt: skip
        await s.refused("ACCOUNT_NOT_FOUND", "TRANSFER_TOKENS", senderId="ghost", receiverId="b",
                        amount="1")  # fmt: skip
        await s.refused("TRANSFER_NOT_ALLOWED", "TRANSFER_TOKENS",
                        senderId="system:genesis-pool", receiverId="b", amount="1")  # fmt: skip

    async def test_a_frozen_wallet_neither_sends_nor_receives(self, s: Script) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        await s.refused("NOT_FROZEN", "UNFREEZE_WALLET", accountId="a")
        frozen = await s.ok("FREEZE_WALLET", accountId="a", reason="fraud check")
        assert frozen.payload("WalletFrozen") == {"accountId": "a", "reason": "fraud check"}
        await s.refused("ALREADY_FROZEN", "FREEZE_WALLET", accountId="a")
        for sender, receiver in (("a", "b"), ("b", "a")):
            await s.refused("ACCOUNT_FROZEN", "TRANSFER_TOKENS", senderId=sender,
                            receiverId=receiver, amount="1")  # fmt: skip
        unfrozen = await s.ok("UNFREEZE_WALLET", accountId="a")
        assert unfrozen.payload("WalletUnfrozen") == {"accountId": "a"}
        await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="1")
        await s.refused("ACCOUNT_NOT_FOUND", "FREEZE_WALLET", accountId="ghost")

    # --- velocity tax --------------------------------------------------------------------------

    async def test_velocity_tax_after_a_full_cycle_above_the_threshold(
        self, s: Script, clock: ManualClock
    ) -> None:
        await s.bootstrap()
        await s.treasury("NG")
        await s.user("a")  # 500 from today: 400 above the threshold of 100
        await s.user("poor")
        await s.ok("TRANSFER_TOKENS", senderId="poor", receiverId="a", amount="0.5")
        clock.advance(days=359)
        await s.refused("NOT_ELIGIBLE", "APPLY_VELOCITY_TAX", accountId="a")
        clock.advance(days=1)
        done = await s.ok("APPLY_VELOCITY_TAX", accountId="a")
        assert done.payload("VelocityTaxApplied") == {
            "accountId": "a", "taxableAmount": "400.500000000", "rateBps": 300,
            "amount": "12.015000000", "treasuryAccountId": "treasury:NG",
            "treasuryShare": "6.007500000", "redistributionShare": "6.007500000",
            "balance": "488.485000000", "treasuryBalance": "6.007500000",
        }  # fmt: skip
        # The cycle starts over.
        await s.refused("NOT_ELIGIBLE", "APPLY_VELOCITY_TAX", accountId="a")
        await s.refused("ACCOUNT_NOT_FOUND", "APPLY_VELOCITY_TAX", accountId="ghost")
        await s.refused("NOT_ELIGIBLE", "APPLY_VELOCITY_TAX", accountId="system:fee-pool")

    async def test_velocity_tax_split_keeps_every_nano_coin(
        self, s: Script, clock: ManualClock
    ) -> None:
        await s.bootstrap(parameters={"transferFeeBps": "0"})
        await s.treasury("NG")
        await s.user("a")
        await s.user("b")
        # a keeps 100.0000001: a tax of 3 nano-coins, split 2 (half-even of 1.5) and 1.
        await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="399.9999999")
        clock.advance(days=360)
        payload = (await s.ok("APPLY_VELOCITY_TAX", accountId="a")).payload()
        assert (payload["amount"], payload["treasuryShare"], payload["redistributionShare"]) == (
            "0.000000003", "0.000000002", "0.000000001",
        )  # fmt: skip
        assert payload["balance"] == "100.000000097"

    async def test_velocity_tax_needs_a_balance_above_the_threshold_and_a_treasury(
        self, s: Script, clock: ManualClock
    ) -> None:
        await s.bootstrap()
        await s.treasury("NG")
        await s.user("a")
        await s.user("b")
        await s.user("gh", nationality="GH")
        await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="400")  # a: 99.6
        clock.advance(days=400)
        await s.refused("NOT_ELIGIBLE", "APPLY_VELOCITY_TAX", accountId="a")
        await s.refused("TREASURY_NOT_ACTIVE", "APPLY_VELOCITY_TAX", accountId="gh")

    # --- organizations and multisig ------------------------------------------------------------

    async def test_organization_needs_every_stakeholder_to_endorse(self, s: Script) -> None:
        await s.bootstrap()
        for u in ("a", "b", "c"):
            await s.user(u, genesis=False)
        for stakeholders in (["a"], ["a", "a"], ["a", "ghost"], [f"x{i}" for i in range(21)]):
            await s.refused("INVALID_STAKEHOLDERS", "PROPOSE_ORGANIZATION", organizationId="O",
                            organizationName="Org", stakeholders=stakeholders)  # fmt: skip
        proposed = await s.ok("PROPOSE_ORGANIZATION", organizationId="O",
                              organizationName="Org", stakeholders=["a", "b"])  # fmt: skip
        assert proposed.payload("OrganizationProposed") == {
            "organizationId": "O", "organizationName": "Org", "stakeholders": ["a", "b"],
            "country": None,
        }  # fmt: skip
        endorsed = await s.ok("ENDORSE_MEMBERSHIP", organizationId="O", stakeholderId="a")
        assert endorsed.payload("MembershipEndorsed") == {
            "organizationId": "O", "stakeholderId": "a", "endorsements": 1, "stakeholderCount": 2,
        }  # fmt: skip
        await s.refused("ALREADY_ENDORSED", "ENDORSE_MEMBERSHIP", organizationId="O",
                        stakeholderId="a")  # fmt: skip
        await s.refused("NOT_A_STAKEHOLDER", "ENDORSE_MEMBERSHIP", organizationId="O",
                        stakeholderId="c")  # fmt: skip
        await s.refused("ENDORSEMENTS_MISSING", "ACTIVATE_ORGANIZATION", organizationId="O")
        await s.ok("ENDORSE_MEMBERSHIP", organizationId="O", stakeholderId="b")
        activated = await s.ok("ACTIVATE_ORGANIZATION", organizationId="O")
        assert activated.payload("OrganizationActivated") == {
            "organizationId": "O", "accountId": "O", "stakeholders": ["a", "b"],
        }  # fmt: skip

    async def _funded_organization(self, s: Script) -> None:
        await s.bootstrap()
        for u in ("a", "b", "c", "d"):
            await s.user(u)
        await s.organization("O", ["a", "b", "c"])
        await s.ok("TRANSFER_TOKENS", senderId="d", receiverId="O", amount="200")

    async def test_auth_rules(self, s: Script) -> None:
        await self._funded_organization(s)
        for required, approvers in ((3, ["a", "b"]), (0, ["a"]), (1, ["a", "d"]), (1, [])):
            await s.refused("INVALID_RULE", "DEFINE_AUTH_RULE", organizationId="O",
                            threshold="50", requiredApprovers=required, approvers=approvers)  # fmt: skip
        done = await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="50",
                          requiredApprovers=2, approvers=["a", "b"])  # fmt: skip
        assert done.payload("AuthRuleDefined") == {
            "organizationId": "O", "threshold": "50.000000000", "requiredApprovers": 2,
            "approvers": ["a", "b"],
        }  # fmt: skip

    async def test_multisig_runs_at_the_required_approvals(self, s: Script) -> None:
        await self._funded_organization(s)
        await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="50", requiredApprovers=2,
                   approvers=["a", "b"])  # fmt: skip
        await s.refused("NOT_A_MEMBER", "INITIATE_MULTISIG_TX", multisigTxId="M0",
                        organizationId="O", initiatorId="d", receiverId="d", amount="100")  # fmt: skip
        started = await s.ok("INITIATE_MULTISIG_TX", multisigTxId="M1", organizationId="O",
                             initiatorId="a", receiverId="d", amount="100")  # fmt: skip
        initiated = started.payload("MultiSigTxInitiated")
        assert (initiated["requiredApprovals"], initiated["approvals"]) == (2, 1)
        assert initiated["approvers"] == ["a", "b"] and initiated["amount"] == "100.000000000"
        await s.refused("NOT_APPROVED", "EXECUTE_MULTISIG_TX", multisigTxId="M1")
        # The initiator's approval counted.
        await s.refused(
            "ALREADY_APPROVED", "APPROVE_MULTISIG_TX", multisigTxId="M1", approverId="a"
        )
        await s.refused("NOT_AN_APPROVER", "APPROVE_MULTISIG_TX", multisigTxId="M1",
                        approverId="c")  # fmt: skip
        done = await s.ok("APPROVE_MULTISIG_TX", multisigTxId="M1", approverId="b")
        assert done.names == ["MultiSigTxApproved", "MultiSigTxExecuted"]
        assert done.payload("MultiSigTxApproved")["approvals"] == 2
        # d: 500 - 200 - 0.2 (fee) + 100.
        assert done.payload("MultiSigTxExecuted") == {
            "multisigTxId": "M1",
            "organizationId": "O",
            "receiverId": "d",
            "amount": "100.000000000",
            "fee": "0.100000000",
            "organizationBalance": "99.900000000",
            "receiverBalance": "399.800000000",
        }
        await s.refused("ALREADY_EXECUTED", "EXECUTE_MULTISIG_TX", multisigTxId="M1")

    async def test_multisig_below_every_threshold_needs_one_approval(self, s: Script) -> None:
        await self._funded_organization(s)
        await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="50", requiredApprovers=2,
                   approvers=["a", "b"])  # fmt: skip
        started = await s.ok("INITIATE_MULTISIG_TX", multisigTxId="M2", organizationId="O",
                             initiatorId="c", receiverId="d", amount="10")  # fmt: skip
        assert started.payload()["requiredApprovals"] == 1
        done = await s.ok("EXECUTE_MULTISIG_TX", multisigTxId="M2")
        assert done.payload("MultiSigTxExecuted")["organizationBalance"] == "189.990000000"

    async def test_a_multisig_transaction_expires(self, s: Script, clock: ManualClock) -> None:
        await self._funded_organization(s)
        await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="0", requiredApprovers=2,
                   approvers=["a", "b"])  # fmt: skip
        started = await s.ok("INITIATE_MULTISIG_TX", multisigTxId="M4", organizationId="O",
                             initiatorId="a", receiverId="d", amount="5")  # fmt: skip
        expires = clock.now + timedelta(hours=72)
        assert started.payload()["expiresAt"] == expires.isoformat().replace("+00:00", "Z")
        clock.advance(hours=72)
        await s.refused("MULTISIG_EXPIRED", "APPROVE_MULTISIG_TX", multisigTxId="M4",
                        approverId="b")  # fmt: skip
        await s.refused("MULTISIG_NOT_FOUND", "APPROVE_MULTISIG_TX", multisigTxId="nope",
                        approverId="b")  # fmt: skip

    async def test_an_approval_that_cannot_pay_is_rejected_whole(self, s: Script) -> None:
        await self._funded_organization(s)
        await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="50", requiredApprovers=2,
                   approvers=["a", "b"])  # fmt: skip
        await s.ok(
            "INITIATE_MULTISIG_TX",
            multisigTxId="M3",
            organizationId="O",
            initiatorId="a",
            receiverId="d",
            amount="199.9",
        )  # fmt: skip (+ fee 0.1999)
        await s.refused("INSUFFICIENT_FUNDS", "APPROVE_MULTISIG_TX", multisigTxId="M3",
                        approverId="b")  # fmt: skip
        # The refused approval was not kept: once the money is there, b's approval runs it.
        await s.ok("TRANSFER_TOKENS", senderId="d", receiverId="O", amount="1")
        done = await s.ok("APPROVE_MULTISIG_TX", multisigTxId="M3", approverId="b")
        assert done.payload("MultiSigTxExecuted")["organizationBalance"] == "0.900100000"

    # --- loans ---------------------------------------------------------------------------------

    async def test_loans_are_disbursed_from_the_loan_pool(self, s: Script) -> None:
        await s.bootstrap(loanPoolSupply="1000")
        await s.user("a")
        await s.refused("INVALID_AMOUNT", "APPLY_FOR_LOAN", loanId="L0", borrowerId="a",
                        amount="0")  # fmt: skip
        applied = await s.ok("APPLY_FOR_LOAN", loanId="L1", borrowerId="a", amount="600",
                             collateralHash="c1", purpose="seeds")  # fmt: skip
        assert applied.payload("LoanApplicationReceived") == {
            "loanId": "L1", "borrowerId": "a", "amount": "600.000000000",
            "collateralHash": "c1", "purpose": "seeds",
        }  # fmt: skip
        approved = await s.ok("APPROVE_LOAN", loanId="L1", approverId="admin-1")
        assert approved.payload("LoanApproved") == {
            "loanId": "L1", "borrowerId": "a", "amount": "600.000000000",
            "borrowerBalance": "1100.000000000", "loanPoolBalance": "400.000000000",
            "approverId": "admin-1",
        }  # fmt: skip
        await s.refused("LOAN_NOT_PENDING", "APPROVE_LOAN", loanId="L1")
        await s.ok("APPLY_FOR_LOAN", loanId="L2", borrowerId="a", amount="400.000000001")
        await s.refused("INSUFFICIENT_FUNDS", "APPROVE_LOAN", loanId="L2")
        await s.refused("LOAN_NOT_FOUND", "APPROVE_LOAN", loanId="nope")

    # --- governance ----------------------------------------------------------------------------

    async def test_a_passed_proposal_changes_the_parameter_after_the_vote(
        self, s: Script, clock: ManualClock
    ) -> None:
        await s.bootstrap()
        for u in ("a", "b", "c", "d"):
            await s.user(u)
        await s.refused("UNKNOWN_PARAMETER", "SUBMIT_PROPOSAL", proposerId="a",
                        parameterKey="nope", newValue="1")  # fmt: skip
        submitted = await s.ok("SUBMIT_PROPOSAL", proposalId="P1", proposerId="a",
                               parameterKey="transferFeeBps", newValue="20", title="fees")  # fmt: skip
        assert submitted.payload("ProposalSubmitted") == {
            "proposalId": "P1", "proposerId": "a", "parameterKey": "transferFeeBps",
            "newValue": "20", "title": "fees",
            "votingEndsAt": (clock.now + timedelta(days=7)).isoformat().replace("+00:00", "Z"),
        }  # fmt: skip
        votes = [await s.ok("CAST_VOTE", proposalId="P1", voterId=v, support=v != "c")
                 for v in ("a", "b", "c")]  # fmt: skip
        assert votes[-1].payload("VoteCast") == {
            "proposalId": "P1", "voterId": "c", "support": False, "votesFor": 2, "votesAgainst": 1,
        }  # fmt: skip
        await s.refused("ALREADY_VOTED", "CAST_VOTE", proposalId="P1", voterId="a", support=False)
        await s.refused("PROPOSAL_NOT_PASSED", "EXECUTE_PROPOSAL", proposalId="P1")  # still open
        clock.advance(days=7)
        await s.refused("PROPOSAL_CLOSED", "CAST_VOTE", proposalId="P1", voterId="d", support=True)
        done = await s.ok("EXECUTE_PROPOSAL", proposalId="P1")
        assert done.payload("ProposalExecuted") == {
            "proposalId": "P1", "parameterKey": "transferFeeBps", "oldValue": "10",
            "newValue": "20", "votesFor": 2, "votesAgainst": 1,
        }  # fmt: skip
        await s.refused("ALREADY_EXECUTED", "EXECUTE_PROPOSAL", proposalId="P1")
        sent = await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100")
        assert sent.payload()["fee"] == "0.200000000"

    async def test_a_tied_proposal_does_not_pass(self, s: Script, clock: ManualClock) -> None:
        await s.bootstrap()
        await s.user("a")
        await s.user("b")
        await s.ok("SUBMIT_PROPOSAL", proposalId="P2", proposerId="a",
                   parameterKey="velocityTaxRateBps", newValue="100")  # fmt: skip
        await s.ok("CAST_VOTE", proposalId="P2", voterId="a", support=True)
        await s.ok("CAST_VOTE", proposalId="P2", voterId="b", support=False)
        clock.advance(days=8)
        await s.refused("PROPOSAL_NOT_PASSED", "EXECUTE_PROPOSAL", proposalId="P2")
        await s.refused("PROPOSAL_NOT_FOUND", "EXECUTE_PROPOSAL", proposalId="nope")
