"""Business accounts, their signatories and their signatory rules.

A business account's wallet is its ledger organization's account: on the ledger only an
organization's account is held in common, and only multi-signature transactions spend from it
(TRANSFER_TOKENS sends from user accounts only). So a business account is opened over an ACTIVE
ledger organization (`/organizations`), whose `Wallet` the projector opened when it was
activated; its rules and approvals are kept here, in front of the outbox (`approvals`).

Everything about one account is decided under a lock on its row, so two rule changes (or two
signatory changes) never both pass a check that only one of them would.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.business import profiles
from gxcore.business.models import (
    BusinessAccount,
    BusinessSignatory,
    Organization,
    OrganizationProfile,
    SignatoryRule,
)
from gxcore.business.schemas import (
    BusinessAccountIn,
    BusinessAccountRead,
    BusinessAccountUpdate,
    RuleIn,
    RulePage,
    RuleRead,
    SignatoryIn,
    SignatoryPage,
    SignatoryRead,
)
from gxcore.db import pages, versions
from gxcore.enums import (
    AuditEventType,
    NotificationType,
    OffChainTxType,
    OrgProfileStatus,
    SignatoryRole,
    UserProfileStatus,
)
from gxcore.errors import (
    AlreadyExists,
    BusinessAccountNotFound,
    LedgerOrganizationNotReady,
    NotPermitted,
    OrganizationNotFound,
    OrganizationNotVerified,
    RuleOverlap,
    SignatoryNotFound,
    SignatoryRuleNotFound,
    UserNotFound,
    WalletFrozen,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.notifications.inbox import notify
from gxcore.wallet.models import Wallet

ACTIVE = "ACTIVE"  # the ledger organization's status (business.handlers)


def read(account: BusinessAccount, wallet: Wallet) -> BusinessAccountRead:
    return BusinessAccountRead(
        businessAccountId=account.business_account_id,
        orgProfileId=account.org_profile_id,
        walletId=account.wallet_id,
        accountId=wallet.primary_account_id,
        defaultRequiredApprovals=account.default_required_approvals,
        createdAt=account.created_at,
        version=account.version,
    )


def signatory_read(s: BusinessSignatory) -> SignatoryRead:
    return SignatoryRead(
        signatoryId=s.signatory_id,
        businessAccountId=s.business_account_id,
        profileId=s.profile_id,
        role=s.role,
        canInitiateTransactions=s.can_initiate_transactions,
        canApproveTransactions=s.can_approve_transactions,
        maxTransactionLimit=s.max_transaction_limit,
        invitedAt=s.invited_at,
        confirmedAt=s.confirmed_at,
        revokedAt=s.revoked_at,
    )


def rule_read(r: SignatoryRule) -> RuleRead:
    return RuleRead(
        ruleId=r.rule_id,
        businessAccountId=r.business_account_id,
        minAmount=r.min_amount,
        maxAmount=r.max_amount,
        requiredApprovals=r.required_approvals,
        transactionType=r.transaction_type,
        dailyLimit=r.daily_limit,
        isActive=r.is_active,
        createdAt=r.created_at,
        version=r.version,
    )


def is_active(s: BusinessSignatory) -> bool:
    """Confirmed by the invitee and not revoked."""
    return s.confirmed_at is not None and s.revoked_at is None


async def signatory_of(
    session: AsyncSession, business_account_id: str, profile_id: str
) -> BusinessSignatory | None:
    return await session.scalar(
        select(BusinessSignatory).where(
            BusinessSignatory.business_account_id == business_account_id,
            BusinessSignatory.profile_id == profile_id,
        )
    )


async def active_signatories(
    session: AsyncSession, business_account_id: str
) -> list[BusinessSignatory]:
    rows = await session.scalars(
        select(BusinessSignatory)
        .where(
            BusinessSignatory.business_account_id == business_account_id,
            BusinessSignatory.confirmed_at.is_not(None),
            BusinessSignatory.revoked_at.is_(None),
        )
        .order_by(BusinessSignatory.profile_id)
    )
    return list(rows.all())


async def get_visible(
    session: AsyncSession, business_account_id: str, principal: Principal, *, lock: bool = False
) -> tuple[BusinessAccount, Wallet, bool]:
    """The account, its wallet and whether the caller manages it (the organization's owner or
    admins); BusinessAccountNotFound unless the caller is a member of the organization, one of
    its signatories (even invited only) or an administrator."""
    query = (
        select(BusinessAccount, Wallet)
        .join(Wallet, Wallet.wallet_id == BusinessAccount.wallet_id)
        .where(BusinessAccount.business_account_id == business_account_id)
    )
    found = (
        await session.execute(query.with_for_update(of=BusinessAccount) if lock else query)
    ).first()
    if found is not None:
        account, wallet = found
        role = await profiles.role_of(session, account.org_profile_id, principal.profile_id)
        signatory = await signatory_of(session, business_account_id, principal.profile_id)
        if role is not None or signatory is not None or principal.is_admin:
            return account, wallet, role in profiles.MANAGERS
    raise BusinessAccountNotFound(
        f"no business account {business_account_id!r}", businessAccountId=business_account_id
    )


async def get_managed(
    session: AsyncSession, business_account_id: str, principal: Principal, *, lock: bool = False
) -> tuple[BusinessAccount, Wallet]:
    account, wallet, manages = await get_visible(session, business_account_id, principal, lock=lock)
    if not manages:
        raise NotPermitted("only the organization's owner or admins may do this")
    return account, wallet


@dataclass(frozen=True)
class Payee:
    """A business account as the receiver of a payment (`POST /transfers` with
    `toBusinessAccountId`): its wallet, and what decides whether it takes payments now."""

    business_account_id: str
    wallet: Wallet
    profile_status: OrgProfileStatus
    ledger_status: str | None

    def check_open(self) -> None:
        """ORGANIZATION_NOT_VERIFIED while its organization is not VERIFIED (pending, rejected
        or suspended); WALLET_FROZEN (side receiver) while its ledger organization is not
        ACTIVE (frozen by an administrator): the ledger would refuse the transfer."""
        if self.profile_status is not OrgProfileStatus.VERIFIED:
            raise OrganizationNotVerified(
                f"the business account's organization is {self.profile_status.value}; it "
                "takes no payments until it is VERIFIED",
                current=self.profile_status.value,
            )
        if self.ledger_status != ACTIVE:
            raise WalletFrozen(
                f"the business account's wallet is {self.ledger_status or 'gone'}",
                side="receiver",
            )


async def payee(session: AsyncSession, business_account_id: str) -> Payee:
    """Any user of the tenant may pay a business account, so it is found by id alone;
    BusinessAccountNotFound for an unknown id (another tenant's is unknown here) and for one
    whose organization profile or wallet is deleted (closed)."""
    found = (
        await session.execute(
            select(BusinessAccount, Wallet, OrganizationProfile.status, Organization.status)
            .join(Wallet, Wallet.wallet_id == BusinessAccount.wallet_id)
            .join(
                OrganizationProfile,
                OrganizationProfile.org_profile_id == BusinessAccount.org_profile_id,
            )
            .outerjoin(
                Organization,
                (Organization.tenant_id == Wallet.tenant_id)
                & (Organization.org_id == Wallet.primary_account_id),
            )
            .where(BusinessAccount.business_account_id == business_account_id)
        )
    ).first()
    if found is None:
        raise BusinessAccountNotFound(
            f"no business account {business_account_id!r}", field="toBusinessAccountId"
        )
    account, wallet, profile_status, ledger_status = found
    return Payee(account.business_account_id, wallet, profile_status, ledger_status)


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


async def open_account(
    body: BusinessAccountIn, *, session: AsyncSession, principal: Principal
) -> BusinessAccountRead:
    """Open the business account of a VERIFIED organization over its ACTIVE ledger organization,
    with the caller as its first signatory (OWNER, confirmed, may initiate and approve). The
    caller must be a stakeholder of the ledger organization (its members initiate)."""
    org = await profiles.get_managed(session, body.orgProfileId, principal, lock=True)
    if org.status is not OrgProfileStatus.VERIFIED:
        raise OrganizationNotVerified(
            f"organization {org.org_profile_id} is {org.status.value}, not VERIFIED",
            current=org.status.value,
        )
    if await session.scalar(
        select(BusinessAccount.business_account_id).where(
            BusinessAccount.org_profile_id == org.org_profile_id
        )
    ):
        raise AlreadyExists("this organization has a business account already")
    ledger_org = await session.get(Organization, (org.tenant_id, body.organizationId))
    me = await session.get(UserProfile, principal.profile_id)
    account_id = body.organizationId
    if ledger_org is None or me is None or me.fabric_user_id not in (ledger_org.stakeholders or []):
        # Not one of the caller's ledger organizations: as good as unknown.
        raise OrganizationNotFound(
            f"no ledger organization {account_id!r} of which you are a stakeholder",
            field="organizationId",
        )
    wallet = await session.scalar(select(Wallet).where(Wallet.primary_account_id == account_id))
    if ledger_org.status != ACTIVE or wallet is None:
        raise LedgerOrganizationNotReady(
            f"ledger organization {account_id!r} is {ledger_org.status}; its account opens "
            "when every stakeholder has endorsed it and it is activated",
            field="organizationId",
        )
    if await session.scalar(
        select(BusinessAccount.business_account_id).where(
            BusinessAccount.wallet_id == wallet.wallet_id
        )
    ):
        raise AlreadyExists("this ledger organization backs another business account already")
    account = BusinessAccount(
        org_profile_id=org.org_profile_id,
        wallet_id=wallet.wallet_id,
        default_required_approvals=body.defaultRequiredApprovals,
    )
    session.add(account)
    await session.flush()
    session.add(
        BusinessSignatory(
            business_account_id=account.business_account_id,
            profile_id=principal.profile_id,
            role=SignatoryRole.OWNER,
            can_initiate_transactions=True,
            can_approve_transactions=True,
            confirmed_at=datetime.now(UTC),
        )
    )
    await audit.record(
        session,
        event_type=AuditEventType.WALLET_CREATED,
        resource_type="BusinessAccount",
        resource_id=account.business_account_id,
        target_profile_id=principal.profile_id,
        new={"orgProfileId": org.org_profile_id, "accountId": account_id},
    )
    await session.refresh(account)
    return read(account, wallet)


async def get(
    business_account_id: str, *, session: AsyncSession, principal: Principal
) -> BusinessAccountRead:
    account, wallet, _ = await get_visible(session, business_account_id, principal)
    return read(account, wallet)


async def update_account(
    business_account_id: str,
    body: BusinessAccountUpdate,
    *,
    session: AsyncSession,
    principal: Principal,
    expected: Collection[int] | None = None,
) -> BusinessAccountRead:
    """Change the account's settings (owner and admins), if it is at a version `expected` (any
    when None); audited by the flush, per column."""
    account, wallet = await get_managed(session, business_account_id, principal, lock=True)
    versions.require(account, expected, what=f"business account {business_account_id}")
    account.default_required_approvals = body.defaultRequiredApprovals
    await session.flush()  # the version moves on here, or CONCURRENT_MODIFICATION
    return read(account, wallet)


# --------------------------------------------------------------------------------------------
# Signatories
# --------------------------------------------------------------------------------------------


async def invite(
    business_account_id: str, body: SignatoryIn, *, session: AsyncSession, principal: Principal
) -> SignatoryRead:
    """Invite a user as a signatory (owner and admins); a revoked signatory may be invited
    again. The invitee confirms before the rights count."""
    account, _ = await get_managed(session, business_account_id, principal, lock=True)
    user = await session.get(UserProfile, body.profileId)
    if user is None or user.deleted_at is not None or user.status is not UserProfileStatus.ACTIVE:
        raise UserNotFound(f"no active user {body.profileId!r}", field="profileId")
    signatory = await signatory_of(session, business_account_id, body.profileId)
    if signatory is not None and signatory.revoked_at is None:
        raise AlreadyExists(f"{body.profileId!r} is a signatory already", field="profileId")
    if signatory is None:
        signatory = BusinessSignatory(
            business_account_id=account.business_account_id, profile_id=body.profileId
        )
        session.add(signatory)
    signatory.role = body.role
    signatory.can_initiate_transactions = body.canInitiateTransactions
    signatory.can_approve_transactions = body.canApproveTransactions
    signatory.max_transaction_limit = body.maxTransactionLimit
    signatory.invited_at = datetime.now(UTC)
    signatory.confirmed_at = signatory.revoked_at = None
    await session.flush()
    await audit.record(
        session,
        event_type=AuditEventType.BUSINESS_SIGNATORY_ADDED,
        resource_type="BusinessSignatory",
        resource_id=signatory.signatory_id,
        target_profile_id=body.profileId,
        new={"role": body.role.value, "invitedBy": principal.profile_id},
    )
    await notify(
        session,
        profile_id=body.profileId,
        type=NotificationType.BUSINESS_SIGNATORY_INVITATION,
        title="Signatory invitation",
        message=f"You are invited as {body.role.value} of a business account; confirm to accept.",
        resource_type="BusinessSignatory",
        resource_id=signatory.signatory_id,
    )
    await session.refresh(signatory)
    return signatory_read(signatory)


async def _signatory(
    session: AsyncSession, business_account_id: str, signatory_id: str
) -> BusinessSignatory:
    signatory = await session.scalar(
        select(BusinessSignatory)
        .where(
            BusinessSignatory.signatory_id == signatory_id,
            BusinessSignatory.business_account_id == business_account_id,
        )
        .with_for_update()
    )
    if signatory is None:
        raise SignatoryNotFound(f"no signatory {signatory_id!r}", signatoryId=signatory_id)
    return signatory


async def confirm(
    business_account_id: str, signatory_id: str, *, session: AsyncSession, principal: Principal
) -> SignatoryRead:
    """The invitee accepts; only the invitee may, once."""
    await get_visible(session, business_account_id, principal, lock=True)
    signatory = await _signatory(session, business_account_id, signatory_id)
    if signatory.profile_id != principal.profile_id:
        raise SignatoryNotFound(f"no invitation {signatory_id!r} for you", signatoryId=signatory_id)
    if signatory.revoked_at is not None or signatory.confirmed_at is not None:
        raise AlreadyExists("this invitation is confirmed or revoked already")
    signatory.confirmed_at = datetime.now(UTC)
    await audit.record(
        session,
        event_type=AuditEventType.BUSINESS_SIGNATORY_ADDED,
        resource_type="BusinessSignatory",
        resource_id=signatory.signatory_id,
        target_profile_id=signatory.profile_id,
        new={"confirmed": True},
    )
    await session.refresh(signatory)
    return signatory_read(signatory)


async def revoke(
    business_account_id: str, signatory_id: str, *, session: AsyncSession, principal: Principal
) -> SignatoryRead:
    """Owner and admins revoke a signatory; the owner's own signature cannot be revoked."""
    await get_managed(session, business_account_id, principal, lock=True)
    signatory = await _signatory(session, business_account_id, signatory_id)
    if signatory.role is SignatoryRole.OWNER:
        raise NotPermitted("the owner's signature cannot be revoked")
    if signatory.revoked_at is not None:
        raise AlreadyExists("this signatory is revoked already")
    signatory.revoked_at = datetime.now(UTC)
    await audit.record(
        session,
        event_type=AuditEventType.BUSINESS_SIGNATORY_REVOKED,
        resource_type="BusinessSignatory",
        resource_id=signatory.signatory_id,
        target_profile_id=signatory.profile_id,
        metadata={"revokedBy": principal.profile_id},
    )
    await notify(
        session,
        profile_id=signatory.profile_id,
        type=NotificationType.SYSTEM_ANNOUNCEMENT,
        title="Signatory rights revoked",
        message="Your signatory rights on a business account were revoked.",
        resource_type="BusinessSignatory",
        resource_id=signatory.signatory_id,
    )
    await session.refresh(signatory)
    return signatory_read(signatory)


async def signatories(
    business_account_id: str,
    *,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
) -> SignatoryPage:
    """In the order they were invited, in pages."""
    account, _, _ = await get_visible(session, business_account_id, principal)
    query = select(BusinessSignatory).where(
        BusinessSignatory.business_account_id == account.business_account_id
    )
    order = pages.Order.oldest_first(BusinessSignatory.invited_at, BusinessSignatory.signatory_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return SignatoryPage.of(found, [signatory_read(s) for s in found.rows])


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def _overlaps(a: SignatoryRule, body: RuleIn) -> bool:
    """Both ends included; null is open. Rules for different transaction types never meet;
    a rule without a type meets every type."""
    if a.transaction_type and body.transactionType and a.transaction_type != body.transactionType:
        return False
    low_a, high_a = a.min_amount, a.max_amount
    low_b, high_b = body.minAmount, body.maxAmount
    return (high_b is None or low_a is None or low_a <= high_b) and (
        high_a is None or low_b is None or low_b <= high_a
    )


async def add_rule(
    business_account_id: str, body: RuleIn, *, session: AsyncSession, principal: Principal
) -> RuleRead:
    """A rule whose range meets an active rule's (for the same type) is refused: one amount, one
    rule. The account row is locked first, so concurrent additions are checked one by one."""
    account, _ = await get_managed(session, business_account_id, principal, lock=True)
    active = await session.scalars(
        select(SignatoryRule).where(
            SignatoryRule.business_account_id == account.business_account_id,
            SignatoryRule.is_active.is_(True),
        )
    )
    clash = next((r for r in active.all() if _overlaps(r, body)), None)
    if clash is not None:
        raise RuleOverlap(f"the range overlaps active rule {clash.rule_id}", ruleId=clash.rule_id)
    rule = SignatoryRule(
        business_account_id=account.business_account_id,
        min_amount=body.minAmount,
        max_amount=body.maxAmount,
        required_approvals=body.requiredApprovals,
        transaction_type=body.transactionType,
        daily_limit=body.dailyLimit,
        is_active=True,
    )
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return rule_read(rule)


async def deactivate_rule(
    business_account_id: str,
    rule_id: str,
    *,
    session: AsyncSession,
    principal: Principal,
    expected: Collection[int] | None = None,
) -> RuleRead:
    """Retire a rule, if it is at a version `expected` (any when None)."""
    account, _ = await get_managed(session, business_account_id, principal, lock=True)
    rule = await session.scalar(
        select(SignatoryRule).where(
            SignatoryRule.rule_id == rule_id,
            SignatoryRule.business_account_id == account.business_account_id,
        )
    )
    if rule is None:
        raise SignatoryRuleNotFound(f"no rule {rule_id!r}", ruleId=rule_id)
    versions.require(rule, expected, what=f"rule {rule_id}")
    rule.is_active = False
    await session.flush()
    await session.refresh(rule)
    return rule_read(rule)


async def rules(
    business_account_id: str,
    *,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
) -> RulePage:
    """Oldest first, in pages."""
    account, _, _ = await get_visible(session, business_account_id, principal)
    query = select(SignatoryRule).where(
        SignatoryRule.business_account_id == account.business_account_id
    )
    order = pages.Order.oldest_first(SignatoryRule.created_at, SignatoryRule.rule_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return RulePage.of(found, [rule_read(r) for r in found.rows])


async def matching_rule(
    session: AsyncSession, business_account_id: str, amount: Decimal, tx_type: OffChainTxType
) -> SignatoryRule | None:
    """The active rule covering `amount` for `tx_type` (at most one: overlaps are refused)."""
    return await session.scalar(
        select(SignatoryRule)
        .where(
            SignatoryRule.business_account_id == business_account_id,
            SignatoryRule.is_active.is_(True),
            (SignatoryRule.min_amount.is_(None)) | (SignatoryRule.min_amount <= amount),
            (SignatoryRule.max_amount.is_(None)) | (SignatoryRule.max_amount >= amount),
            (SignatoryRule.transaction_type.is_(None))
            | (SignatoryRule.transaction_type == tx_type),
        )
        # A rule for this very type is more specific than one for every type.
        .order_by(SignatoryRule.transaction_type.is_(None), SignatoryRule.created_at)
        .limit(1)
    )
