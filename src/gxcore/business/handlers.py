"""Projector handlers for organizations and their multi-signature transfers.

`Organization` and `MultiSigTransaction` mirror the ledger's rows, with its statuses (PROPOSED,
ACTIVE, FROZEN; PENDING, APPROVED, EXECUTED), keyed like the ledger's by (tenant, id). The
executed transfer's balances are postings like any transfer's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from gxcore.business import approvals
from gxcore.business.models import MultiSigTransaction, Organization
from gxcore.cqrs.postings import ZERO, Posting
from gxcore.enums import OffChainTxType
from gxcore.errors import ProjectionRejected
from gxcore.identity.models import UserProfile
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.wallet.handlers import open_wallets

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch

PROPOSED, ACTIVE, FROZEN = "PROPOSED", "ACTIVE", "FROZEN"
PENDING, APPROVED, EXECUTED = "PENDING", "APPROVED", "EXECUTED"
ORG_TYPE = "ORGANIZATION"
TRANSFER = "TRANSFER"

M = TypeVar("M", Organization, MultiSigTransaction)


async def _get(batch: Batch, event: LedgerEvent, model: type[M], key: str) -> M | None:
    return await batch.session.get(model, (event.tenant_id, key))


async def _require(batch: Batch, event: LedgerEvent, model: type[M], key: str) -> M:
    row = await _get(batch, event, model, key)
    if row is None:
        raise ProjectionRejected(
            "NOT_FOUND", f"no {model.__name__} {key!r}: the event creating it was not applied"
        )
    return row


async def organization_proposed(
    batch: Batch, event: LedgerEvent, p: ev.OrganizationProposed
) -> None:
    org = await _get(batch, event, Organization, p.organization_id)
    if org is None:
        org = Organization(org_id=p.organization_id, tenant_id=event.tenant_id)
        org.created_at = event.timestamp
        batch.session.add(org)
    org.org_name = p.organization_name
    org.org_type = ORG_TYPE
    org.status = PROPOSED
    org.stakeholders = list(p.stakeholders)
    org.endorsers = []
    org.auth_rules = []


async def membership_endorsed(batch: Batch, event: LedgerEvent, p: ev.MembershipEndorsed) -> None:
    org = await _require(batch, event, Organization, p.organization_id)
    endorsers = list(org.endorsers or [])
    if p.stakeholder_id not in endorsers:
        org.endorsers = [*endorsers, p.stakeholder_id]


async def organization_activated(
    batch: Batch, event: LedgerEvent, p: ev.OrganizationActivated
) -> None:
    """The organization's account opens: it gets a `Wallet` (a business account's), owned by
    the profile of its first stakeholder, its proposer (`POST /organizations` lists the caller
    first). Without such a profile here no wallet opens: the account is someone else's."""
    org = await _require(batch, event, Organization, p.organization_id)
    org.status = ACTIVE
    org.stakeholders = list(p.stakeholders)
    org.activated_at = event.timestamp
    owner = (
        await batch.session.scalar(
            select(UserProfile.profile_id).where(
                UserProfile.tenant_id == event.tenant_id,
                UserProfile.fabric_user_id == p.stakeholders[0],
            )
        )
        if p.stakeholders
        else None
    )
    if owner is not None:
        opened = [(event.tenant_id, owner, p.account_id)]
        for tenant, account in await open_wallets(batch.session, opened):
            batch.wallet_opened(tenant, account)


async def auth_rule_defined(batch: Batch, event: LedgerEvent, p: ev.AuthRuleDefined) -> None:
    """Rules are kept highest threshold first; a rule with the same threshold replaces the old
    one (the ledger's rule)."""
    org = await _require(batch, event, Organization, p.organization_id)
    rule = {
        "threshold": f"{p.threshold:f}",
        "requiredApprovers": p.required_approvers,
        "approvers": list(p.approvers),
    }
    kept = [r for r in org.auth_rules or [] if Decimal(r["threshold"]) != p.threshold]
    org.auth_rules = sorted([*kept, rule], key=lambda r: Decimal(r["threshold"]), reverse=True)


async def set_organization_frozen(
    batch: Batch, event: LedgerEvent, account_id: str, frozen: bool
) -> bool:
    """Freeze or unfreeze the organization whose account this is; False when none is."""
    org = await _get(batch, event, Organization, account_id)
    if org is None:
        return False
    org.status = FROZEN if frozen else ACTIVE
    return True


async def multisig_initiated(batch: Batch, event: LedgerEvent, p: ev.MultiSigTxInitiated) -> None:
    await _require(batch, event, Organization, p.organization_id)
    tx = await _get(batch, event, MultiSigTransaction, p.multisig_tx_id)
    if tx is None:
        tx = MultiSigTransaction(tx_id=p.multisig_tx_id, tenant_id=event.tenant_id)
        tx.created_at = event.timestamp
        batch.session.add(tx)
    params: dict[str, Any] = {
        "receiverId": p.receiver_id,
        "amount": f"{p.amount:f}",
        "eligibleApprovers": list(p.approvers),
        "expiresAt": p.expires_at.isoformat(),
    }
    tx.org_id = p.organization_id
    tx.proposer_id = p.initiator_id
    tx.operation = TRANSFER
    tx.params = params
    tx.required_signatures = p.required_approvals
    tx.current_signatures = p.approvals
    tx.approvers = [p.initiator_id]  # who approved so far: the initiator's approval counts
    tx.status = APPROVED if p.approvals >= p.required_approvals else PENDING
    # A business transfer's multisig id is its approval's: its EXECUTE may go now.
    await approvals.release_execution(batch.session, event.tenant_id, p.multisig_tx_id)


async def multisig_approved(batch: Batch, event: LedgerEvent, p: ev.MultiSigTxApproved) -> None:
    tx = await _require(batch, event, MultiSigTransaction, p.multisig_tx_id)
    approvers = list(tx.approvers or [])
    if p.approver_id not in approvers:
        tx.approvers = [*approvers, p.approver_id]
    tx.current_signatures = p.approvals
    if tx.status != EXECUTED:
        tx.status = APPROVED if p.approvals >= p.required_approvals else PENDING


async def multisig_executed(batch: Batch, event: LedgerEvent, p: ev.MultiSigTxExecuted) -> None:
    # The money moved whatever the read model holds: a missing row (its initiation went to the
    # DLQ) never holds a balance change back; `gx projector rebuild --apply` restores the row.
    tx = await _get(batch, event, MultiSigTransaction, p.multisig_tx_id)
    if tx is not None:
        tx.status = EXECUTED
        tx.executed_at = event.timestamp


def multisig_postings(p: ev.MultiSigTxExecuted) -> list[Posting]:
    org, receiver = p.organization_id, p.receiver_id
    return [
        Posting(org, p.organization_balance, OffChainTxType.SENT, receiver, p.amount, p.fee),
        Posting(receiver, p.receiver_balance, OffChainTxType.RECEIVED, org, p.amount, ZERO),
    ]
