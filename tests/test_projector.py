"""The projector: every event's effect on its read model, the DLQ, exactly once, rebuild.

Most tests feed events from `Feed`, a small in-test event source (the ledger side of the port),
so they can send what a ledger never would: unknown events, invalid payloads. Each test works in
its own tenant under its own projector name. The end-to-end tests at the bottom run the embedded
ledger (and the relay) on a private database.
"""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import gxcore
from gxcore.admin import service as admin
from gxcore.admin.models import Country, LegalTenderStatus, SystemParameter
from gxcore.business import handlers as business
from gxcore.business.models import MultiSigTransaction, Organization
from gxcore.cqrs.dlq import replay_dlq
from gxcore.cqrs.models import EventDLQ, EventLog, OutboxCommand, ProjectorState
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.projection import Projection, envelope
from gxcore.cqrs.projector import Projector, status
from gxcore.cqrs.rebuild import rebuild
from gxcore.cqrs.registry import PROJECTIONS
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db import server
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, LegalTenderStatusEnum, OffChainTxType, OutboxStatus
from gxcore.enums import UserProfileStatus as S
from gxcore.errors import DlqEntryNotFound, ProjectionRejected, ProjectorStopped
from gxcore.governance.models import Proposal
from gxcore.identity import review
from gxcore.identity.models import UserProfile
from gxcore.identity.principal import Principal
from gxcore.identity.review import Review
from gxcore.ledger import Command, EmbeddedLedger
from gxcore.ledger import events as ev
from gxcore.ledger.events import EVENT_SCHEMAS, EventPayload
from gxcore.ledger.port import LedgerEvent, Position
from gxcore.ledger.rows import GENESIS_POOL, LOAN_POOL
from gxcore.ledger.state import tx_id_of
from gxcore.loans import handlers as loans
from gxcore.loans.models import Loan
from gxcore.wallet import handlers as wallet
from gxcore.wallet.models import Transaction, TreasuryAccount, Wallet
from tests.conftest import ROLE_KEY
from tests.factories import make
from tests.ledger_contract import ManualClock, Script

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def D(value: str | int) -> Decimal:
    return Decimal(value).quantize(Decimal("0.000000001"))


class Feed:
    """An in-test event source: events appended by hand, read back like a ledger's."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.events: list[LedgerEvent] = []

    def emit(
        self,
        payload: EventPayload | tuple[str, dict[str, Any]],
        *,
        tenant: str | None = None,
        same_block: bool = False,
        tx_id: str | None = None,
        version: str = "1.0",
    ) -> LedgerEvent:
        last = self.events[-1] if self.events else None
        block = (last.block_number if last else 0) + (0 if same_block and last else 1)
        index = last.event_index + 1 if same_block and last else 0
        name, body = (
            (payload.name, payload.to_json()) if isinstance(payload, EventPayload) else payload
        )
        event = LedgerEvent(
            tenant_id=tenant or self.tenant,
            tx_id=tx_id or uuid.uuid4().hex,
            block_number=block,
            event_index=index,
            name=name,
            version=version,
            timestamp=T0 + timedelta(seconds=block),
            payload=body,
        )
        self.events.append(event)
        return event

    async def events_after(
        self, position: Position | None, limit: int = 500, *, tenant_id: str | None = None
    ) -> list[LedgerEvent]:
        found = [
            e
            for e in self.events
            if (position is None or e.position > position)
            and (tenant_id is None or e.tenant_id == tenant_id)
        ]
        return found[:limit]

    async def height(self) -> int:
        return self.events[-1].block_number if self.events else 0


@pytest.fixture
def feed(tenant: str) -> Feed:
    return Feed(tenant)


def projector(db: Database, feed: Feed, **options: Any) -> Projector:
    options.setdefault("retry_delay", 0)
    return Projector(db, feed, name=f"test-{feed.tenant}", **options)


async def project(db: Database, feed: Feed, **options: Any) -> None:
    await projector(db, feed, **options).run(once=True)


async def registered(db: Database, tenant: str, **values: Any) -> str:
    """A profile approved and waiting for the ledger (as identity's review leaves it)."""
    values.setdefault("status", S.APPROVED_PENDING_ONCHAIN)
    async with db.system(reason="test: register a profile") as session:
        profile = await make(session, UserProfile, tenant, **values)
    return profile.profile_id


def user(account: str, profile_id: str | None) -> ev.UserCreated:
    return ev.UserCreated(
        user_id=account, profile_id=profile_id, nationality="NG",
        biometric_hash=f"bio-{account}", age=30,
    )  # fmt: skip


def genesis(account: str, balance: str = "500") -> ev.GenesisDistributed:
    return ev.GenesisDistributed(
        user_id=account, amount=D(500), balance=D(balance), pool_balance=D(10_000)
    )


def transfer(
    sender: str, receiver: str, amount: str, fee: str, sender_after: str, receiver_after: str
) -> ev.TransferCompleted:
    return ev.TransferCompleted(
        sender_id=sender, receiver_id=receiver, amount=D(amount), fee=D(fee),
        sender_balance=D(sender_after), receiver_balance=D(receiver_after), remark="rent",
    )  # fmt: skip


async def users(db: Database, feed: Feed, *accounts: str) -> dict[str, str]:
    """Register a profile per account and emit its UserCreated; account -> profile id."""
    ids = {}
    for account in accounts:
        ids[account] = await registered(db, feed.tenant)
        feed.emit(user(account, ids[account]))
    return ids


# --- reading the read models (through the tenant's own scope: RLS shows them) ----------------


async def rows(db: Database, tenant: str, stmt: Any) -> list[Any]:
    async with db.tenant(tenant) as session:
        return list((await session.execute(stmt)).scalars().all())


async def balances(db: Database, tenant: str) -> dict[str, Decimal]:
    async with db.tenant(tenant) as session:
        found = await session.execute(select(Wallet.primary_account_id, Wallet.cached_balance))
        return dict(found.all())


async def entries(db: Database, tenant: str) -> set[tuple[Any, ...]]:
    """(account, type, counterparty, amount, fee, block, tx) of every Transaction row."""
    async with db.tenant(tenant) as session:
        found = await session.execute(
            select(
                Wallet.primary_account_id, Transaction.type, Transaction.counterparty,
                Transaction.amount, Transaction.fee, Transaction.block_number,
                Transaction.on_chain_tx_id,
            ).join(Wallet, Wallet.wallet_id == Transaction.wallet_id)
        )  # fmt: skip
        return set(found.all())


async def logged(db: Database, tenant: str) -> list[tuple[int, int | None]]:
    """Positions in EventLog, in order, duplicates kept."""
    async with db.tenant(tenant) as session:
        found = await session.execute(
            select(EventLog.block_number, EventLog.event_index).order_by(
                EventLog.block_number, EventLog.event_index
            )
        )
        return [tuple(r) for r in found.all()]  # type: ignore[misc]


async def dlq(db: Database, tenant: str) -> list[EventDLQ]:
    return await rows(db, tenant, select(EventDLQ).order_by(EventDLQ.block_number))


async def checkpoint(db: Database, feed: Feed) -> Position | None:
    found = await rows(
        db,
        feed.tenant,
        select(ProjectorState).where(ProjectorState.projector_name == f"test-{feed.tenant}"),
    )
    return Position(found[0].last_block, found[0].last_event_index) if found else None


async def profile(db: Database, tenant: str, profile_id: str) -> UserProfile:
    async with db.tenant(tenant) as session:
        found = await session.get(UserProfile, profile_id)
        assert found is not None
        return found


def positions(events: list[LedgerEvent]) -> list[tuple[int, int]]:
    return [(e.block_number, e.event_index) for e in events]


# =============================================================================================
# Each event's effect on its read model
# =============================================================================================


def test_every_event_of_the_ledger_has_a_projection() -> None:
    assert set(PROJECTIONS) == {name for name, _ in EVENT_SCHEMAS}


def test_the_projection_engine_imports_no_feature_but_through_the_registry() -> None:
    package = Path(gxcore.__file__).parent
    features = {
        p.name for p in package.iterdir() if (p / "handlers.py").exists() or p.name == "audit"
    }
    found = {}
    for module in sorted((package / "cqrs").glob("*.py")):
        if module.name == "registry.py":  # the one place that lists every feature's handlers
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "gxcore" and len(parts) > 1 and parts[1] in features:
                    found.setdefault(module.name, []).append(name)
    assert {"wallet", "identity", "loans"} <= features
    assert found == {}


async def test_user_created_activates_the_profile_and_opens_its_wallet(
    db: Database, feed: Feed, tenant: str
) -> None:
    by_id = await registered(db, tenant)
    by_account = await registered(db, tenant, fabric_user_id="acct-2")
    first = feed.emit(user("acct-1", by_id))
    feed.emit(user("acct-2", None))  # no profileId: found by its fabricUserId
    await project(db, feed)

    for profile_id, account in ((by_id, "acct-1"), (by_account, "acct-2")):
        p = await profile(db, tenant, profile_id)
        assert (p.status, p.fabric_user_id, p.onchain_status) == (S.ACTIVE, account, "ACTIVE")
    assert (await profile(db, tenant, by_id)).onchain_registered_at == first.timestamp
    assert await balances(db, tenant) == {"acct-1": D(0), "acct-2": D(0)}
    owners = await rows(db, tenant, select(Wallet.profile_id).order_by(Wallet.primary_account_id))
    assert owners == [by_id, by_account]
    assert await logged(db, tenant) == [(1, 0), (2, 0)]
    assert await dlq(db, tenant) == []


async def test_a_profile_not_yet_approved_is_not_activated(
    db: Database, feed: Feed, tenant: str
) -> None:
    pending = await registered(db, tenant, status=S.PENDING_ADMIN_APPROVAL)
    feed.emit(user("acct-1", pending))
    await project(db, feed)
    assert (await profile(db, tenant, pending)).status is S.PENDING_ADMIN_APPROVAL
    [entry] = await dlq(db, tenant)
    assert entry.reason.startswith("INVALID_TRANSITION: ")
    assert await balances(db, tenant) == {}  # no wallet either: the event applied nothing


async def test_a_profile_bound_to_another_account_or_deleted_is_refused(
    db: Database, feed: Feed, tenant: str
) -> None:
    bound = await registered(db, tenant)
    deleted = await registered(db, tenant, deleted_at=T0)
    feed.emit(user("first", bound))
    feed.emit(user("second", bound), same_block=True)  # the same profile, another account
    feed.emit(user("ghost", deleted))
    await project(db, feed)
    assert [d.reason.split(":")[0] for d in await dlq(db, tenant)] == [
        "ACCOUNT_MISMATCH", "UNKNOWN_PROFILE"
    ]  # fmt: skip
    assert (await profile(db, tenant, bound)).fabric_user_id == "first"
    assert await balances(db, tenant) == {"first": D(0)}


async def test_genesis_and_a_transfer_write_both_wallets_and_one_row_per_side(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "alice", "bob")
    mint = feed.emit(genesis("alice"))
    move = feed.emit(transfer("alice", "bob", "100", "0.1", "399.9", "100"))
    # A transfer to an account no wallet mirrors (a country's treasury): the sender's side only.
    tax = feed.emit(transfer("alice", "treasury:NG", "9.9", "0", "390", "9.9"), same_block=True)
    await project(db, feed)

    assert await balances(db, tenant) == {"alice": D("390"), "bob": D("100")}
    assert await entries(db, tenant) == {
        ("alice", OffChainTxType.MINT, GENESIS_POOL, D(500), D(0), mint.block_number, mint.tx_id),
        ("alice", OffChainTxType.SENT, "bob", D(100), D("0.1"), move.block_number, move.tx_id),
        ("bob", OffChainTxType.RECEIVED, "alice", D(100), D(0), move.block_number, move.tx_id),
        ("alice", OffChainTxType.SENT, "treasury:NG", D("9.9"), D(0), tax.block_number, tax.tx_id),
    }
    sides = await rows(
        db, tenant, select(Transaction).where(Transaction.on_chain_tx_id == move.tx_id)
    )
    assert [(t.remark, t.timestamp) for t in sides] == [("rent", move.timestamp)] * 2


async def test_remarks_of_any_text_and_none_reach_the_history_as_sent(
    db: Database, feed: Feed, tenant: str
) -> None:
    # Batch columns travel packed (gxcore.db.arrays): separators, quotes, empty text and None
    # in one batch must all come back as they were.
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    remarks = ["\x1f\x1e", "", None, 'say "hi", {x}\\', "\x1d\x1c\x1b\x1a", "𝄞"]
    moves = []
    for i, remark in enumerate(remarks):
        payload = transfer("a", "b", "1", "0", str(499 - i), str(1 + i)).model_copy(
            update={"remark": remark}
        )
        moves.append(feed.emit(payload, same_block=True))
    await project(db, feed)
    found = await rows(
        db, tenant, select(Transaction).where(Transaction.type == OffChainTxType.SENT)
    )
    by_tx = {t.on_chain_tx_id: t.remark for t in found}
    assert [by_tx[m.tx_id] for m in moves] == remarks


async def test_the_newest_balance_in_a_batch_wins(db: Database, feed: Feed, tenant: str) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    feed.emit(transfer("a", "b", "10", "0", "490", "10"))
    feed.emit(transfer("b", "a", "4", "0", "6", "494"), same_block=True)
    feed.emit(transfer("a", "b", "1", "0", "493", "7"), same_block=True)
    await project(db, feed, batch_size=100)
    assert await balances(db, tenant) == {"a": D(493), "b": D(7)}
    assert len(await entries(db, tenant)) == 7


async def test_freeze_and_unfreeze_follow_the_ledger_but_leave_an_operators_status(
    db: Database, feed: Feed, tenant: str
) -> None:
    ids = await users(db, feed, "a", "b")
    feed.emit(ev.WalletFrozen(account_id="a", reason="fraud check"))
    await project(db, feed)
    frozen = await profile(db, tenant, ids["a"])
    assert (frozen.status, frozen.onchain_status) == (S.FROZEN, "FROZEN")

    feed.emit(ev.WalletUnfrozen(account_id="a"))
    await project(db, feed)
    thawed = await profile(db, tenant, ids["a"])
    assert (thawed.status, thawed.onchain_status) == (S.ACTIVE, "ACTIVE")

    async with db.system(reason="test: an operator suspends b") as session:
        await session.execute(
            update(UserProfile).where(UserProfile.profile_id == ids["b"]).values(status=S.SUSPENDED)
        )
    feed.emit(ev.WalletFrozen(account_id="b"))
    feed.emit(ev.WalletFrozen(account_id="nobody"))
    await project(db, feed)
    suspended = await profile(db, tenant, ids["b"])
    assert (suspended.status, suspended.onchain_status) == (S.SUSPENDED, "FROZEN")
    [entry] = await dlq(db, tenant)
    assert entry.reason.startswith("UNKNOWN_ACCOUNT: ")


def organization_story(feed: Feed, org: str, ms: str) -> None:
    feed.emit(
        ev.OrganizationProposed(
            organization_id=org, organization_name="Co-op", stakeholders=["a", "b"], country="NG"
        )
    )
    for n, s in enumerate(("a", "b"), 1):
        feed.emit(
            ev.MembershipEndorsed(
                organization_id=org, stakeholder_id=s, endorsements=n, stakeholder_count=2
            )
        )
    feed.emit(
        ev.OrganizationActivated(organization_id=org, account_id=org, stakeholders=["a", "b"])
    )
    feed.emit(
        ev.AuthRuleDefined(
            organization_id=org, threshold=D(10), required_approvers=2, approvers=["a", "b"]
        )
    )
    feed.emit(
        ev.MultiSigTxInitiated(
            multisig_tx_id=ms, organization_id=org, initiator_id="a", receiver_id="b",
            amount=D(20), required_approvals=2, approvers=["a", "b"], approvals=1,
            expires_at=T0 + timedelta(hours=72),
        )
    )  # fmt: skip
    feed.emit(
        ev.MultiSigTxApproved(
            multisig_tx_id=ms, organization_id=org, approver_id="b", approvals=2,
            required_approvals=2,
        )
    )  # fmt: skip
    feed.emit(
        ev.MultiSigTxExecuted(
            multisig_tx_id=ms, organization_id=org, receiver_id="b", amount=D(20),
            fee=D("0.02"), organization_balance=D("79.98"), receiver_balance=D(520),
        ),
        same_block=True,
    )  # fmt: skip


async def test_organizations_and_their_multisig_transfers(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("b"))
    org, ms = f"ORG-{tenant}", f"MS-{tenant}"
    organization_story(feed, org, ms)
    await project(db, feed)

    [o] = await rows(db, tenant, select(Organization))
    assert (o.org_id, o.org_name, o.status, o.stakeholders, o.endorsers) == (
        org, "Co-op", "ACTIVE", ["a", "b"], ["a", "b"]
    )  # fmt: skip
    assert o.auth_rules == [
        {"threshold": "10.000000000", "requiredApprovers": 2, "approvers": ["a", "b"]}
    ]
    assert o.activated_at is not None
    [m] = await rows(db, tenant, select(MultiSigTransaction))
    assert (m.org_id, m.proposer_id, m.status, m.required_signatures, m.current_signatures) == (
        org, "a", "EXECUTED", 2, 2
    )  # fmt: skip
    assert m.approvers == ["a", "b"] and m.params["receiverId"] == "b"
    assert m.executed_at == feed.events[-1].timestamp
    # The organization's account got a wallet at activation, owned by its first stakeholder.
    assert (await balances(db, tenant))["b"] == D(520)
    assert (await balances(db, tenant))[org] == D("79.98")
    executed = feed.events[-1]
    assert ("b", OffChainTxType.RECEIVED, org, D(20), D(0), executed.block_number,
            executed.tx_id) in await entries(db, tenant)  # fmt: skip

    feed.emit(ev.WalletFrozen(account_id=org))
    await project(db, feed)
    assert await rows(db, tenant, select(Organization.status)) == ["FROZEN"]


def ids_story(feed: Feed, same_id: str, name: str, amount: str) -> None:
    """An organization, a multisig transfer, a loan and a proposal, all with the id `same_id`."""
    feed.emit(ev.OrganizationProposed(organization_id=same_id, organization_name=name,
                                      stakeholders=["a", "b"]))  # fmt: skip
    feed.emit(ev.MultiSigTxInitiated(
        multisig_tx_id=same_id, organization_id=same_id, initiator_id="a", receiver_id="b",
        amount=D(amount), approvals=1, required_approvals=2, approvers=["a", "b"],
        expires_at=T0 + timedelta(days=1),
    ))  # fmt: skip
    feed.emit(ev.LoanApplicationReceived(loan_id=same_id, borrower_id="a", amount=D(amount)))
    feed.emit(ev.ProposalSubmitted(proposal_id=same_id, proposer_id="a", title=name,
                                   parameter_key="transferFeeBps", new_value=amount,
                                   voting_ends_at=T0))  # fmt: skip


async def test_ids_chosen_by_clients_are_per_tenant_and_another_tenants_are_untouched(
    db: Database, feed: Feed, tenant: str
) -> None:
    other = Feed(f"o-{uuid.uuid4().hex[:10]}")
    other_profile = await registered(db, other.tenant)
    same_id = f"X-{tenant}"
    ids_story(other, same_id, "Theirs", "7")
    await project(db, other)

    ids_story(feed, same_id, "Mine", "9")
    feed.emit(user("a", other_profile))  # another tenant's profile id
    await project(db, feed)
    assert [d.reason.split(":")[0] for d in await dlq(db, tenant)] == ["UNKNOWN_PROFILE"]
    for t, name, amount in ((tenant, "Mine", D(9)), (other.tenant, "Theirs", D(7))):
        assert await rows(db, t, select(Organization.org_name)) == [name]
        assert await rows(db, t, select(MultiSigTransaction.params)) == [
            {"receiverId": "b", "amount": f"{amount:f}", "eligibleApprovers": ["a", "b"],
             "expiresAt": (T0 + timedelta(days=1)).isoformat()}
        ]  # fmt: skip
        assert await rows(db, t, select(Loan.amount)) == [amount]
        assert await rows(db, t, select(Proposal.title)) == [name]
    untouched = await profile(db, other.tenant, other_profile)
    assert (untouched.status, untouched.fabric_user_id) == (S.APPROVED_PENDING_ONCHAIN, None)


async def test_activating_a_user_neither_reads_nor_locks_another_tenants_profiles(
    db: Database, feed: Feed, tenant: str
) -> None:
    # Account ids are per tenant: another tenant's profile bound to the same id, locked by a
    # transaction of its own, must not hold this tenant's projection up.
    theirs = await registered(db, f"o-{uuid.uuid4().hex[:10]}", fabric_user_id="shared")
    mine = await registered(db, tenant)
    feed.emit(user("shared", mine))
    async with db.system(reason="test: hold another tenant's profile") as holder:
        await holder.execute(
            select(UserProfile).where(UserProfile.profile_id == theirs).with_for_update()
        )
        await asyncio.wait_for(project(db, feed), timeout=10)
    assert (await profile(db, tenant, mine)).status is S.ACTIVE


async def test_loans_are_recorded_and_disbursed(db: Database, feed: Feed, tenant: str) -> None:
    await users(db, feed, "a")
    loan = f"LOAN-{tenant}"
    feed.emit(ev.LoanApplicationReceived(loan_id=loan, borrower_id="a", amount=D("77.7"),
                                         collateral_hash="h", purpose="seeds"))  # fmt: skip
    await project(db, feed)
    [applied] = await rows(db, tenant, select(Loan))
    assert (applied.status, applied.amount, applied.purpose, applied.borrower_id) == (
        "APPLIED", D("77.7"), "seeds", "a"
    )  # fmt: skip

    paid = feed.emit(ev.LoanApproved(loan_id=loan, borrower_id="a", amount=D("77.7"),
                                     borrower_balance=D("77.7"), loan_pool_balance=D(900),
                                     approver_id="admin-1"))  # fmt: skip
    await project(db, feed)
    [approved] = await rows(db, tenant, select(Loan))
    assert (approved.status, approved.approved_by, approved.approved_at) == (
        "APPROVED", "admin-1", paid.timestamp
    )  # fmt: skip
    assert await balances(db, tenant) == {"a": D("77.7")}
    assert await entries(db, tenant) == {
        ("a", OffChainTxType.LOAN_DISBURSEMENT, LOAN_POOL, D("77.7"), D(0), paid.block_number,
         paid.tx_id)
    }  # fmt: skip


async def test_a_refused_read_model_never_holds_a_balance_change_back(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("b"))
    org, ms, loan = f"ORG-{tenant}", f"MS-{tenant}", f"LOAN-{tenant}"
    organization_story(feed, org, ms)
    paid = feed.emit(ev.LoanApproved(loan_id=loan, borrower_id="a", amount=D("77.7"),
                                     borrower_balance=D("77.7"), loan_pool_balance=D(900)))  # fmt: skip

    async def refuse(batch: Any, event: LedgerEvent, payload: Any) -> None:
        raise ProjectionRejected("NOT_READY", f"{event.name} refused by the read model")

    refusing = {
        **PROJECTIONS,
        "MultiSigTxExecuted": Projection(refuse, business.multisig_postings),
        "LoanApproved": Projection(refuse, loans.disbursement_postings),
    }
    await project(db, feed, table=refusing)
    # The ledger moved the money: the balances and history entries apply, the events are
    # logged, and only their read-model part waits in the DLQ.
    assert await balances(db, tenant) == {"a": D("77.7"), "b": D(520), org: D("79.98")}
    assert ("a", OffChainTxType.LOAN_DISBURSEMENT, LOAN_POOL, D("77.7"), D(0),
            paid.block_number, paid.tx_id) in await entries(db, tenant)  # fmt: skip
    assert len(await logged(db, tenant)) == len(feed.events)
    dead = await dlq(db, tenant)
    assert [d.reason for d in dead] == [
        "NOT_READY: MultiSigTxExecuted refused by the read model",
        "NOT_READY: LoanApproved refused by the read model",
    ]
    assert await rows(db, tenant, select(MultiSigTransaction.status)) == ["APPROVED"]
    assert await rows(db, tenant, select(Loan)) == []

    # Replayed by a gxcore whose read model takes them: the rows catch up, balances stay.
    result = await replay_dlq(db, feed, tenant_id=tenant)
    assert result.applied == [d.id for d in dead] and result.failed == []
    assert await rows(db, tenant, select(MultiSigTransaction.status)) == ["EXECUTED"]
    assert await rows(db, tenant, select(Loan.status)) == ["APPROVED"]
    assert await balances(db, tenant) == {"a": D("77.7"), "b": D(520), org: D("79.98")}
    # b's genesis and receipt, the organization's payment, a's loan: no copies
    assert len(await entries(db, tenant)) == 4


async def test_proposals_votes_and_their_parameter_change(
    db: Database, feed: Feed, tenant: str
) -> None:
    proposal = f"P-{tenant}"
    feed.emit(ev.ProposalSubmitted(proposal_id=proposal, proposer_id="a",
                                   parameter_key="transferFeeBps", new_value="5",
                                   voting_ends_at=T0 + timedelta(days=7)))  # fmt: skip
    feed.emit(ev.VoteCast(proposal_id=proposal, voter_id="a", support=True, votes_for=1,
                          votes_against=0))  # fmt: skip
    feed.emit(ev.VoteCast(proposal_id=proposal, voter_id="b", support=False, votes_for=1,
                          votes_against=1))  # fmt: skip
    feed.emit(ev.VoteCast(proposal_id=proposal, voter_id="c", support=True, votes_for=2,
                          votes_against=1))  # fmt: skip
    done = feed.emit(ev.ProposalExecuted(proposal_id=proposal, parameter_key="transferFeeBps",
                                         old_value="10", new_value="5", votes_for=2,
                                         votes_against=1))  # fmt: skip
    await project(db, feed)
    [p] = await rows(db, tenant, select(Proposal))
    assert (p.status, p.votes_for, p.votes_against, p.executed_at, p.proposal_type) == (
        "EXECUTED", 2, 1, done.timestamp, "PARAMETER_CHANGE"
    )  # fmt: skip
    assert p.voters == [
        {"voterId": "a", "support": True},
        {"voterId": "b", "support": False},
        {"voterId": "c", "support": True},
    ]
    assert "transferFeeBps" in p.title
    assert (p.parameter_key, p.new_value, p.voting_ends_at) == (
        "transferFeeBps", "5", T0 + timedelta(days=7)
    )  # fmt: skip
    assert await rows(db, tenant, select(SystemParameter.param_value)) == ["5"]


async def test_bootstrap_adds_missing_parameters_and_keeps_the_tenants_values(
    db: Database, feed: Feed, tenant: str
) -> None:
    # As the tenant was created: seeded, and one value already changed by an operator.
    async with db.system(reason="test: seeded parameters") as session:
        session.add_all([
            SystemParameter(tenant_id=tenant, param_key="genesisAllocation", param_value="500"),
            SystemParameter(tenant_id=tenant, param_key="transferFeeBps", param_value="25"),
        ])  # fmt: skip
    feed.emit(ev.SystemBootstrapped(
        genesis_pool_id=GENESIS_POOL, fee_pool_id="f", redistribution_pool_id="r",
        loan_pool_id=LOAN_POOL, genesis_supply=D(10**9), loan_pool_supply=D(10**6),
        parameters={"transferFeeBps": "10", "genesisAllocation": "500.000000000",
                    "velocityTaxRateBps": "300"},
    ))  # fmt: skip
    await project(db, feed)

    async def parameters() -> dict[str, str]:
        async with db.tenant(tenant) as session:
            query = select(SystemParameter.param_key, SystemParameter.param_value)
            return dict((await session.execute(query)).all())

    assert await parameters() == {
        "genesisAllocation": "500",  # not rewritten as the ledger spells it
        "transferFeeBps": "25",  # the operator's
        "velocityTaxRateBps": "300",  # missing: added
    }
    # A change the ledger makes later is the tenant's new value.
    feed.emit(ev.SystemParameterUpdated(key="transferFeeBps", old_value="25", new_value="20"))
    for record_only in (
        ev.SystemPaused(reason="drill"),
        ev.SystemResumed(),
        ev.AdminAppointed(account_id="a"),
    ):
        feed.emit(record_only)  # fmt: skip
    await project(db, feed)
    assert (await parameters())["transferFeeBps"] == "20"
    assert len(await logged(db, tenant)) == len(feed.events)


async def test_an_activated_treasury_is_mirrored_and_an_unknown_country_dead_lettered(
    migrated_url: str, db: Database, feed: Feed, tenant: str
) -> None:
    await nigeria(migrated_url)
    opened = feed.emit(ev.TreasuryActivated(country_code="NG", account_id="treasury:NG"))
    feed.emit(ev.TreasuryActivated(country_code="ZZ", account_id="treasury:ZZ"))
    await project(db, feed)
    async with db.tenant(tenant) as session:
        rows = (await session.execute(select(
            TreasuryAccount.country_code, TreasuryAccount.account_id, TreasuryAccount.balance,
            TreasuryAccount.block_number,
        ))).all()  # fmt: skip
    assert rows == [("NG", "treasury:NG", Decimal(0), opened.block_number)]
    [dead] = await dlq(db, tenant)
    assert dead.reason.startswith("UNKNOWN_COUNTRY") and "ZZ" in dead.reason


async def test_country_data_writes_the_tenants_rows_and_never_the_shared_countries(
    engine: AsyncEngine, db: Database, feed: Feed, tenant: str
) -> None:
    async with AsyncSession(engine) as session, session.begin():  # `gx db seed`, the owner's
        await admin.seed_countries(session)
    code = "ZZ"  # user-assigned by ISO, so no real country has it
    first = feed.emit(ev.CountryDataInitialized(countries=[
        ev.CountryData(code="NG", name="Renamed by one tenant", population_share=Decimal("0.1")),
        ev.CountryData(code="GB", name="United Kingdom", population_share=Decimal("0.2")),
    ]))  # fmt: skip
    feed.emit(ev.CountryDataInitialized(countries=[
        ev.CountryData(code="NG", name="Nigeria", population_share=Decimal("0.3")),
    ]))  # fmt: skip
    unknown = feed.emit(ev.CountryDataInitialized(countries=[
        ev.CountryData(code="KE", name="Kenya", population_share=Decimal("0.1")),
        ev.CountryData(code=code, name="Zedland", population_share=Decimal("0.5")),
    ]))  # fmt: skip
    await project(db, feed)

    async with db.tenant(tenant) as session:
        statuses = (await session.execute(select(
            LegalTenderStatus.country_code, LegalTenderStatus.status,
            LegalTenderStatus.effective_date,
        ).order_by(LegalTenderStatus.country_code))).all()  # fmt: skip
    assert statuses == [
        ("GB", LegalTenderStatusEnum.RECOGNIZED, first.timestamp),
        ("NG", LegalTenderStatusEnum.RECOGNIZED, first.timestamp),  # once, not per event
    ]
    [dead] = await dlq(db, tenant)
    assert dead.reason.startswith("UNKNOWN_COUNTRY") and code in dead.reason
    assert dead.block_number == unknown.block_number  # the whole event: KE waits with it
    async with db.tenant(tenant) as session:
        names = dict((await session.execute(
            select(Country.country_code, Country.country_name).where(
                Country.country_code.in_([code, "NG"])
            )
        )).all())  # fmt: skip
    assert names == {"NG": "Nigeria"}  # the shared table: neither renamed nor extended


async def test_the_velocity_tax_debits_the_payer(db: Database, feed: Feed, tenant: str) -> None:
    await users(db, feed, "a")
    feed.emit(genesis("a"))
    tax = feed.emit(ev.VelocityTaxApplied(
        account_id="a", taxable_amount=D(400), rate_bps=300, amount=D(12),
        treasury_account_id="treasury:NG", treasury_share=D(6), redistribution_share=D(6),
        balance=D(488), treasury_balance=D(6),
    ))  # fmt: skip
    await project(db, feed)
    assert await balances(db, tenant) == {"a": D(488)}
    assert ("a", OffChainTxType.TAX, "treasury:NG", D(12), D(0), tax.block_number,
            tax.tx_id) in await entries(db, tenant)  # fmt: skip


# =============================================================================================
# The DLQ: refused events are kept with their reason, the projector moves on, replay applies
# =============================================================================================


async def test_unknown_events_and_invalid_payloads_go_to_the_dlq_and_the_projector_moves_on(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    mystery = feed.emit(("Mystery", {"x": 1}))
    newer = feed.emit(transfer("a", "b", "1", "0", "499", "1"), version="2.0")
    bad = transfer("a", "b", "100", "0", "400", "100").to_json()
    bad["amount"] = 100.5  # a float: money must be exact
    invalid = feed.emit(("TransferCompleted", bad))
    last = feed.emit(transfer("a", "b", "50", "0", "350", "150"))
    await project(db, feed)

    entries_ = {d.fabric_tx_id: d for d in await dlq(db, tenant)}
    assert set(entries_) == {mystery.tx_id, newer.tx_id, invalid.tx_id}
    assert entries_[mystery.tx_id].reason.startswith("UNKNOWN_EVENT: ")
    assert "version 2.0" in entries_[newer.tx_id].reason
    assert entries_[invalid.tx_id].reason.startswith("VALIDATION_FAILED: amount")
    kept = entries_[invalid.tx_id]
    assert kept.raw_payload["payload"] == bad and kept.raw_payload["eventIndex"] == 0
    assert (kept.block_number, kept.channel, kept.chaincode) == (
        invalid.block_number, "gxchannel", "gxtv3"
    )  # fmt: skip
    # Moved on: the later transfer is applied and the checkpoint is at the last event.
    assert await balances(db, tenant) == {"a": D(350), "b": D(150)}
    assert await checkpoint(db, feed) == last.position
    assert (invalid.block_number, 0) not in await logged(db, tenant)


async def test_a_dlq_entry_replays_from_the_ledger_without_rolling_a_balance_back(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    early = feed.emit(transfer("a", "b", "100", "0", "400", "100"))
    mystery = feed.emit(("Mystery", {}))
    # A gxcore that does not know transfers yet sends the first one to the DLQ; a newer one
    # applies the next transfer live, then replays the first.
    older = {name: p for name, p in PROJECTIONS.items() if name != "TransferCompleted"}
    await project(db, feed, table=older)
    feed.emit(transfer("a", "b", "50", "0", "350", "150"))
    await project(db, feed)
    [entry, unknown] = await dlq(db, tenant)
    assert (entry.block_number, entry.event_index) == (early.block_number, early.event_index)

    # rawPayload is what the projector saw, for the operator: replay never reads it.
    async with db.system(reason="test: tamper with a DLQ entry") as session:
        forged = {**early.payload, "amount": "1000000.000000000"}
        await session.execute(
            update(EventDLQ)
            .where(EventDLQ.id == entry.id)
            .values(raw_payload={**entry.raw_payload, "payload": forged})
        )
    result = await replay_dlq(db, feed, tenant_id=tenant)
    assert result.applied == [entry.id]
    assert [(i, r.split(":")[0]) for i, r in result.failed] == [(unknown.id, "UNKNOWN_EVENT")]

    # The old transfer's balances are older than what the wallets show: they stay.
    assert await balances(db, tenant) == {"a": D(350), "b": D(150)}
    assert ("b", OffChainTxType.RECEIVED, "a", D(100), D(0), early.block_number,
            early.tx_id) in await entries(db, tenant)  # fmt: skip
    assert [d.fabric_tx_id for d in await dlq(db, tenant)] == [mystery.tx_id]
    assert early.position in [Position(*p) for p in await logged(db, tenant)]

    with pytest.raises(DlqEntryNotFound):
        await replay_dlq(db, feed, entry_id=entry.id)


async def test_a_dlq_entry_naming_another_tenants_wallet_credits_nothing_on_replay(
    db: Database, feed: Feed, tenant: str
) -> None:
    other = f"b-{uuid.uuid4().hex[:10]}"
    feed.emit(user("bob", await registered(db, other)), tenant=other)
    theirs = feed.emit(genesis("bob"), tenant=other)
    await users(db, feed, "a")
    await project(db, feed)
    before = (await balances(db, other), await entries(db, other))
    assert before[0] == {"bob": D(500)}

    # Entries of tenant A whose payload credits 1,000,000 to tenant B's wallet: one at the
    # position of B's own genesis, one where the ledger has no event.
    forged = LedgerEvent(
        tenant_id=other, tx_id=theirs.tx_id, block_number=theirs.block_number, event_index=0,
        name="GenesisDistributed", timestamp=T0,
        payload=genesis("bob", "1000000").to_json(),
    )  # fmt: skip
    async with db.system(reason="test: forged DLQ entries") as session:
        for block in (theirs.block_number, theirs.block_number + 100):
            session.add(EventDLQ(
                tenant_id=tenant, reason="UNKNOWN_EVENT: forged", raw_payload=envelope(forged),
                fabric_tx_id=theirs.tx_id, block_number=block, event_index=0,
            ))  # fmt: skip
    result = await replay_dlq(db, feed, tenant_id=tenant)
    assert result.applied == []
    assert [r.split(":")[0] for _, r in result.failed] == ["TENANT_MISMATCH", "EVENT_NOT_FOUND"]
    assert [d.reason.split(":")[0] for d in await dlq(db, tenant)] == [
        "TENANT_MISMATCH", "EVENT_NOT_FOUND"
    ]  # fmt: skip
    assert (await balances(db, other), await entries(db, other)) == before
    assert await balances(db, tenant) == {"a": D(0)}


async def test_an_unknown_profile_waits_in_the_dlq_and_its_wallet_catches_up_on_replay(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a")
    feed.emit(genesis("a"))
    feed.emit(user("carol", str(uuid.uuid4())))  # approved in some other database
    carols = feed.emit(genesis("carol"))
    gift = feed.emit(transfer("a", "carol", "20", "0", "480", "520"))
    await project(db, feed)
    [entry] = await dlq(db, tenant)
    assert entry.reason.startswith("UNKNOWN_PROFILE: ")
    assert await balances(db, tenant) == {"a": D(480)}  # carol's side waits for her wallet

    carol = await registered(db, tenant, fabric_user_id="carol")
    result = await replay_dlq(db, feed, entry_id=entry.id)
    assert result.applied == [entry.id] and await dlq(db, tenant) == []
    assert (await profile(db, tenant, carol)).status is S.ACTIVE
    assert await balances(db, tenant) == {"a": D(480), "carol": D(520)}
    mine = {e for e in await entries(db, tenant) if e[0] == "carol"}
    assert mine == {
        ("carol", OffChainTxType.MINT, GENESIS_POOL, D(500), D(0), carols.block_number,
         carols.tx_id),
        ("carol", OffChainTxType.RECEIVED, "a", D(20), D(0), gift.block_number, gift.tx_id),
    }  # fmt: skip


# =============================================================================================
# Exactly once: crashes, restarts, two projectors
# =============================================================================================


def story(feed: Feed) -> None:
    """Balance events for accounts a and b (UserCreated emitted by `users`)."""
    feed.emit(genesis("a"))
    feed.emit(genesis("b"))
    balance_a, balance_b = D(500), D(500)
    for n in range(1, 9):
        balance_a -= n
        balance_b += n
        feed.emit(transfer("a", "b", str(n), "0", str(balance_a), str(balance_b)),
                  same_block=n % 3 == 0)  # fmt: skip


def gated(entered: asyncio.Event) -> dict[str, Projection]:
    """The real table, but a transfer's projection waits forever: a batch caught mid-way."""

    async def wait(batch: Any, event: LedgerEvent, payload: Any) -> None:
        entered.set()
        await asyncio.Event().wait()

    gate = Projection(handler=wait, postings=wallet.transfer_postings)
    return {**PROJECTIONS, "TransferCompleted": gate}


async def test_a_crash_mid_batch_leaves_nothing_and_the_restart_applies_each_event_once(
    db: Database, feed: Feed, tenant: str
) -> None:
    ids = await users(db, feed, "a", "b")
    story(feed)
    entered = asyncio.Event()
    crashing = projector(db, feed, batch_size=3, table=gated(entered))
    task = asyncio.create_task(crashing.run(once=True))
    await asyncio.wait_for(entered.wait(), 10)
    task.cancel()  # killed inside its third batch's transaction
    with suppress(asyncio.CancelledError):
        await task

    committed = feed.events[:3]  # two UserCreated and a genesis: the batch before the crash
    assert await checkpoint(db, feed) == committed[-1].position
    assert await logged(db, tenant) == positions(committed)
    assert await balances(db, tenant) == {"a": D(500), "b": D(0)}

    await project(db, feed, batch_size=3)
    assert await logged(db, tenant) == positions(feed.events)  # each once, no gap
    assert await balances(db, tenant) == {"a": D(464), "b": D(536)}
    assert len(await entries(db, tenant)) == 2 + 2 * 8
    assert (await profile(db, tenant, ids["a"])).status is S.ACTIVE


async def test_two_projectors_on_one_checkpoint_apply_each_event_once(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    story(feed)
    first, second = projector(db, feed, batch_size=2), projector(db, feed, batch_size=3)
    done = await asyncio.gather(first.run(once=True), second.run(once=True))
    assert sum(p.applied for p in done) == len(feed.events)
    assert await logged(db, tenant) == positions(feed.events)
    assert await balances(db, tenant) == {"a": D(464), "b": D(536)}
    assert len(await entries(db, tenant)) == 2 + 2 * 8


async def test_a_handler_error_is_retried_then_stops_the_projector_before_the_event(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    await project(db, feed)
    before = await checkpoint(db, feed)
    calls = 0

    async def explode(batch: Any, event: LedgerEvent, payload: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("read model exploded")

    broken = {**PROJECTIONS, "TransferCompleted": Projection(explode, wallet.transfer_postings)}
    bad = feed.emit(transfer("a", "b", "10", "0", "490", "10"))
    feed.emit(ev.SystemPaused())
    with pytest.raises(ProjectorStopped) as stopped:
        await project(db, feed, table=broken, retries=1)
    message = str(stopped.value)
    assert stopped.value.code == "PROJECTOR_STOPPED"
    for part in ("TransferCompleted", f"block {bad.block_number}", bad.tx_id,
                 "read model exploded", "checkpoint stays just before it"):  # fmt: skip
        assert part in message, message
    assert calls == 4  # the batch twice, then the event alone twice
    assert await checkpoint(db, feed) == before
    assert await balances(db, tenant) == {"a": D(500), "b": D(0)}
    assert await dlq(db, tenant) == []

    await project(db, feed)  # the cause fixed: it resumes at the event
    assert await balances(db, tenant) == {"a": D(490), "b": D(10)}
    assert await logged(db, tenant) == positions(feed.events)


async def test_a_passing_failure_is_retried_and_applied_once(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    story(feed)
    failures = [RuntimeError("connection reset")]

    async def flaky(batch: Any, event: LedgerEvent, payload: Any) -> None:
        if failures:
            raise failures.pop()

    table = {**PROJECTIONS, "TransferCompleted": Projection(flaky, wallet.transfer_postings)}
    await project(db, feed, table=table)
    assert await logged(db, tenant) == positions(feed.events)
    assert await balances(db, tenant) == {"a": D(464), "b": D(536)}


async def test_stopping_finishes_the_batch_in_hand(db: Database, feed: Feed, tenant: str) -> None:
    await users(db, feed, "a", "b")
    story(feed)  # 12 events in all
    stop = asyncio.Event()

    async def sigterm(batch: Any, event: LedgerEvent, payload: Any) -> None:
        stop.set()  # as the signal handler does, in the middle of a batch

    table = {**PROJECTIONS, "TransferCompleted": Projection(sigterm, wallet.transfer_postings)}
    progress = await projector(db, feed, batch_size=5, table=table).run(stop=stop)
    assert progress.applied == 5
    assert await logged(db, tenant) == positions(feed.events[:5])
    assert await checkpoint(db, feed) == feed.events[4].position


# =============================================================================================
# The outbox, status
# =============================================================================================


async def test_commands_still_in_flight_are_marked_committed_with_their_block(
    db: Database, feed: Feed, tenant: str
) -> None:
    rows_: dict[str, OutboxCommand] = {}
    async with db.tenant(tenant) as session:
        for request in ("locked", "submitted", "pending", "done", "unrelated"):
            rows_[request] = await enqueue(
                session, service="svc-test", command_type=CommandType.PAUSE_SYSTEM,
                request_id=request, payload={},
            )  # fmt: skip
    states = {
        "locked": (OutboxStatus.LOCKED, None, None),  # its relay died after the submit
        "submitted": (OutboxStatus.SUBMITTED, "tx-submitted", None),
        "pending": (OutboxStatus.PENDING, None, None),  # back in the queue: the relay's
        "done": (OutboxStatus.COMMITTED, "tx-done", 99),
        "unrelated": (OutboxStatus.LOCKED, None, None),  # no event of it yet
    }
    async with db.system(reason="test: outbox states") as session:
        for request, (state, tx, block) in states.items():
            await session.execute(
                update(OutboxCommand)
                .where(OutboxCommand.id == rows_[request].id)
                .values(status=state, fabric_tx_id=tx, commit_block=block)
            )
    events = {
        "locked": feed.emit(ev.SystemPaused(), tx_id=tx_id_of(tenant, "locked")),
        "submitted": feed.emit(ev.SystemResumed(), tx_id="tx-submitted"),
        "pending": feed.emit(ev.SystemPaused(), tx_id=tx_id_of(tenant, "pending")),
        "done": feed.emit(ev.SystemResumed(), tx_id="tx-done"),
    }
    await project(db, feed)

    async with db.tenant(tenant) as session:
        found = {
            r.request_id: (r.status, r.fabric_tx_id, r.commit_block)
            for r in (await session.scalars(select(OutboxCommand))).all()
        }
    assert found == {
        "locked": (OutboxStatus.COMMITTED, events["locked"].tx_id, events["locked"].block_number),
        "submitted": (OutboxStatus.COMMITTED, "tx-submitted", events["submitted"].block_number),
        "pending": (OutboxStatus.PENDING, None, None),
        "done": (OutboxStatus.COMMITTED, "tx-done", 99),
        "unrelated": (OutboxStatus.LOCKED, None, None),
    }


async def test_status_shows_checkpoint_height_lag_and_the_dlq(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a")
    feed.emit(("Mystery", {}))
    await project(db, feed)
    feed.emit(genesis("a"))
    feed.emit(genesis("a"))
    st = await status(db, feed, name=f"test-{tenant}", tenant_id=tenant)
    assert (st.height, st.position, st.waiting, st.lag, st.dead) == (
        4, Position(2, 0), Position(3, 0), 2, 1
    )  # fmt: skip
    [mine] = st.tenants
    assert (mine.tenant_id, mine.position, mine.dead) == (tenant, Position(2, 0), 1)
    assert mine.updated_at is not None

    # Caught up, then blocks of another tenant only: no lag for this one.
    await project(db, feed)
    feed.emit(("Mystery", {}), tenant=f"o-{uuid.uuid4().hex[:10]}")
    st = await status(db, feed, name=f"test-{tenant}", tenant_id=tenant)
    assert (st.height, st.position, st.waiting, st.lag) == (5, Position(4, 0), None, 0)


# =============================================================================================
# Rebuild
# =============================================================================================


def everything(feed: Feed, tenant: str) -> None:
    """Every kind of event with a read model, for accounts a and b."""
    feed.emit(ev.SystemBootstrapped(
        genesis_pool_id=GENESIS_POOL, fee_pool_id="f", redistribution_pool_id="r",
        loan_pool_id=LOAN_POOL, genesis_supply=D(10**9), loan_pool_supply=D(10**6),
        parameters={"transferFeeBps": "10"},
    ))  # fmt: skip
    story(feed)
    organization_story(feed, f"ORG-{tenant}", f"MS-{tenant}")
    feed.emit(ev.WalletFrozen(account_id="a"))
    feed.emit(ev.WalletUnfrozen(account_id="a"))
    feed.emit(ev.WalletFrozen(account_id="b"))
    feed.emit(ev.LoanApplicationReceived(loan_id=f"L-{tenant}", borrower_id="a", amount=D(5)))
    feed.emit(ev.LoanApproved(loan_id=f"L-{tenant}", borrower_id="a", amount=D(5),
                              borrower_balance=D(469), loan_pool_balance=D(10)))  # fmt: skip
    feed.emit(ev.ProposalSubmitted(proposal_id=f"P-{tenant}", proposer_id="a",
                                   parameter_key="transferFeeBps", new_value="7",
                                   voting_ends_at=T0))  # fmt: skip
    feed.emit(ev.VoteCast(proposal_id=f"P-{tenant}", voter_id="a", support=True, votes_for=1,
                          votes_against=0))  # fmt: skip
    feed.emit(ev.ProposalExecuted(proposal_id=f"P-{tenant}", parameter_key="transferFeeBps",
                                  old_value="10", new_value="7", votes_for=1,
                                  votes_against=0))  # fmt: skip
    feed.emit(("Mystery", {}))


async def test_a_rebuild_from_block_zero_equals_the_live_read_models(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    everything(feed, tenant)
    await project(db, feed, batch_size=4)
    before = await balances(db, tenant)

    report = await rebuild(db, feed, name=f"test-{tenant}")
    assert report.equal, report.differences
    assert (report.tenants, report.events, report.dead, report.committed) == (
        [tenant], len(feed.events), 1, False
    )  # fmt: skip
    assert await balances(db, tenant) == before


async def test_a_rebuild_finds_what_differs_and_repairs_it_only_when_asked(
    db: Database, feed: Feed, tenant: str
) -> None:
    await users(db, feed, "a", "b")
    everything(feed, tenant)
    await project(db, feed)
    name = f"test-{tenant}"
    async with db.system(reason="test: damage the read models") as session:
        await session.execute(
            update(Wallet).where(Wallet.tenant_id == tenant, Wallet.primary_account_id == "a")
            .values(cached_balance=D(1))
        )  # fmt: skip
        await session.execute(
            update(Organization).where(Organization.tenant_id == tenant).values(status="GONE")
        )
        stray = await session.scalar(select(Transaction.off_tx_id).where(
            Transaction.tenant_id == tenant).limit(1))  # fmt: skip
        await session.execute(
            update(Transaction).where(Transaction.off_tx_id == stray).values(amount=D(999))
        )
        await session.execute(text(
            'DELETE FROM "EventLog" WHERE "tenantId" = :t AND "blockNumber" = 1'
        ), {"t": tenant})  # fmt: skip

    found = await rebuild(db, feed, name=name, tenant_id=tenant)
    assert {d.table for d in found.differences} == {
        "Wallet", "Organization", "Transaction", "EventLog"
    }  # fmt: skip
    wallet_diff = next(d for d in found.differences if d.table == "Wallet")
    balance = wallet_diff.columns.index("cachedBalance")
    assert [r[balance] for r in wallet_diff.only_live] == [D(1)]
    assert [r[balance] for r in wallet_diff.only_rebuilt] == [D(469)]
    assert (await balances(db, tenant))["a"] == D(1)  # a check changes nothing

    repaired = await rebuild(db, feed, name=name, apply=True)
    assert repaired.committed and not repaired.equal
    assert (await balances(db, tenant))["a"] == D(469)
    assert await logged(db, tenant) == positions(feed.events[:-1])  # all but the DLQ'd one
    assert (await rebuild(db, feed, name=name)).equal


# =============================================================================================
# End to end: the embedded ledger (and the relay), on a private database
# =============================================================================================


async def nigeria(url: str) -> None:
    """The one country these tests name, written as `gx db seed` writes `Country`: as the owner."""
    async with server.connect(url) as conn:
        await conn.execute(
            'INSERT INTO "Country" ("countryCode", "countryName") VALUES (\'NG\', \'Nigeria\') '
            "ON CONFLICT DO NOTHING"
        )


@pytest.fixture
async def stack(scratch_url: str) -> AsyncIterator[tuple[Database, EmbeddedLedger, ManualClock]]:
    clock = ManualClock()
    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    ledger = await EmbeddedLedger.open(scratch_url, clock=clock)
    yield db, ledger, clock
    await ledger.close()
    await db.dispose()


async def ledger_balances(url: str, tenant: str) -> dict[str, Decimal]:
    async with server.connect(url) as conn:
        found = await conn.fetch(
            "SELECT account_id, balance FROM ledger.accounts WHERE tenant_id = $1", tenant
        )
    return {r["account_id"]: r["balance"] for r in found}


async def ledger_users(db: Database, s: Script, *accounts: str) -> dict[str, str]:
    """Profiles registered here and their accounts opened on the ledger (with profileId)."""
    ids = {}
    for account in accounts:
        ids[account] = await registered(db, s.tenant)
        await s.ok("CREATE_USER", userId=account, profileId=ids[account],
                   biometricHash=f"bio-{account}", nationality="NG", age=30)  # fmt: skip
        await s.ok("DISTRIBUTE_GENESIS", userId=account)
    return ids


async def test_e2e_an_approved_user_becomes_active_with_a_wallet_through_relay_and_ledger(
    stack: tuple[Database, EmbeddedLedger, ManualClock], scratch_url: str, tenant: str
) -> None:
    db, ledger, clock = stack
    await Script(ledger, tenant).bootstrap()
    await nigeria(scratch_url)
    admin = await registered(db, tenant, status=S.ACTIVE)
    person = await registered(db, tenant, status=S.PENDING_ADMIN_APPROVAL,
                              date_of_birth=date(1990, 5, 1), nationality_country_code="NG")  # fmt: skip
    async with db.tenant(tenant, actor_profile_id=admin) as session:
        principal = Principal(admin, tenant, "session", "device", "ADMIN")
        await review.approve(person, review=Review(session, principal, clock.now))
    assert (await profile(db, tenant, person)).status is S.APPROVED_PENDING_ONCHAIN

    stats = await Relay(db, ledger, RelayConfig(listen=False)).drain()
    assert stats.committed == 1
    progress = await Projector(db, ledger).run(once=True)
    assert progress.applied == 2  # SystemBootstrapped, UserCreated

    active = await profile(db, tenant, person)
    assert (active.status, active.fabric_user_id) == (S.ACTIVE, person)
    assert active.onchain_registered_at is not None
    assert await balances(db, tenant) == {person: D(0)}
    [command] = await rows(db, tenant, select(OutboxCommand))
    assert (command.status, command.commit_block) == (OutboxStatus.COMMITTED, 2)


async def test_e2e_genesis_transfers_and_a_rejected_transfer(
    stack: tuple[Database, EmbeddedLedger, ManualClock], tenant: str, scratch_url: str
) -> None:
    db, ledger, _ = stack
    s = Script(ledger, tenant)
    await s.bootstrap()
    await ledger_users(db, s, "a", "b", "c")
    first = await s.ok("TRANSFER_TOKENS", senderId="a", receiverId="b", amount="100")
    await s.ok("TRANSFER_TOKENS", senderId="b", receiverId="c", amount="2.5")
    rejected = await s.refused("INSUFFICIENT_FUNDS", "TRANSFER_TOKENS", senderId="c",
                               receiverId="a", amount="5000")  # fmt: skip
    await Projector(db, ledger, batch_size=3).run(once=True)
    # The newest block holds the rejected transfer only: no event waits, no lag.
    st = await status(db, ledger)
    assert (st.height, st.waiting, st.lag) == (rejected.block_number, None, 0)
    assert st.position is not None and st.position.block_number < st.height

    on_ledger = await ledger_balances(scratch_url, tenant)
    assert await balances(db, tenant) == {a: on_ledger[a] for a in ("a", "b", "c")}
    assert await balances(db, tenant) == {"a": D("399.9"), "b": D("597.5"), "c": D("502.5")}
    found = await entries(db, tenant)
    assert len(found) == 3 + 2 * 2  # three MINTs, two sides of two transfers; none refused
    block = first.outcome.block_number
    assert {e for e in found if e[-1] == first.outcome.tx_id} == {
        ("a", OffChainTxType.SENT, "b", D(100), D("0.1"), block, first.outcome.tx_id),
        ("b", OffChainTxType.RECEIVED, "a", D(100), D(0), block, first.outcome.tx_id),
    }


async def test_e2e_a_command_whose_relay_died_is_marked_committed_by_the_projector(
    stack: tuple[Database, EmbeddedLedger, ManualClock], tenant: str
) -> None:
    db, ledger, _ = stack
    await Script(ledger, tenant).bootstrap()
    async with db.tenant(tenant) as session:
        command = await enqueue(session, service="svc-test", command_type=CommandType.PAUSE_SYSTEM,
                                request_id="pause-1", payload={"reason": "drill"})  # fmt: skip
    async with db.system(reason="test: the relay claimed it") as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.id == command.id)
                              .values(status=OutboxStatus.LOCKED, locked_by="dead-worker"))  # fmt: skip
    # The relay submitted it, then died before recording the outcome.
    [outcome] = await ledger.submit([Command(tenant, "pause-1", CommandType.PAUSE_SYSTEM,
                                             {"reason": "drill"})])  # fmt: skip
    await Projector(db, ledger).run(once=True)
    [row] = await rows(db, tenant, select(OutboxCommand))
    assert (row.status, row.fabric_tx_id, row.commit_block) == (
        OutboxStatus.COMMITTED, outcome.tx_id, outcome.block_number
    )  # fmt: skip


async def test_e2e_the_whole_contract_projects_and_a_rebuild_equals_it(
    stack: tuple[Database, EmbeddedLedger, ManualClock], tenant: str, scratch_url: str
) -> None:
    db, ledger, clock = stack
    await nigeria(scratch_url)
    s = Script(ledger, tenant)
    await s.bootstrap()
    await s.treasury("NG")
    await ledger_users(db, s, "a", "b", "c")
    await s.organization("O", ["a", "b"])
    await s.ok("DEFINE_AUTH_RULE", organizationId="O", threshold="10", requiredApprovers=2,
               approvers=["a", "b"])  # fmt: skip
    await s.ok("TRANSFER_TOKENS", senderId="c", receiverId="O", amount="123.456789012")
    await s.ok("INITIATE_MULTISIG_TX", multisigTxId="M1", organizationId="O", initiatorId="a",
               receiverId="c", amount="20")  # fmt: skip
    await s.ok("APPROVE_MULTISIG_TX", multisigTxId="M1", approverId="b")
    await s.ok("APPLY_FOR_LOAN", loanId="L1", borrowerId="b", amount="77.7", purpose="seeds")
    await s.ok("APPROVE_LOAN", loanId="L1")
    await s.ok("FREEZE_WALLET", accountId="c")
    await s.ok("SUBMIT_PROPOSAL", proposalId="P1", proposerId="a",
               parameterKey="transferFeeBps", newValue="5")  # fmt: skip
    await s.ok("CAST_VOTE", proposalId="P1", voterId="a", support=True)
    await s.ok("UPDATE_SYSTEM_PARAMETER", key="velocityTaxRateBps", value="200")
    clock.advance(days=361)
    await s.ok("EXECUTE_PROPOSAL", proposalId="P1")
    await s.ok("APPLY_VELOCITY_TAX", accountId="b")
    await Projector(db, ledger, batch_size=7).run(once=True)

    on_ledger = await ledger_balances(scratch_url, tenant)
    # The organization's account has a wallet too (its proposer's, opened at activation).
    assert await balances(db, tenant) == {a: on_ledger[a] for a in ("a", "b", "c", "O")}
    assert await dlq(db, tenant) == []
    assert await rows(db, tenant, select(Organization.status)) == ["ACTIVE"]
    assert await rows(db, tenant, select(MultiSigTransaction.status)) == ["EXECUTED"]
    assert await rows(db, tenant, select(Loan.status)) == ["APPROVED"]
    assert await rows(db, tenant, select(Proposal.status)) == ["EXECUTED"]
    params = await rows(db, tenant, select(SystemParameter).where(
        SystemParameter.param_key.in_(["transferFeeBps", "velocityTaxRateBps"])))  # fmt: skip
    assert {p.param_key: p.param_value for p in params} == {
        "transferFeeBps": "5", "velocityTaxRateBps": "200"
    }  # fmt: skip
    types = await rows(db, tenant, select(Transaction.type))
    assert OffChainTxType.TAX in types and OffChainTxType.LOAN_DISBURSEMENT in types

    report = await rebuild(db, ledger)
    assert report.equal, report.differences
    assert report.events == len(await ledger.events_after(None, 10_000)) and report.dead == 0


# =============================================================================================
# The commands
# =============================================================================================


def gx(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ.update(DATABASE_URL=database_url, **env)
    return subprocess.run(
        [sys.executable, "-m", "gxcore", "projector", *args],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip


async def test_the_projector_commands(
    stack: tuple[Database, EmbeddedLedger, ManualClock], tenant: str, scratch_url: str
) -> None:
    db, ledger, _ = stack
    s = Script(ledger, tenant)
    await s.bootstrap()
    await s.ok("CREATE_USER", userId="ghost", biometricHash="bio-ghost", nationality="NG", age=30)

    ran = gx("run", "--once", "--batch", "1", database_url=scratch_url)
    assert ran.returncode == 0, ran.stderr
    assert "1 applied, 1 to the DLQ" in ran.stdout

    shown = gx("status", database_url=scratch_url)
    assert shown.returncode == 0, shown.stderr
    for line in ("ledger height: 2", "position:      block 2, event 0", "lag:           0",
                 "DLQ:           1 entry", tenant):  # fmt: skip
        assert line in shown.stdout, shown.stdout

    still = gx("replay-dlq", database_url=scratch_url)
    assert still.returncode == 1 and "UNKNOWN_PROFILE" in still.stdout
    assert still.stderr.startswith("error: 1 entry still failing")
    await registered(db, tenant, fabric_user_id="ghost")
    replayed = gx("replay-dlq", "--tenant", tenant, database_url=scratch_url)
    assert replayed.returncode == 0 and "1 applied, 0 still failing" in replayed.stdout

    same = gx("rebuild", database_url=scratch_url)
    assert same.returncode == 0 and "equal the live ones" in same.stdout, same
    refused = gx("rebuild", database_url=scratch_url, GX_ENVIRONMENT="production")
    assert refused.returncode == 1 and "production" in refused.stderr
    assert "--force" in refused.stderr

    # A running projector finishes its batch and exits cleanly on SIGTERM.
    await s.ok("DISTRIBUTE_GENESIS", userId="ghost")
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    running = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gxcore", "projector", "run",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**environ, "DATABASE_URL": scratch_url},
    )  # fmt: skip
    try:
        for _ in range(200):
            if await balances(db, tenant) == {"ghost": D(500)}:
                break
            await asyncio.sleep(0.1)
        assert await balances(db, tenant) == {"ghost": D(500)}
    finally:
        running.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(running.communicate(), 60)
    assert running.returncode == 0, err
    assert "projector stopped: 1 applied" in out.decode()
