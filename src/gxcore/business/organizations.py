"""Organizations on the ledger (svc-organization): each use case enqueues its ledger command.

Callers name users by profile id; the ledger knows their accounts (`fabricUserId`). What can be
known for certain from the read models (`Organization`, `MultiSigTransaction`) is refused here,
before anything is queued: a caller who is no stakeholder does not see the organization (404),
an endorsement or approval given already, an approver outside the transaction's group. The
rest (endorsements still missing at activation, funds at execution) is the ledger's to decide:
its rejection code comes back as the command's status (`GET .../commands/{commandId}`).

An organization that backs a business account spends only through the business approvals
(`approvals`): its ledger rules and direct multi-signature transfers are refused here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.business.models import BusinessAccount, MultiSigTransaction, Organization
from gxcore.business.schemas import (
    AuthRuleIn,
    MultisigPage,
    MultisigRead,
    MultisigTransferIn,
    OrganizationIn,
    OrganizationRead,
    OrgCommandAccepted,
    OrgCommandStatus,
)
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.db import pages
from gxcore.enums import AuditEventType, CommandType, UserProfileStatus
from gxcore.errors import (
    AlreadyExists,
    CommandNotFound,
    MultisigNotFound,
    NotPermitted,
    OrganizationNotFound,
    OrganizationStateConflict,
    UserNotFound,
    ValidationFailed,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.wallet import service as wallets
from gxcore.wallet.models import Wallet

SERVICE = "svc-organization"
ACTIVE, PENDING, APPROVED = "ACTIVE", "PENDING", "APPROVED"
MIN_STAKEHOLDERS, MAX_STAKEHOLDERS = 2, 20


def _read(org: Organization) -> OrganizationRead:
    return OrganizationRead(
        organizationId=org.org_id,
        organizationName=org.org_name,
        status=org.status,
        stakeholders=list(org.stakeholders or []),
        endorsers=list(org.endorsers or []),
        authRules=list(org.auth_rules or []),
        activatedAt=org.activated_at,
        createdAt=org.created_at,
    )


def _multisig(tx: MultiSigTransaction) -> MultisigRead:
    return MultisigRead(
        multisigTxId=tx.tx_id,
        organizationId=tx.org_id,
        initiatorId=tx.proposer_id,
        status=tx.status,
        requiredSignatures=tx.required_signatures,
        currentSignatures=tx.current_signatures,
        approvers=list(tx.approvers or []),
        params=dict(tx.params or {}),
        executedAt=tx.executed_at,
        createdAt=tx.created_at,
    )


async def _account_of(session: AsyncSession, profile_id: str) -> str:
    """The ledger account of an ACTIVE user, else UserNotFound."""
    profile = await session.get(UserProfile, profile_id)
    if (
        profile is None
        or profile.deleted_at is not None
        or profile.status is not UserProfileStatus.ACTIVE
        or not profile.fabric_user_id
    ):
        raise UserNotFound(f"no active user {profile_id!r} on the ledger", profileId=profile_id)
    return profile.fabric_user_id


async def _visible(
    session: AsyncSession, org_id: str, principal: Principal
) -> tuple[Organization, str | None]:
    """The organization and the caller's ledger account when a stakeholder; administrators see
    every organization, anyone else none (404)."""
    tenant = principal.tenant_id
    org = await session.get(Organization, (tenant, org_id))
    me = await session.get(UserProfile, principal.profile_id)
    mine = me.fabric_user_id if me is not None else None
    stakeholder = org is not None and mine is not None and mine in (org.stakeholders or [])
    if org is None or not (stakeholder or principal.is_admin):
        raise OrganizationNotFound(f"no organization {org_id!r}", organizationId=org_id)
    return org, mine if stakeholder else None


async def _stakeholder(
    session: AsyncSession, org_id: str, principal: Principal
) -> tuple[Organization, str]:
    org, mine = await _visible(session, org_id, principal)
    if mine is None:
        raise NotPermitted("only the organization's stakeholders may do this")
    return org, mine


async def _not_business(session: AsyncSession, org_id: str) -> None:
    backs = await session.scalar(
        select(BusinessAccount.business_account_id)
        .join(Wallet, Wallet.wallet_id == BusinessAccount.wallet_id)
        .where(Wallet.primary_account_id == org_id)
    )
    if backs is not None:
        raise OrganizationStateConflict(
            "this organization backs a business account: it spends through the business "
            "account's signatories and rules",
            businessAccountId=backs,
        )


async def _queue(
    session: AsyncSession,
    principal: Principal,
    command_type: CommandType,
    request_id: str,
    payload: dict[str, Any],
    org_id: str,
    multisig_tx_id: str | None = None,
) -> OrgCommandAccepted:
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=command_type,
        request_id=request_id,
        payload=payload,
    )
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_CREATED,
        resource_type="OutboxCommand",
        resource_id=command.id,
        target_profile_id=principal.profile_id,
        new={"command": command_type.value, "organizationId": org_id, **payload},
    )
    return OrgCommandAccepted(
        commandId=command.id,
        status=command.status.value,
        organizationId=org_id,
        multisigTxId=multisig_tx_id,
    )


def _request(org_id: str, *parts: str) -> str:
    return ":".join(("org", org_id, *parts))


# --------------------------------------------------------------------------------------------


async def propose(
    body: OrganizationIn, *, session: AsyncSession, principal: Principal
) -> OrgCommandAccepted:
    """PROPOSE_ORGANIZATION with the caller first among the stakeholders."""
    ids = list(dict.fromkeys([principal.profile_id, *body.stakeholders]))
    if not MIN_STAKEHOLDERS <= len(ids) <= MAX_STAKEHOLDERS:
        raise ValidationFailed(
            f"{len(ids)} stakeholders (the caller included); "
            f"{MIN_STAKEHOLDERS} to {MAX_STAKEHOLDERS} needed",
            field="stakeholders",
        )
    accounts = [await _account_of(session, i) for i in ids]
    org_id = body.organizationId or f"ORG-{uuid.uuid4().hex}"
    if await session.get(Organization, (principal.tenant_id, org_id)) is not None:
        raise AlreadyExists(f"organization {org_id!r} exists", field="organizationId")
    payload: dict[str, Any] = {
        "organizationId": org_id,
        "organizationName": body.organizationName,
        "stakeholders": accounts,
    }
    if body.country:
        payload["country"] = body.country
    return await _queue(
        session,
        principal,
        CommandType.PROPOSE_ORGANIZATION,
        _request(org_id, "propose"),
        payload,
        org_id,
    )


async def get(org_id: str, *, session: AsyncSession, principal: Principal) -> OrganizationRead:
    org, _ = await _visible(session, org_id, principal)
    return _read(org)


async def endorse(
    org_id: str, *, session: AsyncSession, principal: Principal
) -> OrgCommandAccepted:
    """The caller endorses as a stakeholder (ENDORSE_MEMBERSHIP), once."""
    org, mine = await _stakeholder(session, org_id, principal)
    if org.status != "PROPOSED":
        raise OrganizationStateConflict(
            f"organization {org_id!r} is {org.status}", current=org.status
        )
    if mine in (org.endorsers or []):
        raise AlreadyExists("you have endorsed this organization already")
    payload = {"organizationId": org_id, "stakeholderId": mine}
    return await _queue(
        session,
        principal,
        CommandType.ENDORSE_MEMBERSHIP,
        _request(org_id, "endorse", mine),
        payload,
        org_id,
    )


async def activate(
    org_id: str, *, session: AsyncSession, principal: Principal
) -> OrgCommandAccepted:
    """ACTIVATE_ORGANIZATION; the ledger refuses it (ENDORSEMENTS_MISSING) until every
    stakeholder has endorsed. A refused activation can be asked again."""
    org, _ = await _stakeholder(session, org_id, principal)
    if org.status != "PROPOSED":
        raise OrganizationStateConflict(
            f"organization {org_id!r} is {org.status}", current=org.status
        )
    return await _queue(
        session,
        principal,
        CommandType.ACTIVATE_ORGANIZATION,
        _request(org_id, "activate", uuid.uuid4().hex),
        {"organizationId": org_id},
        org_id,
    )


async def define_rule(
    org_id: str, body: AuthRuleIn, *, session: AsyncSession, principal: Principal
) -> OrgCommandAccepted:
    org, _ = await _stakeholder(session, org_id, principal)
    await _not_business(session, org_id)
    approvers = [await _account_of(session, a) for a in dict.fromkeys(body.approvers)]
    outsiders = [a for a in approvers if a not in (org.stakeholders or [])]
    if outsiders:
        raise ValidationFailed("approvers must be stakeholders", field="approvers")
    if body.requiredApprovers > len(approvers):
        raise ValidationFailed(
            f"{body.requiredApprovers} approvals required of {len(approvers)} approvers",
            field="requiredApprovers",
        )
    payload = {
        "organizationId": org_id,
        "threshold": f"{body.threshold:f}",
        "requiredApprovers": body.requiredApprovers,
        "approvers": approvers,
    }
    return await _queue(
        session,
        principal,
        CommandType.DEFINE_AUTH_RULE,
        _request(org_id, "rule", uuid.uuid4().hex),
        payload,
        org_id,
    )


async def initiate(
    org_id: str, body: MultisigTransferIn, *, session: AsyncSession, principal: Principal
) -> OrgCommandAccepted:
    """INITIATE_MULTISIG_TX by a member (stakeholder); the initiator's approval counts."""
    _, mine = await _stakeholder(session, org_id, principal)
    await _not_business(session, org_id)
    receiver = await wallets.user_wallet(session, body.toUserId)
    if receiver is None:
        raise UserNotFound(f"no user {body.toUserId!r} with a wallet", field="toUserId")
    tx_id = f"MSIG-{uuid.uuid4().hex}"
    payload = {
        "multisigTxId": tx_id,
        "organizationId": org_id,
        "initiatorId": mine,
        "receiverId": receiver[0].primary_account_id,
        "amount": f"{body.amount:f}",
    }
    return await _queue(
        session,
        principal,
        CommandType.INITIATE_MULTISIG_TX,
        _request(org_id, "initiate", tx_id),
        payload,
        org_id,
        tx_id,
    )


async def pending(
    org_id: str, *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> MultisigPage:
    """Transactions waiting for approvals or execution, oldest first, in pages."""
    org, _ = await _visible(session, org_id, principal)
    query = select(MultiSigTransaction).where(
        MultiSigTransaction.org_id == org.org_id,
        MultiSigTransaction.status.in_([PENDING, APPROVED]),
    )
    order = pages.Order.oldest_first(MultiSigTransaction.created_at, MultiSigTransaction.tx_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return MultisigPage.of(found, [_multisig(tx) for tx in found.rows])


async def approve(tx_id: str, *, session: AsyncSession, principal: Principal) -> OrgCommandAccepted:
    """APPROVE_MULTISIG_TX by an eligible approver, once; at the required count the ledger
    executes the transfer. Asked of a transaction that has its approvals already but has not
    run (one approval sufficed: the initiator's), it queues EXECUTE_MULTISIG_TX instead."""
    tx = await session.get(MultiSigTransaction, (principal.tenant_id, tx_id))
    if tx is None:
        raise MultisigNotFound(f"no pending transaction {tx_id!r}", multisigTxId=tx_id)
    try:
        _, mine = await _stakeholder(session, tx.org_id, principal)
    except (OrganizationNotFound, NotPermitted) as e:
        raise MultisigNotFound(f"no pending transaction {tx_id!r}", multisigTxId=tx_id) from e
    if tx.status not in (PENDING, APPROVED):
        raise OrganizationStateConflict(f"transaction {tx_id!r} is {tx.status}", current=tx.status)
    eligible = list((tx.params or {}).get("eligibleApprovers", []))
    if mine not in eligible and mine != tx.proposer_id:
        raise NotPermitted("you are not an approver of this transaction")
    if tx.status == APPROVED and mine in (tx.approvers or []):
        # It has its approvals (the initiator's sufficed) but has not run: run it.
        return await _queue(
            session,
            principal,
            CommandType.EXECUTE_MULTISIG_TX,
            _request(tx.org_id, "execute", tx_id),
            {"multisigTxId": tx_id},
            tx.org_id,
            tx_id,
        )
    if mine in (tx.approvers or []):
        raise AlreadyExists("you have approved this transaction already")
    return await _queue(
        session,
        principal,
        CommandType.APPROVE_MULTISIG_TX,
        _request(tx.org_id, "approve", tx_id, mine),
        {"multisigTxId": tx_id, "approverId": mine},
        tx.org_id,
        tx_id,
    )


async def command_status(
    org_id: str, command_id: str, *, session: AsyncSession, principal: Principal
) -> OrgCommandStatus:
    """A command queued for this organization: its status and, when the ledger refused it,
    the ledger's code."""
    await _visible(session, org_id, principal)
    command = await session.get(OutboxCommand, command_id)
    if command is None or not command.request_id.startswith(_request(org_id, "")):
        raise CommandNotFound(f"no command {command_id!r} of {org_id!r}", commandId=command_id)
    return OrgCommandStatus(
        commandId=command.id,
        type=command.command_type.value,
        status=command.status.value,
        errorCode=command.error_code,
        error=command.error,
    )
