"""Organizations and their multi-signature transfers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gxcore.db.types import to_money
from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import (
    AuthRule,
    Code,
    Kind,
    Rejected,
    add_rule,
    applicable_rule,
    check_auth_rule,
    check_stakeholders,
    plan_transfer,
    positive_amount,
)
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import FEE_POOL, Account, MultisigTx, Organization
from gxcore.ledger.state import Tx

PROPOSED, ACTIVE = "PROPOSED", "ACTIVE"
PENDING, APPROVED, EXECUTED = "PENDING", "APPROVED", "EXECUTED"


async def _organization(tx: Tx, organization_id: str, *, active: bool = False) -> Organization:
    org = await tx.get(Organization, organization_id)
    if org is None:
        raise Rejected(Code.ORGANIZATION_NOT_FOUND, f"no organization {organization_id!r}")
    if active and org.status != ACTIVE:
        raise Rejected(Code.ORGANIZATION_NOT_ACTIVE, f"{organization_id!r} is not active yet")
    return org


def _rules(org: Organization) -> list[AuthRule]:
    return [
        AuthRule(to_money(r["threshold"]), int(r["required"]), tuple(r["approvers"]))
        for r in org.auth_rules
    ]


def _rule_json(rule: AuthRule) -> dict[str, Any]:
    return {
        "threshold": f"{rule.threshold:f}",
        "required": rule.required,
        "approvers": list(rule.approvers),
    }


@handles(
    C.PROPOSE_ORGANIZATION,
    accounts=lambda p: (*p.stakeholders, *([p.organization_id] if p.organization_id else [])),
)
async def propose(tx: Tx, p: cmd.ProposeOrganization) -> None:
    org_id = p.organization_id or tx.derived_id("ORG")
    if await tx.get(Organization, org_id) is not None or await tx.account(org_id) is not None:
        raise Rejected(Code.ORGANIZATION_EXISTS, f"{org_id!r} is already taken")
    users = []
    for stakeholder in dict.fromkeys(p.stakeholders):
        account = await tx.account(stakeholder)
        if account is not None and account.kind == Kind.USER:
            users.append(stakeholder)
    stakeholders = check_stakeholders(p.stakeholders, users)
    tx.add(
        Organization(tx.tenant_id, org_id, p.organization_name, p.country, PROPOSED, stakeholders)
    )
    tx.emit(
        ev.OrganizationProposed(
            organization_id=org_id,
            organization_name=p.organization_name,
            stakeholders=list(stakeholders),
            country=p.country,
        )
    )


@handles(C.ENDORSE_MEMBERSHIP)
async def endorse(tx: Tx, p: cmd.EndorseMembership) -> None:
    org = await _organization(tx, p.organization_id)
    if org.status == ACTIVE:
        raise Rejected(Code.ALREADY_ACTIVE, f"{p.organization_id!r} is already active")
    if p.stakeholder_id not in org.stakeholders:
        raise Rejected(Code.NOT_A_STAKEHOLDER, f"{p.stakeholder_id!r} is not a stakeholder")
    if p.stakeholder_id in org.endorsements:
        raise Rejected(Code.ALREADY_ENDORSED, f"{p.stakeholder_id!r} already endorsed")
    tx.change(org).endorsements = (*org.endorsements, p.stakeholder_id)
    tx.emit(
        ev.MembershipEndorsed(
            organization_id=org.organization_id,
            stakeholder_id=p.stakeholder_id,
            endorsements=len(org.endorsements),
            stakeholder_count=len(org.stakeholders),
        )
    )


@handles(C.ACTIVATE_ORGANIZATION, accounts=lambda p: (p.organization_id,))
async def activate(tx: Tx, p: cmd.ActivateOrganization) -> None:
    org = await _organization(tx, p.organization_id)
    if org.status == ACTIVE:
        raise Rejected(Code.ALREADY_ACTIVE, f"{p.organization_id!r} is already active")
    missing = [s for s in org.stakeholders if s not in org.endorsements]
    if missing:
        raise Rejected(Code.ENDORSEMENTS_MISSING, f"not endorsed yet by {', '.join(missing)}")
    if await tx.account(org.organization_id) is not None:
        raise Rejected(Code.ORGANIZATION_EXISTS, f"account {org.organization_id!r} is taken")
    tx.change(org).status = ACTIVE
    tx.add(Account(tx.tenant_id, org.organization_id, Kind.ORGANIZATION, country=org.country))
    tx.emit(
        ev.OrganizationActivated(
            organization_id=org.organization_id,
            account_id=org.organization_id,
            stakeholders=list(org.stakeholders),
        )
    )


@handles(C.DEFINE_AUTH_RULE)
async def define_auth_rule(tx: Tx, p: cmd.DefineAuthRule) -> None:
    org = await _organization(tx, p.organization_id, active=True)
    rule = check_auth_rule(p.threshold, p.required_approvers, p.approvers, org.stakeholders)
    rules = add_rule(_rules(org), rule)
    tx.change(org).auth_rules = tuple(_rule_json(r) for r in rules)
    tx.emit(
        ev.AuthRuleDefined(
            organization_id=org.organization_id,
            threshold=rule.threshold,
            required_approvers=rule.required,
            approvers=list(rule.approvers),
        )
    )


@handles(C.INITIATE_MULTISIG_TX, accounts=lambda p: (p.receiver_id,))
async def initiate(tx: Tx, p: cmd.InitiateMultisigTx) -> None:
    ms_id = p.multisig_tx_id or tx.derived_id("MSIG")
    if await tx.get(MultisigTx, ms_id) is not None:
        raise Rejected(Code.MULTISIG_EXISTS, f"multisig transaction {ms_id!r} already exists")
    org = await _organization(tx, p.organization_id, active=True)
    if p.initiator_id not in org.stakeholders:
        raise Rejected(Code.NOT_A_MEMBER, f"{p.initiator_id!r} is not a member")
    amount = positive_amount(p.amount)
    if p.receiver_id == org.organization_id:
        raise Rejected(Code.SELF_TRANSFER, "an organization cannot pay itself")
    await tx.require(p.receiver_id)
    rule = applicable_rule(_rules(org), amount, org.stakeholders)
    approvals = (p.initiator_id,)  # the initiator's approval counts
    ms = tx.add(
        MultisigTx(
            tx.tenant_id,
            ms_id,
            org.organization_id,
            p.initiator_id,
            p.receiver_id,
            amount,
            rule.required,
            rule.approvers,
            approvals,
            APPROVED if len(approvals) >= rule.required else PENDING,
            tx.now + timedelta(hours=tx.params.multisig_approval_ttl_hours),
        )
    )
    tx.emit(
        ev.MultiSigTxInitiated(
            multisig_tx_id=ms_id,
            organization_id=org.organization_id,
            initiator_id=p.initiator_id,
            receiver_id=p.receiver_id,
            amount=amount,
            required_approvals=ms.required_approvals,
            approvers=list(ms.approvers),
            approvals=len(approvals),
            expires_at=ms.expires_at,
        )
    )


async def _multisig(tx: Tx, multisig_tx_id: str) -> MultisigTx:
    ms = await tx.get(MultisigTx, multisig_tx_id)
    if ms is None:
        raise Rejected(Code.MULTISIG_NOT_FOUND, f"no multisig transaction {multisig_tx_id!r}")
    if ms.status == EXECUTED:
        raise Rejected(Code.ALREADY_EXECUTED, f"{multisig_tx_id!r} has already run")
    return ms


async def _execute(tx: Tx, ms: MultisigTx) -> None:
    org_account = await tx.account(ms.organization_id)
    receiver = await tx.account(ms.receiver_id)
    plan = plan_transfer(
        ms.organization_id,
        ms.receiver_id,
        ms.amount,
        sender=org_account,
        receiver=receiver,
        params=tx.params,
        sender_kinds=frozenset({Kind.ORGANIZATION}),
    )
    assert org_account is not None and receiver is not None
    tx.set_balance(org_account, plan.sender_balance)
    tx.set_balance(receiver, plan.receiver_balance)
    if plan.fee:
        fee_pool = await tx.system(FEE_POOL)
        tx.credit(fee_pool, plan.fee)
    tx.change(ms).status = EXECUTED
    tx.emit(
        ev.MultiSigTxExecuted(
            multisig_tx_id=ms.multisig_tx_id,
            organization_id=ms.organization_id,
            receiver_id=ms.receiver_id,
            amount=plan.amount,
            fee=plan.fee,
            organization_balance=plan.sender_balance,
            receiver_balance=plan.receiver_balance,
        )
    )


@handles(C.APPROVE_MULTISIG_TX)
async def approve(tx: Tx, p: cmd.ApproveMultisigTx) -> None:
    ms = await _multisig(tx, p.multisig_tx_id)
    if tx.now >= ms.expires_at:
        raise Rejected(Code.MULTISIG_EXPIRED, f"{p.multisig_tx_id!r} expired")
    if p.approver_id not in ms.approvers and p.approver_id != ms.initiator_id:
        raise Rejected(Code.NOT_AN_APPROVER, f"{p.approver_id!r} may not approve this transaction")
    if p.approver_id in ms.approvals:
        raise Rejected(Code.ALREADY_APPROVED, f"{p.approver_id!r} already approved")
    tx.change(ms).approvals = (*ms.approvals, p.approver_id)
    tx.emit(
        ev.MultiSigTxApproved(
            multisig_tx_id=ms.multisig_tx_id,
            organization_id=ms.organization_id,
            approver_id=p.approver_id,
            approvals=len(ms.approvals),
            required_approvals=ms.required_approvals,
        )
    )
    if len(ms.approvals) >= ms.required_approvals:
        ms.status = APPROVED
        await _execute(tx, ms)  # INSUFFICIENT_FUNDS here rejects the approval too


@handles(C.EXECUTE_MULTISIG_TX)
async def execute(tx: Tx, p: cmd.ExecuteMultisigTx) -> None:
    ms = await _multisig(tx, p.multisig_tx_id)
    if ms.status != APPROVED:
        raise Rejected(
            Code.NOT_APPROVED,
            f"{len(ms.approvals)} of {ms.required_approvals} approvals so far",
        )
    await _execute(tx, ms)
