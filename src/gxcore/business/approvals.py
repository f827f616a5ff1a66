"""Business transfers: off-ledger approval in front of the outbox.

A permitted signatory's transfer writes, in one transaction, two ledger commands, both HELD
(invisible to the relay): INITIATE_MULTISIG_TX (its multisig id = the approval's id) and
EXECUTE_MULTISIG_TX, which moves the money; a hold on the business wallet for amount + fee,
tied to EXECUTE's ledger tx; and the `TransactionApproval`. Votes are taken under a lock on the
approval row, so however many arrive together, the count crosses the threshold once:

- at the required count the approval is APPROVED and INITIATE is released (HELD -> PENDING);
  when the projector applies its MultiSigTxInitiated it releases EXECUTE (`release_execution`),
  so EXECUTE never reaches the ledger before the transaction it executes;
- a rejection, or expiry (`gx jobs cleanup`), ends both commands FAILED (APPROVAL_REJECTED,
  APPROVAL_EXPIRED): a FAILED command's hold no longer counts (`gxcore.wallet.holds`).

The ledger organization must have no auth rule stricter than one approval for the amount
(its rules would want ledger approvals too; EXECUTE then fails NOT_APPROVED, releasing the hold):
a business account's rules live here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.audit import service as audit
from gxcore.business import accounts
from gxcore.business.models import (
    ApprovalVote,
    BusinessSignatory,
    Organization,
    OrganizationProfile,
    TransactionApproval,
)
from gxcore.business.schemas import ApprovalPage, ApprovalRead, BusinessTransferIn, VoteRead
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue, wake_relay
from gxcore.db import pages
from gxcore.db.base import new_uuid
from gxcore.db.lifecycle import transition
from gxcore.db.scope import tenant_of
from gxcore.db.tenancy import Database
from gxcore.db.types import to_money
from gxcore.enums import (
    ApprovalStatus,
    AuditEventType,
    CommandType,
    NotificationType,
    OffChainTxType,
    OrgProfileStatus,
    OutboxStatus,
)
from gxcore.errors import (
    AlreadyVoted,
    ApprovalClosed,
    ApprovalNotFound,
    BusinessAccountNotFound,
    InsufficientFunds,
    LimitExceeded,
    NotPermitted,
    OrganizationNotVerified,
    UserNotFound,
    WalletFrozen,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.ledger.contract import transfer_fee
from gxcore.ledger.state import tx_id_of
from gxcore.notifications.inbox import notify
from gxcore.wallet import holds
from gxcore.wallet import service as wallets

SERVICE = "svc-organization"
REJECTED, EXPIRED = "APPROVAL_REJECTED", "APPROVAL_EXPIRED"
DAY_SECONDS = 86_400
FROZEN = "FROZEN"


def _request(approval_id: str, step: str) -> str:
    return f"business:{approval_id}:{step}"


async def _commands(session: AsyncSession, approval_id: str) -> tuple[OutboxCommand, OutboxCommand]:
    """The approval's INITIATE and EXECUTE commands, locked (in id order, as the relay's)."""
    rows = await session.scalars(
        select(OutboxCommand)
        .where(
            OutboxCommand.request_id.in_(
                [_request(approval_id, "initiate"), _request(approval_id, "execute")]
            )
        )
        .order_by(OutboxCommand.id)
        .with_for_update()
    )
    by_type = {c.command_type: c for c in rows.all()}
    return by_type[CommandType.INITIATE_MULTISIG_TX], by_type[CommandType.EXECUTE_MULTISIG_TX]


async def _read(session: AsyncSession, approval: TransactionApproval) -> ApprovalRead:
    execute = await session.get(OutboxCommand, approval.outbox_command_id)
    initiate = await session.scalar(
        select(OutboxCommand).where(
            OutboxCommand.request_id == _request(approval.approval_id, "initiate")
        )
    )
    votes = await session.execute(
        select(ApprovalVote, BusinessSignatory.profile_id)
        .join(BusinessSignatory, BusinessSignatory.signatory_id == ApprovalVote.signatory_id)
        .where(ApprovalVote.approval_id == approval.approval_id)
        .order_by(ApprovalVote.voted_at, ApprovalVote.vote_id)
    )
    assert execute is not None and initiate is not None
    return ApprovalRead(
        approvalId=approval.approval_id,
        businessAccountId=approval.business_account_id,
        commandId=execute.id,
        commandStatus=execute.status.value,
        errorCode=execute.error_code,
        initiatorId=str(initiate.payload.get("initiatorProfileId", "")),
        receiverAccountId=str(initiate.payload["receiverId"]),
        # The hold row goes once the transfer is projected; the command keeps what it was.
        amount=to_money(initiate.payload["amount"]),
        fee=to_money(initiate.payload["fee"]),
        requiredApprovals=approval.required_approvals,
        receivedApprovals=approval.received_approvals,
        status=approval.status,
        expiresAt=approval.expires_at,
        createdAt=approval.created_at,
        votes=[
            VoteRead(
                signatoryId=v.signatory_id,
                profileId=pid,
                approved=v.approved,
                remarks=v.remarks,
                votedAt=v.voted_at,
            )
            for v, pid in votes.all()
        ],
    )


async def _tell(
    session: AsyncSession,
    business_account_id: str,
    *,
    type: NotificationType,
    title: str,
    message: str,
    approval_id: str,
    skip: str | None = None,
) -> None:
    for signatory in await accounts.active_signatories(session, business_account_id):
        if signatory.profile_id != skip:
            await notify(
                session,
                profile_id=signatory.profile_id,
                type=type,
                title=title,
                message=message,
                resource_type="TransactionApproval",
                resource_id=approval_id,
            )


# --------------------------------------------------------------------------------------------
# Initiation
# --------------------------------------------------------------------------------------------


async def initiate(
    business_account_id: str,
    body: BusinessTransferIn,
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
) -> ApprovalRead:
    """A transfer from the business wallet, held until its approvals are in."""
    tenant = tenant_of(session, "money moves in a tenant scope")
    account, wallet, _ = await accounts.get_visible(session, business_account_id, principal)
    signatory = await accounts.signatory_of(session, business_account_id, principal.profile_id)
    if signatory is None or not accounts.is_active(signatory):
        raise NotPermitted("only a confirmed signatory may initiate a business transfer")
    if not signatory.can_initiate_transactions:
        raise NotPermitted("this signatory may not initiate transactions")
    profile = await session.get(OrganizationProfile, account.org_profile_id)
    if profile is None or profile.status is not OrgProfileStatus.VERIFIED:
        status = profile.status.value if profile else "gone"
        raise OrganizationNotVerified(f"the organization is {status}", current=status)
    limit = signatory.max_transaction_limit
    if limit is not None and body.amount > limit:
        raise LimitExceeded(
            f"{body.amount:f} is above this signatory's limit of {limit:f}",
            field="amount",
            limit=f"{limit:f}",
        )
    me = await session.get(UserProfile, principal.profile_id)
    org = await session.get(Organization, (tenant, wallet.primary_account_id))
    if me is None or org is None or me.fabric_user_id not in (org.stakeholders or []):
        # The ledger lets only the organization's members initiate (NOT_A_MEMBER): said now.
        raise NotPermitted("only a stakeholder of the ledger organization may initiate")
    if org.status == FROZEN:
        raise WalletFrozen("the business wallet is frozen", side="sender")
    receiver = await wallets.user_wallet(session, body.toUserId)
    if receiver is None:
        raise UserNotFound(f"no user {body.toUserId!r} with a wallet", field="toUserId")
    receiver_wallet, _ = receiver

    await holds.lock(session, tenant, wallet.wallet_id)
    params = await admin.ledger_params(session)
    fee = transfer_fee(body.amount, params)
    funds = await holds.funds(session, wallet.wallet_id)
    if body.amount + fee > funds.available:
        raise InsufficientFunds(
            f"available {funds.available:f} does not cover {body.amount:f} plus fee {fee:f}",
            available=f"{funds.available:f}",
            required=f"{body.amount + fee:f}",
        )
    rule = await accounts.matching_rule(
        session, business_account_id, body.amount, OffChainTxType.SENT
    )
    if rule is not None and rule.daily_limit is not None:
        used = await holds.usage(session, wallet.wallet_id, side="send", seconds=DAY_SECONDS)
        if used.amount + body.amount > rule.daily_limit:
            raise LimitExceeded(
                f"the rule's daily limit of {rule.daily_limit:f} would be passed "
                f"({used.amount:f} used)",
                field="amount",
                limit=f"{rule.daily_limit:f}",
                used=f"{used.amount:f}",
            )
    required = rule.required_approvals if rule is not None else account.default_required_approvals

    approval_id = new_uuid()
    initiate_cmd = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.INITIATE_MULTISIG_TX,
        request_id=_request(approval_id, "initiate"),
        payload={
            "multisigTxId": approval_id,
            "organizationId": wallet.primary_account_id,
            "initiatorId": me.fabric_user_id,
            "receiverId": receiver_wallet.primary_account_id,
            "amount": f"{body.amount:f}",
            # gxcore's own notes (the ledger ignores keys it does not know): who asked, and the
            # fee held with the amount.
            "initiatorProfileId": principal.profile_id,
            "fee": f"{fee:f}",
        },
    )
    execute_request = _request(approval_id, "execute")
    execute_cmd = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.EXECUTE_MULTISIG_TX,
        request_id=execute_request,
        payload={"multisigTxId": approval_id},
    )
    transition(initiate_cmd, OutboxStatus.HELD)
    transition(execute_cmd, OutboxStatus.HELD)
    await holds.reserve(
        session,
        command_id=execute_cmd.id,
        wallet_id=wallet.wallet_id,
        receiver_wallet_id=receiver_wallet.wallet_id,
        tx_id=tx_id_of(tenant, execute_request),
        amount=body.amount,
        fee=fee,
    )
    approval = TransactionApproval(
        approval_id=approval_id,
        business_account_id=account.business_account_id,
        outbox_command_id=execute_cmd.id,
        required_approvals=required,
        received_approvals=0,
        status=ApprovalStatus.PENDING,
        expires_at=now + timedelta(hours=params.multisig_approval_ttl_hours),
    )
    session.add(approval)
    await session.flush()
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_INITIATED,
        resource_type="TransactionApproval",
        resource_id=approval_id,
        target_profile_id=principal.profile_id,
        new={
            "businessAccountId": account.business_account_id,
            "to": body.toUserId,
            "amount": f"{body.amount:f}",
            "fee": f"{fee:f}",
            "requiredApprovals": required,
            "ruleId": rule.rule_id if rule is not None else None,
        },
    )
    await _tell(
        session,
        account.business_account_id,
        type=NotificationType.TRANSACTION_APPROVAL_REQUEST,
        title="Approval requested",
        message=f"A business transfer of {body.amount:f} needs {required} approval(s).",
        approval_id=approval_id,
        skip=principal.profile_id,
    )
    if signatory.can_approve_transactions:
        await _cast(session, approval, signatory, approved=True, remarks=None, now=now)
    await session.flush()
    await session.refresh(approval)
    return await _read(session, approval)


# --------------------------------------------------------------------------------------------
# Votes
# --------------------------------------------------------------------------------------------


async def vote(
    approval_id: str,
    *,
    approved: bool,
    remarks: str | None,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
) -> ApprovalRead:
    """One vote per approving signatory; the row lock orders concurrent votes."""
    approval = await session.scalar(
        select(TransactionApproval)
        .where(TransactionApproval.approval_id == approval_id)
        .with_for_update()
    )
    if approval is None:
        raise ApprovalNotFound(f"no approval {approval_id!r}", approvalId=approval_id)
    try:
        await accounts.get_visible(session, approval.business_account_id, principal)
    except BusinessAccountNotFound as e:  # not the caller's business: unknown to them
        raise ApprovalNotFound(f"no approval {approval_id!r}", approvalId=approval_id) from e
    signatory = await accounts.signatory_of(
        session, approval.business_account_id, principal.profile_id
    )
    if signatory is None or not accounts.is_active(signatory):
        raise NotPermitted("only a confirmed signatory may vote")
    if not signatory.can_approve_transactions:
        raise NotPermitted("this signatory may not approve transactions")
    if approval.status is not ApprovalStatus.PENDING:
        raise ApprovalClosed(
            f"approval {approval_id} is {approval.status.value}", current=approval.status.value
        )
    if now >= approval.expires_at:
        raise ApprovalClosed(f"approval {approval_id} expired", current="EXPIRED")
    await _cast(session, approval, signatory, approved=approved, remarks=remarks, now=now)
    await session.flush()
    await session.refresh(approval)
    return await _read(session, approval)


async def _cast(
    session: AsyncSession,
    approval: TransactionApproval,
    signatory: BusinessSignatory,
    *,
    approved: bool,
    remarks: str | None,
    now: datetime,
) -> None:
    """Record the vote (the approval row is locked) and decide when it decides."""
    voted = await session.scalar(
        select(ApprovalVote.vote_id).where(
            ApprovalVote.approval_id == approval.approval_id,
            ApprovalVote.signatory_id == signatory.signatory_id,
        )
    )
    if voted is not None:
        raise AlreadyVoted("this signatory has voted on this transfer already")
    session.add(
        ApprovalVote(
            approval_id=approval.approval_id,
            signatory_id=signatory.signatory_id,
            approved=approved,
            remarks=remarks,
            voted_at=now,
        )
    )
    await session.flush()
    await audit.record(
        session,
        event_type=(
            AuditEventType.TRANSACTION_APPROVED if approved else AuditEventType.TRANSACTION_REJECTED
        ),
        resource_type="TransactionApproval",
        resource_id=approval.approval_id,
        target_profile_id=signatory.profile_id,
        metadata={"vote": "approve" if approved else "reject", "remarks": remarks},
    )
    account_id = approval.business_account_id
    if not approved:
        await _close(session, approval, ApprovalStatus.REJECTED, REJECTED, remarks or "rejected")
        await _tell(
            session,
            account_id,
            type=NotificationType.TRANSACTION_REJECTED,
            title="Business transfer rejected",
            message="A signatory rejected the transfer; the held amount is available again.",
            approval_id=approval.approval_id,
        )
        return
    approval.received_approvals += 1
    if approval.received_approvals < approval.required_approvals:
        await _tell(
            session,
            account_id,
            type=NotificationType.TRANSACTION_APPROVAL_REQUEST,
            title="Approval recorded",
            message=(
                f"{approval.received_approvals} of {approval.required_approvals} approvals so far."
            ),
            approval_id=approval.approval_id,
        )
        return
    transition(approval, ApprovalStatus.APPROVED)
    initiate_cmd, _ = await _commands(session, approval.approval_id)
    transition(initiate_cmd, OutboxStatus.PENDING)
    await wake_relay(session, approval.tenant_id)
    await _tell(
        session,
        account_id,
        type=NotificationType.TRANSACTION_APPROVED,
        title="Business transfer approved",
        message="The transfer has its approvals and is on its way to the ledger.",
        approval_id=approval.approval_id,
    )


async def _close(
    session: AsyncSession,
    approval: TransactionApproval,
    status: ApprovalStatus,
    code: str,
    why: str,
) -> None:
    """REJECTED or EXPIRED: both commands end FAILED, so the hold no longer counts."""
    transition(approval, status)
    for command in await _commands(session, approval.approval_id):
        if command.status is OutboxStatus.HELD:
            transition(command, OutboxStatus.FAILED)
            command.error_code = code
            command.error = why


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


async def get(approval_id: str, *, session: AsyncSession, principal: Principal) -> ApprovalRead:
    approval = await session.get(TransactionApproval, approval_id)
    if approval is not None:
        try:
            await accounts.get_visible(session, approval.business_account_id, principal)
        except BusinessAccountNotFound:
            approval = None
    if approval is None:
        raise ApprovalNotFound(f"no approval {approval_id!r}", approvalId=approval_id)
    return await _read(session, approval)


async def page(
    business_account_id: str,
    *,
    status: ApprovalStatus | None,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
) -> ApprovalPage:
    """The account's approvals, newest first (PENDING ones with `status=PENDING`)."""
    account, _, _ = await accounts.get_visible(session, business_account_id, principal)
    query = select(TransactionApproval).where(
        TransactionApproval.business_account_id == account.business_account_id
    )
    if status is not None:
        query = query.where(TransactionApproval.status == status)
    order = pages.Order.newest_first(
        TransactionApproval.created_at, TransactionApproval.approval_id
    )
    found = await pages.fetch_scalars(session, query, order, paging)
    return ApprovalPage.of(found, [await _read(session, a) for a in found.rows])


# --------------------------------------------------------------------------------------------
# The projector's part and the cleanup job's
# --------------------------------------------------------------------------------------------

# EXECUTE of an APPROVED approval whose multisig transaction the ledger has just opened. The
# approval row is locked: a vote deciding it right now finishes first and is then seen.
_RELEASE = text(
    'UPDATE "OutboxCommand" SET "status" = \'PENDING\', "nextAttemptAt" = CURRENT_TIMESTAMP, '
    '"updatedAt" = CURRENT_TIMESTAMP, "version" = "version" + 1 '
    'WHERE "tenantId" = :tenant AND "status" = \'HELD\' AND "id" = ('
    'SELECT a."outboxCommandId" FROM "TransactionApproval" a WHERE a."tenantId" = :tenant '
    'AND a."approvalId" = :approval AND a."status" = \'APPROVED\' FOR UPDATE) '
    'RETURNING "id"'
)


async def release_execution(session: AsyncSession, tenant_id: str, multisig_tx_id: str) -> bool:
    """Called by the projector on MultiSigTxInitiated: True when it released a business
    transfer's EXECUTE (at most once: only a HELD command is released)."""
    released = await session.scalar(_RELEASE, {"tenant": tenant_id, "approval": multisig_tx_id})
    if released is not None:
        await wake_relay(session, tenant_id)
    return released is not None


async def expire_due(database: Database, *, now: datetime, limit: int = 1000) -> int:
    """Expire PENDING approvals past `expiresAt`, in every tenant: EXPIRED, commands FAILED
    (APPROVAL_EXPIRED), holds released, signatories told. Also ends the EXECUTE of an approved
    transfer whose INITIATE the ledger refused (its error code), so its hold is released.
    Each approval in its own tenant transaction (audit and notices are per tenant)."""
    async with database.system(reason="job: expire business approvals") as session:
        due = (
            await session.execute(
                select(TransactionApproval.tenant_id, TransactionApproval.approval_id)
                .where(
                    TransactionApproval.status == ApprovalStatus.PENDING,
                    TransactionApproval.expires_at <= now,
                )
                .order_by(TransactionApproval.expires_at)
                .limit(limit)
            )
        ).all()
        stuck = (
            await session.execute(
                select(TransactionApproval.tenant_id, TransactionApproval.approval_id)
                .join(OutboxCommand, OutboxCommand.id == TransactionApproval.outbox_command_id)
                .where(
                    TransactionApproval.status == ApprovalStatus.APPROVED,
                    OutboxCommand.status == OutboxStatus.HELD,
                )
                .limit(limit)
            )
        ).all()
    done = 0
    for tenant, approval_id in due:
        async with database.tenant(tenant) as session:
            done += await _expire(session, approval_id, now)
    for tenant, approval_id in stuck:
        async with database.tenant(tenant) as session:
            done += await _fail_stuck(session, approval_id)
    return done


async def _expire(session: AsyncSession, approval_id: str, now: datetime) -> int:
    approval = await session.scalar(
        select(TransactionApproval)
        .where(TransactionApproval.approval_id == approval_id)
        .with_for_update()
    )
    if approval is None or approval.status is not ApprovalStatus.PENDING:
        return 0  # decided meanwhile
    if approval.expires_at > now:
        return 0
    await _close(session, approval, ApprovalStatus.EXPIRED, EXPIRED, "approvals not in time")
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_FAILED,
        resource_type="TransactionApproval",
        resource_id=approval_id,
        metadata={"reason": EXPIRED},
    )
    await _tell(
        session,
        approval.business_account_id,
        type=NotificationType.TRANSACTION_REJECTED,
        title="Business transfer expired",
        message="The transfer did not get its approvals in time; the held amount is available.",
        approval_id=approval_id,
    )
    return 1


async def _fail_stuck(session: AsyncSession, approval_id: str) -> int:
    approval = await session.scalar(
        select(TransactionApproval)
        .where(TransactionApproval.approval_id == approval_id)
        .with_for_update()
    )
    if approval is None:
        return 0
    initiate_cmd, execute_cmd = await _commands(session, approval_id)
    if (
        initiate_cmd.status is not OutboxStatus.FAILED
        or execute_cmd.status is not OutboxStatus.HELD
    ):
        return 0
    transition(execute_cmd, OutboxStatus.FAILED)
    execute_cmd.error_code = initiate_cmd.error_code
    execute_cmd.error = f"the ledger refused the initiation: {initiate_cmd.error}"
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_FAILED,
        resource_type="TransactionApproval",
        resource_id=approval_id,
        metadata={"reason": initiate_cmd.error_code},
    )
    await _tell(
        session,
        approval.business_account_id,
        type=NotificationType.TRANSACTION_REJECTED,
        title="Business transfer failed",
        message=f"The ledger refused the transfer ({initiate_cmd.error_code}).",
        approval_id=approval_id,
    )
    return 1
