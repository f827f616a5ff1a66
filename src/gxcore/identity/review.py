"""Administrators review profiles and move them along UserProfileStatus.

- approve: -> APPROVED_PENDING_ONCHAIN, and in the same transaction a CREATE_USER command in the
  outbox (request id `create-user:<profileId>`). Approving an approved profile again answers as
  before and writes nothing while its command is on its way or done; once it has FAILED (the
  ledger rejected it, or was never reached), approving again sends a new command, request id
  `create-user:<profileId>:<id of the failed command>`. The ledger's UserCreated event makes
  the profile ACTIVE later (the projector's work, not this module's).
- reject: -> DENIED with the reason, which the user can read.
- freeze: ACTIVE -> FROZEN, and in the same transaction a FREEZE_WALLET command for the user's
  ledger account: the ledger then refuses every transfer from or to it. A frozen user cannot
  sign in (ACCOUNT_FROZEN, 403): freezing ends the profile's sessions.
- unfreeze: FROZEN -> ACTIVE, with an UNFREEZE_WALLET command. It lifts a freeze only: a
  SUSPENDED profile stays suspended (INVALID_TRANSITION), though the table lets a suspension be
  lifted (SUSPENDED -> ACTIVE); no action here does that.
- suspend, close: -> SUSPENDED, CLOSED, and the profile's sessions revoked. Neither reaches the
  ledger: a suspended profile whose wallet was frozen keeps it frozen.
- approve_many: `approve` for each of a batch, all or none (one transaction; the first refusal
  names its user and undoes the batch). Each must be in one of the statuses the caller names:
  awaiting review (`batch-approve-blockchain`) or approved and awaiting the ledger
  (`batch-register-onchain`, which re-sends only the commands that FAILED).
- appoint: give an ACTIVE user with a ledger account an administrator's role, and in the same
  transaction APPOINT_ADMIN for that account (request id `appoint-admin:<profileId>`, re-sent
  under a successor id once FAILED, as approve does).
The ledger's WalletFrozen / WalletUnfrozen events set `onchainStatus` (gxcore.identity.handlers),
so a projector rebuild sees the frozen wallet. Every move goes through gxcore.db.lifecycle: the
table there says what is allowed, anything else is INVALID_TRANSITION (409). Status changes are audited by the flush (PROFILE_UPDATED, old and
new values, the admin as actor); freeze, unfreeze and close add their ADMIN_ACCOUNT_* event.

The list is paginated by keyset on (createdAt, profileId), oldest first (the review queue's
order): a page costs the same at any depth, and rows added meanwhile never shift a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.cqrs.outbox import enqueue, latest
from gxcore.db import pages
from gxcore.db.base import new_uuid
from gxcore.db.lifecycle import transition
from gxcore.enums import AuditEventType, CommandType, OutboxStatus, UserProfileStatus
from gxcore.errors import InvalidTransition, ProfileIncomplete, ValidationFailed
from gxcore.identity.access import Principal, UserRole
from gxcore.identity.auth import revoke_all
from gxcore.identity.models import UserProfile
from gxcore.identity.registration import age_on
from gxcore.identity.schemas import UserPage, UserRead
from gxcore.identity.users import get_or_raise, read
from gxcore.referrals import service as referrals

S = UserProfileStatus
SERVICE = "svc-identity"


@dataclass(frozen=True)
class Review:
    session: AsyncSession
    admin: Principal
    now: datetime


# --------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------


async def list_page(
    session: AsyncSession,
    *,
    paging: pages.PageRequest,
    statuses: list[UserProfileStatus] | None = None,
) -> UserPage:
    stmt = select(UserProfile)
    if statuses:
        stmt = stmt.where(UserProfile.status.in_(statuses))
    order = pages.Order.oldest_first(UserProfile.created_at, UserProfile.profile_id)
    found = await pages.fetch_scalars(session, stmt, order, paging)
    return UserPage.of(found, [read(p) for p in found.rows])


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


def create_user_payload(profile: UserProfile, now: datetime) -> dict[str, object]:
    """The ledger's CreateUser command (gxcore.ledger.commands): the profile id is the user id."""
    if profile.date_of_birth is None or profile.nationality_country_code is None:
        raise ProfileIncomplete("the profile has no birth date or nationality to register")
    return {
        "userId": profile.profile_id,
        "profileId": profile.profile_id,
        "biometricHash": profile.biometric_hash,
        "nationality": profile.nationality_country_code,
        "age": age_on(profile.date_of_birth, now.date()),
    }


async def approve(profile_id: str, *, review: Review) -> UserRead:
    profile = await get_or_raise(review.session, profile_id, lock=True)
    request_id = f"create-user:{profile.profile_id}"
    if profile.status is S.APPROVED_PENDING_ONCHAIN:
        sent = await latest(review.session, request_id)
        if sent is None or sent.status is not OutboxStatus.FAILED:
            return read(profile)  # approved before: the command went out with that approval
        # The ledger refused the user (or was never reached): approving again sends a new
        # command, under a new request id, since the ledger keeps the old one's outcome.
        request_id = f"{request_id}:{sent.id}"
    payload = create_user_payload(profile, review.now)
    first_approval = profile.status is not S.APPROVED_PENDING_ONCHAIN
    if first_approval:
        transition(profile, S.APPROVED_PENDING_ONCHAIN)
    profile.reviewed_by = review.admin.profile_id
    profile.reviewed_at = review.now
    if first_approval:  # the referral that brought this user in earns its referrer's points
        await referrals.on_approved(review.session, profile_id=profile.profile_id, now=review.now)
    await enqueue(
        review.session,
        service=SERVICE,
        command_type=CommandType.CREATE_USER,
        request_id=request_id,
        payload=payload,
    )
    return await _saved(review.session, profile)


async def approve_many(
    profile_ids: list[str], *, sources: frozenset[UserProfileStatus], review: Review
) -> list[UserRead]:
    """`approve` each profile (each in one of `sources`), in id order: two batches naming the
    same profiles lock them in one order and never deadlock."""
    done = []
    for profile_id in sorted(set(profile_ids)):
        profile = await get_or_raise(review.session, profile_id, lock=True)
        if profile.status not in sources:
            raise InvalidTransition(
                f"user {profile_id} is {profile.status.value}, not "
                f"{' or '.join(sorted(s.value for s in sources))}",
                profileId=profile_id,
                current=profile.status.value,
            )
        done.append(await approve(profile_id, review=review))
    return done


async def appoint(profile_id: str, role: UserRole, *, review: Review) -> UserRead:
    if role is UserRole.USER:
        raise ValidationFailed("appoint ADMIN or SUPER_ADMIN", field="role")
    profile = await get_or_raise(review.session, profile_id, lock=True)
    if profile.status is not S.ACTIVE or profile.fabric_user_id is None:
        raise ProfileIncomplete(
            f"only an ACTIVE user with a ledger account can be appointed; this one is "
            f"{profile.status.value}",
            profileId=profile_id,
        )
    request_id = f"appoint-admin:{profile.profile_id}"
    sent = await latest(review.session, request_id)
    if sent is not None and sent.status is OutboxStatus.FAILED:
        request_id = f"{request_id}:{sent.id}"
    if sent is None or sent.status is OutboxStatus.FAILED:
        await enqueue(
            review.session,
            service=SERVICE,
            command_type=CommandType.APPOINT_ADMIN,
            request_id=request_id,
            payload={"accountId": profile.fabric_user_id},
        )
    profile.role = role.value  # audited by the flush (PROFILE_UPDATED, old and new role)
    return await _saved(review.session, profile)


async def reject(profile_id: str, reason: str, *, review: Review) -> UserRead:
    profile = await get_or_raise(review.session, profile_id, lock=True)
    transition(profile, S.DENIED)
    profile.denial_reason = reason
    profile.reviewed_by = review.admin.profile_id
    profile.reviewed_at = review.now
    return await _saved(review.session, profile)


@dataclass(frozen=True)
class Action:
    target: UserProfileStatus
    event: AuditEventType | None
    ends_sessions: bool
    #: The ledger command that makes the move on the user's account, enqueued with it.
    command: CommandType | None = None
    #: The statuses the action starts from, among those the lifecycle table allows (None: all).
    sources: frozenset[UserProfileStatus] | None = None


ACTIONS = {
    "freeze": Action(
        S.FROZEN,
        AuditEventType.ADMIN_ACCOUNT_FROZEN,
        ends_sessions=True,
        command=CommandType.FREEZE_WALLET,
    ),
    "unfreeze": Action(
        S.ACTIVE,
        AuditEventType.ADMIN_ACCOUNT_UNFROZEN,
        ends_sessions=False,
        command=CommandType.UNFREEZE_WALLET,
        sources=frozenset({S.FROZEN}),
    ),
    "suspend": Action(S.SUSPENDED, None, ends_sessions=True),
    "close": Action(S.CLOSED, AuditEventType.ADMIN_ACCOUNT_CLOSED, ends_sessions=True),
}


async def apply(profile_id: str, action: str, reason: str | None, *, review: Review) -> UserRead:
    """freeze / unfreeze / suspend / close, as the lifecycle table and the action allow."""
    what = ACTIONS[action]
    profile = await get_or_raise(review.session, profile_id, lock=True)
    previous = profile.status
    if what.sources is not None and previous not in what.sources:
        raise InvalidTransition(
            f"{action} applies to a {' or '.join(sorted(what.sources))} profile, not {previous}",
            current=previous.value,
            target=what.target.value,
        )
    transition(profile, what.target)
    if what.command is not None:
        await _enqueue_wallet_command(review.session, profile, action, what.command, reason)
    if what.event is not None:
        await audit.record(
            review.session,
            event_type=what.event,
            resource_type="UserProfile",
            resource_id=profile.profile_id,
            target_profile_id=profile.profile_id,
            previous={"status": previous.value},
            new={"status": what.target.value},
            metadata={"reason": reason} if reason else None,
        )
    if what.ends_sessions:
        await revoke_all(
            review.session, profile.profile_id, now=review.now, reason=f"account {action}"
        )
    return await _saved(review.session, profile)


async def _enqueue_wallet_command(
    session: AsyncSession,
    profile: UserProfile,
    action: str,
    command: CommandType,
    reason: str | None,
) -> None:
    # The ledger account approve registered (CREATE_USER's userId is the profile id); the
    # projector records it as fabricUserId when the ledger opens it.
    account = profile.fabric_user_id or profile.profile_id
    payload: dict[str, object] = {"accountId": account}
    if command is CommandType.FREEZE_WALLET and reason:
        payload["reason"] = reason
    # Each freeze or unfreeze is a new command: the status move above refuses a repeated one.
    await enqueue(
        session,
        service=SERVICE,
        command_type=command,
        request_id=f"{action}-wallet:{profile.profile_id}:{new_uuid()}",
        payload=payload,
    )


async def _saved(session: AsyncSession, profile: UserProfile) -> UserRead:
    await session.flush()
    await session.refresh(profile, ["updated_at"])
    return read(profile)
