"""Transfer risk: every transfer request scored from named factors, and the review of those held.

Scoring (`assess`): `request_transfer` calls it once its checks have passed and its hold is
placed, in the same transaction. One statement reads every fact (the sender's history, its
device and account, the tenant's threshold); `factors` turns the facts into points, the one
place the points are set; the total, at most 100, is stored in `TransactionRiskScore` with each
factor's name, points and facts. A score of `riskReviewThreshold` (a system parameter, default
80) or more holds the transfer for review: its command becomes HELD, its hold reserves the
money like any other, and the relay, which claims PENDING commands only, leaves it alone.

The sender's history is its projected SENT rows and the live holds of transfers not projected
yet, as `gxcore.wallet.holds` counts them. A transfer held for review counts for velocity, but
vouches for nothing: it makes neither an amount usual nor a receiver known.

Review (administrators): `release` puts the command back in the queue (PENDING) and wakes the
relay; `reject` ends it FAILED with RISK_REJECTED, so its hold no longer counts and the money is
available again (a command never attempted is not re-queued by `gx outbox retry` either). Both
record who, when and why on the score, are audited (TRANSACTION_APPROVED / _REJECTED), and tell
the sender in the app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gxcore.admin.parameters import DEFAULTS
from gxcore.audit import service as audit
from gxcore.business.models import BusinessAccount
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import wake_relay
from gxcore.db import pages
from gxcore.db.lifecycle import transition
from gxcore.db.scope import scope_of
from gxcore.enums import AuditEventType, NotificationType, OutboxStatus
from gxcore.errors import TenantScopeRequired, TransferNotFound, TransferNotHeld
from gxcore.identity.access import Principal
from gxcore.notifications.inbox import notify
from gxcore.wallet import holds
from gxcore.wallet.models import TransactionRiskScore, TransferHold, Wallet
from gxcore.wallet.schemas import RiskFactor, TransferReview, TransferReviewPage

THRESHOLD = "riskReviewThreshold"
MAX_SCORE = 100
#: The error code of a command rejected in review.
REJECTED = "RISK_REJECTED"


@dataclass(frozen=True)
class Facts:
    """What a transfer request is scored on."""

    amount: Decimal
    fee: Decimal
    available: Decimal  # before this transfer's hold
    sent_count: int
    sent_average: Decimal | None
    sent_max: Decimal | None
    known_receiver: bool
    sends_last_10_minutes: int
    sends_last_hour: int
    device_id: str | None
    trusted_device: bool
    account_age: timedelta


@dataclass(frozen=True)
class Factor:
    name: str
    points: int
    facts: dict[str, Any]


def factors(f: Facts) -> list[Factor]:
    """Each factor's points for these facts: the one place they are set (135 at most in all;
    `assess` caps the score at 100)."""
    history: dict[str, Any] = {
        "amount": _money(f.amount),
        "sentCount": f.sent_count,
        "sentMax": _money(f.sent_max),
    }
    if f.sent_count and f.sent_average:
        ratio = f.amount / f.sent_average
        history |= {"sentAverage": _money(f.sent_average), "ratioToAverage": f"{ratio:.2f}"}
        # Many times the usual amount: the classic sign of a taken-over account.
        amount = 40 if ratio >= 10 else 20 if ratio >= 3 else 0
    else:
        amount = 20  # a first send: nothing to compare it with
    required = f.amount + f.fee
    # Nearly everything available at once: a wallet being emptied.
    drain = 20 if required >= f.available * Decimal("0.9") else 0
    velocity = 25 if f.sends_last_10_minutes >= 5 else 15 if f.sends_last_hour >= 10 else 0
    young = 20 if f.account_age < timedelta(days=1) else 10 if f.account_age.days < 30 else 0
    return [
        Factor("amount", amount, history),
        Factor("drain", drain, {"required": _money(required), "available": _money(f.available)}),
        Factor(
            "velocity",
            velocity,
            {"lastTenMinutes": f.sends_last_10_minutes, "lastHour": f.sends_last_hour},
        ),
        Factor("newCounterparty", 0 if f.known_receiver else 15, {"sentBefore": f.known_receiver}),
        Factor(
            "newDevice",
            0 if f.trusted_device else 15,
            {"deviceId": f.device_id, "trusted": f.trusted_device},
        ),
        Factor("accountAge", young, {"days": f.account_age.days}),
    ]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.9f}"


# Every fact in one round trip. `sent` is the sender's history (see the module's docstring);
# `vouches` is false for a transfer that waits for review.
_FACTS = text(
    f"""
WITH sent AS (
    SELECT t."amount", t."counterparty" = :counterparty AS to_receiver, t."timestamp" AS at,
           true AS vouches
    FROM "Transaction" t WHERE t."walletId" = :wallet AND t."type" = 'SENT'
    UNION ALL
    SELECT h."amount", h."receiverWalletId" = :receiver, h."createdAt", o."status" <> 'HELD'
    FROM "TransferHold" h
    JOIN "OutboxCommand" o ON o."tenantId" = h."tenantId" AND o."id" = h."commandId"
    WHERE h."walletId" = :wallet AND h."commandId" <> :command AND {holds.LIVE}
)
SELECT count(*) FILTER (WHERE vouches) AS sent_count,
       avg(amount) FILTER (WHERE vouches) AS sent_average,
       max(amount) FILTER (WHERE vouches) AS sent_max,
       coalesce(bool_or(vouches AND to_receiver), false) AS known_receiver,
       count(*) FILTER (WHERE at >= now() - interval '10 minutes') AS last_10_minutes,
       count(*) FILTER (WHERE at >= now() - interval '1 hour') AS last_hour,
       (SELECT now() - p."createdAt" FROM "UserProfile" p WHERE p."profileId" = :profile)
           AS account_age,
       EXISTS (SELECT FROM "TrustedDevice" d WHERE d."profileId" = :profile
               AND d."deviceId" = :device AND d."isTrusted") AS trusted_device,
       (SELECT s."paramValue" FROM "SystemParameter" s WHERE s."paramKey" = :threshold)
           AS threshold
FROM sent
"""
)


async def assess(
    session: AsyncSession,
    command: OutboxCommand,
    *,
    sender: Wallet,
    receiver: Wallet,
    amount: Decimal,
    fee: Decimal,
    available: Decimal,
) -> None:
    """Score the transfer `command` and store its score; HELD from the tenant's threshold on."""
    scope = scope_of(session.sync_session)
    if scope is None or scope.tenant_id is None:
        raise TenantScopeRequired("transfers are scored in a tenant scope")
    device = scope.request.device_id if scope.request else None
    row = (
        await session.execute(
            _FACTS,
            {
                "wallet": sender.wallet_id,
                "receiver": receiver.wallet_id,
                "counterparty": receiver.primary_account_id,
                "command": command.id,
                "profile": sender.profile_id,
                "device": device,
                "threshold": THRESHOLD,
            },
        )
    ).one()
    found = factors(
        Facts(
            amount=amount,
            fee=fee,
            available=available,
            sent_count=row.sent_count,
            sent_average=row.sent_average,
            sent_max=row.sent_max,
            known_receiver=row.known_receiver,
            sends_last_10_minutes=row.last_10_minutes,
            sends_last_hour=row.last_hour,
            device_id=device,
            trusted_device=row.trusted_device,
            account_age=row.account_age or timedelta(0),
        )
    )
    score = min(MAX_SCORE, sum(f.points for f in found))
    held = score >= int(row.threshold or DEFAULTS[THRESHOLD])
    session.add(
        TransactionRiskScore(
            command_id=command.id,
            risk_score=score,
            risk_factors=[asdict(f) for f in found],
            requires_review=held,
        )
    )
    if held:
        transition(command, OutboxStatus.HELD)


# --------------------------------------------------------------------------------------------
# Review (administrators)
# --------------------------------------------------------------------------------------------

_Sender, _Receiver = aliased(Wallet), aliased(Wallet)
_REVIEW = (
    select(OutboxCommand, TransactionRiskScore, TransferHold, _Sender.profile_id,
           _Receiver.profile_id)
    .join(TransactionRiskScore, TransactionRiskScore.command_id == OutboxCommand.id)
    .join(TransferHold, TransferHold.command_id == OutboxCommand.id)
    .join(_Sender, _Sender.wallet_id == TransferHold.wallet_id)
    .join(_Receiver, _Receiver.wallet_id == TransferHold.receiver_wallet_id)
    # A business account's wallet is owned by its organization's proposer: named apart.
    .outerjoin(BusinessAccount, BusinessAccount.wallet_id == TransferHold.receiver_wallet_id)
    .add_columns(BusinessAccount.business_account_id)
)  # fmt: skip


def _read(
    command: OutboxCommand,
    risk: TransactionRiskScore,
    hold: TransferHold,
    sender_id: str,
    receiver_id: str,
    receiver_business_account_id: str | None,
) -> TransferReview:
    return TransferReview(
        commandId=command.id,
        status=command.status,
        errorCode=command.error_code,
        senderId=sender_id,
        receiverId=receiver_id,
        receiverBusinessAccountId=receiver_business_account_id,
        amount=hold.amount,
        fee=hold.fee,
        riskScore=risk.risk_score,
        riskFactors=[RiskFactor(**f) for f in risk.risk_factors],
        requiresReview=risk.requires_review,
        requestedAt=command.created_at,
        reviewedAt=risk.reviewed_at,
        reviewedBy=risk.reviewed_by,
        reviewNotes=risk.review_notes,
    )


async def held_page(*, session: AsyncSession, paging: pages.PageRequest) -> TransferReviewPage:
    """Transfers waiting for review, oldest first (the queue's order)."""
    query = _REVIEW.where(OutboxCommand.status == OutboxStatus.HELD)
    order = pages.Order.oldest_first(OutboxCommand.created_at, OutboxCommand.id)
    found = await pages.fetch(session, query, order, paging)
    return TransferReviewPage.of(found, [_read(*r[:6]) for r in found.rows])


async def release(
    command_id: str, notes: str | None, *, session: AsyncSession, admin: Principal, now: datetime
) -> TransferReview:
    """HELD -> PENDING: the relay delivers the transfer as if it had never waited."""
    return await _decide(command_id, notes, approve=True, session=session, admin=admin, now=now)


async def reject(
    command_id: str, reason: str, *, session: AsyncSession, admin: Principal, now: datetime
) -> TransferReview:
    """HELD -> FAILED (RISK_REJECTED): the hold no longer counts; the money is available."""
    return await _decide(command_id, reason, approve=False, session=session, admin=admin, now=now)


async def _decide(
    command_id: str,
    notes: str | None,
    *,
    approve: bool,
    session: AsyncSession,
    admin: Principal,
    now: datetime,
) -> TransferReview:
    # Locked: two administrators deciding at once are served one after the other.
    locked = (
        await session.execute(
            select(OutboxCommand, TransactionRiskScore)
            .join(TransactionRiskScore, TransactionRiskScore.command_id == OutboxCommand.id)
            .where(OutboxCommand.id == command_id)
            .with_for_update()
        )
    ).first()
    if locked is None:
        raise TransferNotFound(f"no scored transfer {command_id!r}", commandId=command_id)
    command, risk = locked
    if command.status is not OutboxStatus.HELD:
        raise TransferNotHeld(
            f"transfer {command_id} is {command.status.value}, not held for review",
            commandId=command_id,
            current=command.status.value,
        )
    # A held transfer's hold is never forgotten (it is not projected): the join finds it.
    found = (await session.execute(_REVIEW.where(OutboxCommand.id == command_id))).one()
    hold, sender_id = found[2], found[3]
    if approve:
        transition(command, OutboxStatus.PENDING)
        await wake_relay(session, command.tenant_id)
    else:
        transition(command, OutboxStatus.FAILED)
        command.error_code = REJECTED
        command.error = f"rejected in review: {notes}"
    risk.reviewed_at, risk.reviewed_by, risk.review_notes = now, admin.profile_id, notes
    outcome = "approved" if approve else "rejected"
    await audit.record(
        session,
        event_type=(
            AuditEventType.TRANSACTION_APPROVED if approve else AuditEventType.TRANSACTION_REJECTED
        ),
        resource_type="OutboxCommand",
        resource_id=command.id,
        target_profile_id=sender_id,
        metadata={"riskScore": risk.risk_score, "notes": notes},
    )
    await notify(
        session,
        profile_id=sender_id,
        type=(
            NotificationType.TRANSACTION_APPROVED
            if approve
            else NotificationType.TRANSACTION_REJECTED
        ),
        title=f"Transfer {outcome}",
        message=(
            f"Your transfer of {hold.amount:f} was {outcome} after review"
            + (" and is on its way." if approve else "; the amount is available again.")
        ),
        resource_type="OutboxCommand",
        resource_id=command.id,
    )
    await session.flush()
    return _read(*found)
