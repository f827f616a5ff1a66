"""/api/v1: organization profiles, business accounts, signatories, rules and approvals."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gxcore.bodies import Ident
from gxcore.business import accounts, approvals, profiles
from gxcore.business.schemas import (
    ApprovalPage,
    ApprovalRead,
    BusinessAccountIn,
    BusinessAccountRead,
    BusinessAccountUpdate,
    BusinessTransferIn,
    MemberIn,
    MemberPage,
    MemberRead,
    OrganizationProfileIn,
    OrganizationProfileRead,
    RuleIn,
    RulePage,
    RuleRead,
    SignatoryIn,
    SignatoryPage,
    SignatoryRead,
    VoteIn,
)
from gxcore.enums import ApprovalStatus, OrgProfileStatus
from gxcore.http import (
    ACCEPTED,
    CONDITIONAL,
    CREATED,
    ETAG,
    VERSIONED,
    IfMatch,
    Now,
    Paging,
    Session,
    etag,
)
from gxcore.identity.principal import CurrentAdmin, CurrentUser
from gxcore.identity.schemas import OptionalReason, ReviewReason

router = APIRouter(tags=["business"])


# Organization profiles -----------------------------------------------------------------------


@router.post("/organization-profiles", status_code=CREATED)
async def create_profile(
    body: OrganizationProfileIn, user: CurrentUser, session: Session
) -> OrganizationProfileRead:
    """Register an organization (PENDING_VERIFICATION) with the caller as its owner."""
    return await profiles.create(body, session=session, principal=user)


@router.get("/organization-profiles/{org_profile_id}")
async def get_profile(
    org_profile_id: Ident, user: CurrentUser, session: Session
) -> OrganizationProfileRead:
    return await profiles.get(org_profile_id, session=session, principal=user)


@router.get("/organization-profiles/{org_profile_id}/members")
async def list_members(
    org_profile_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> MemberPage:
    """In the order they were added, in pages."""
    return await profiles.members(org_profile_id, session=session, principal=user, paging=paging)


@router.post("/organization-profiles/{org_profile_id}/members", status_code=CREATED)
async def add_member(
    org_profile_id: Ident, body: MemberIn, user: CurrentUser, session: Session
) -> MemberRead:
    """Owner and admins add a member or an admin."""
    return await profiles.add_member(org_profile_id, body, session=session, principal=user)


@router.post("/admin/organization-profiles/{org_profile_id}/verify")
async def verify_profile(
    org_profile_id: Ident, admin: CurrentAdmin, session: Session, body: OptionalReason | None = None
) -> OrganizationProfileRead:
    """PENDING_VERIFICATION (or SUSPENDED) -> VERIFIED (administrators)."""
    reason = body.reason if body else None
    return await profiles.set_status(
        org_profile_id, OrgProfileStatus.VERIFIED, reason, session=session, admin=admin
    )


@router.post("/admin/organization-profiles/{org_profile_id}/reject")
async def reject_profile(
    org_profile_id: Ident, body: ReviewReason, admin: CurrentAdmin, session: Session
) -> OrganizationProfileRead:
    """PENDING_VERIFICATION -> REJECTED (administrators), with a reason."""
    return await profiles.set_status(
        org_profile_id, OrgProfileStatus.REJECTED, body.reason, session=session, admin=admin
    )


@router.post("/admin/organization-profiles/{org_profile_id}/suspend")
async def suspend_profile(
    org_profile_id: Ident, body: ReviewReason, admin: CurrentAdmin, session: Session
) -> OrganizationProfileRead:
    """VERIFIED -> SUSPENDED (administrators), with a reason."""
    return await profiles.set_status(
        org_profile_id, OrgProfileStatus.SUSPENDED, body.reason, session=session, admin=admin
    )


# Business accounts ---------------------------------------------------------------------------


@router.post("/business-accounts", status_code=CREATED)
async def open_account(
    body: BusinessAccountIn, user: CurrentUser, session: Session
) -> BusinessAccountRead:
    """Open a verified organization's business account over its active ledger organization."""
    return await accounts.open_account(body, session=session, principal=user)


@router.get("/business-accounts/{business_account_id}", responses=VERSIONED)
async def get_account(
    business_account_id: Ident, user: CurrentUser, session: Session, response: Response
) -> BusinessAccountRead:
    found = await accounts.get(business_account_id, session=session, principal=user)
    response.headers[ETAG] = etag(found.version)
    return found


@router.patch("/business-accounts/{business_account_id}", responses=CONDITIONAL)
async def update_account(
    business_account_id: Ident,
    body: BusinessAccountUpdate,
    user: CurrentUser,
    session: Session,
    expected: IfMatch,
    response: Response,
) -> BusinessAccountRead:
    """Owner and admins change the account's settings; with `If-Match`, only if it is still at
    that version (else 412 PRECONDITION_FAILED)."""
    updated = await accounts.update_account(
        business_account_id, body, session=session, principal=user, expected=expected
    )
    response.headers[ETAG] = etag(updated.version)
    return updated


@router.get("/business-accounts/{business_account_id}/signatories")
async def list_signatories(
    business_account_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> SignatoryPage:
    """In the order they were invited, in pages."""
    return await accounts.signatories(
        business_account_id, session=session, principal=user, paging=paging
    )


@router.post("/business-accounts/{business_account_id}/signatories", status_code=CREATED)
async def invite_signatory(
    business_account_id: Ident, body: SignatoryIn, user: CurrentUser, session: Session
) -> SignatoryRead:
    """Invite a signatory (owner and admins); the invitee is told and confirms."""
    return await accounts.invite(business_account_id, body, session=session, principal=user)


@router.post("/business-accounts/{business_account_id}/signatories/{signatory_id}/confirm")
async def confirm_signatory(
    business_account_id: Ident, signatory_id: Ident, user: CurrentUser, session: Session
) -> SignatoryRead:
    """The invitee accepts the invitation."""
    return await accounts.confirm(
        business_account_id, signatory_id, session=session, principal=user
    )


@router.post("/business-accounts/{business_account_id}/signatories/{signatory_id}/revoke")
async def revoke_signatory(
    business_account_id: Ident, signatory_id: Ident, user: CurrentUser, session: Session
) -> SignatoryRead:
    """Owner and admins revoke a signatory's rights."""
    return await accounts.revoke(business_account_id, signatory_id, session=session, principal=user)


@router.get("/business-accounts/{business_account_id}/rules")
async def list_rules(
    business_account_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> RulePage:
    """Oldest first, in pages."""
    return await accounts.rules(business_account_id, session=session, principal=user, paging=paging)


@router.post("/business-accounts/{business_account_id}/rules", status_code=CREATED)
async def add_rule(
    business_account_id: Ident, body: RuleIn, user: CurrentUser, session: Session
) -> RuleRead:
    """A signatory rule; one overlapping an active rule is refused (RULE_OVERLAP)."""
    return await accounts.add_rule(business_account_id, body, session=session, principal=user)


@router.post(
    "/business-accounts/{business_account_id}/rules/{rule_id}/deactivate", responses=CONDITIONAL
)
async def deactivate_rule(
    business_account_id: Ident,
    rule_id: Ident,
    user: CurrentUser,
    session: Session,
    expected: IfMatch,
    response: Response,
) -> RuleRead:
    """Retire a rule; with `If-Match` (the rule's `version`, quoted), only if it is still at
    that version (else 412 PRECONDITION_FAILED)."""
    retired = await accounts.deactivate_rule(
        business_account_id, rule_id, session=session, principal=user, expected=expected
    )
    response.headers[ETAG] = etag(retired.version)
    return retired


# Transfers and their approvals ---------------------------------------------------------------


@router.post("/business-accounts/{business_account_id}/transfers", status_code=ACCEPTED)
async def business_transfer(
    business_account_id: Ident,
    body: BusinessTransferIn,
    user: CurrentUser,
    session: Session,
    now: Now,
) -> ApprovalRead:
    """A transfer from the business wallet: held (with its amount reserved) until approved."""
    return await approvals.initiate(
        business_account_id, body, session=session, principal=user, now=now
    )


@router.get("/business-accounts/{business_account_id}/approvals")
async def list_approvals(
    business_account_id: Ident,
    user: CurrentUser,
    session: Session,
    paging: Paging,
    status: ApprovalStatus | None = None,
) -> ApprovalPage:
    """The account's approvals, newest first; `status=PENDING` for those awaiting votes."""
    return await approvals.page(
        business_account_id, status=status, session=session, principal=user, paging=paging
    )


@router.get("/approvals/{approval_id}")
async def get_approval(approval_id: Ident, user: CurrentUser, session: Session) -> ApprovalRead:
    return await approvals.get(approval_id, session=session, principal=user)


@router.post("/approvals/{approval_id}/approve")
async def approve(
    approval_id: Ident, user: CurrentUser, session: Session, now: Now, body: VoteIn | None = None
) -> ApprovalRead:
    """An approving signatory's vote for; at the required count the transfer is released."""
    return await approvals.vote(
        approval_id,
        approved=True,
        remarks=body.remarks if body else None,
        session=session,
        principal=user,
        now=now,
    )


@router.post("/approvals/{approval_id}/reject")
async def reject(
    approval_id: Ident, user: CurrentUser, session: Session, now: Now, body: VoteIn | None = None
) -> ApprovalRead:
    """An approving signatory's vote against: the transfer is rejected, its hold released."""
    return await approvals.vote(
        approval_id,
        approved=False,
        remarks=body.remarks if body else None,
        session=session,
        principal=user,
        now=now,
    )
