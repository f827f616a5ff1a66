"""svc-tokenomics: balances and history for their owners, transfer requests, genesis.

Reads are owner-or-admin: another user's wallet is not found (404), as is one of another tenant
(the scope never sees it). Writes never touch the `Wallet` or `Transaction` read models, which
are the projector's: a transfer request checks, records its hold and enqueues its command in the
caller's transaction; the ledger decides and the projector reports.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.audit import service as audit
from gxcore.business import accounts as business
from gxcore.cqrs import idempotency
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue, latest
from gxcore.db import pages
from gxcore.db.scope import tenant_of
from gxcore.enums import (
    DEBITS,
    AuditEventType,
    CommandType,
    LimitType,
    OffChainTxType,
    OutboxStatus,
    UserProfileStatus,
)
from gxcore.errors import (
    AccountInactive,
    ContactBlocked,
    InsufficientFunds,
    LimitNotFound,
    SelfTransfer,
    TransferNotFound,
    UserNotFound,
    ValidationFailed,
    WalletFrozen,
    WalletNotFound,
)
from gxcore.identity import throttle
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.ledger.contract import PARAMETER_RULES, transfer_fee
from gxcore.ledger.state import tx_id_of
from gxcore.wallet import contacts, holds, limits, risk
from gxcore.wallet.models import Transaction, TransactionLimit, TransferHold, Wallet
from gxcore.wallet.schemas import (
    Balance,
    CommandAccepted,
    GenesisRequest,
    LimitIn,
    LimitPage,
    LimitRead,
    TransactionPage,
    TransactionRead,
    TransferRequest,
    TransferStatus,
)

SERVICE = "svc-tokenomics"
KEY_HOURS = "idempotencyKeyHours"
ONCHAIN_FROZEN = "FROZEN"
ZERO = Decimal("0.000000000")
#: A history row's effect on its wallet: what `at=` sums (a SENT row carries the fee paid).
_SIGNED = case(
    (Transaction.type == OffChainTxType.SENT, -(Transaction.amount + Transaction.fee)),
    (Transaction.type.in_(sorted(DEBITS - {OffChainTxType.SENT})), -Transaction.amount),
    else_=Transaction.amount,
)
_HISTORY_COLUMNS = (
    Transaction.off_tx_id,
    Transaction.on_chain_tx_id,
    Transaction.type,
    Transaction.counterparty,
    Transaction.amount,
    Transaction.fee,
    Transaction.remark,
    Transaction.timestamp,
    Transaction.block_number,
)
_HISTORY_ORDER = pages.Order.newest_first(Transaction.timestamp, Transaction.off_tx_id)


@dataclass(frozen=True)
class Accepted:
    """A command written (or found again under its idempotency key); `replayed` when found."""

    response: CommandAccepted
    replayed: bool


@dataclass(frozen=True)
class _Receiver:
    """Whom a transfer credits: a user's own wallet, or a business account's (then `user` is
    None: the wallet's owner profile is only its organization's proposer)."""

    wallet: Wallet
    user: UserProfile | None
    business: business.Payee | None


async def _receiver(
    session: AsyncSession, body: TransferRequest, users: dict[str, tuple[Wallet, UserProfile]]
) -> _Receiver:
    """The receiver; a user's wallet is taken from `users` (read with the sender's)."""
    if body.toBusinessAccountId is not None:
        payee = await business.payee(session, body.toBusinessAccountId)
        return _Receiver(payee.wallet, None, payee)
    assert body.toUserId is not None  # exactly one receiver (TransferRequest)
    found = users.get(body.toUserId)
    if found is None:
        raise UserNotFound(f"no user {body.toUserId!r} with a wallet", field="toUserId")
    return _Receiver(found[0], found[1], None)


def _is_frozen(profile: UserProfile) -> bool:
    return profile.onchain_status == ONCHAIN_FROZEN or profile.status is UserProfileStatus.FROZEN


async def _wallet(session: AsyncSession, profile_id: str) -> tuple[Wallet, UserProfile] | None:
    return (await _wallets(session, profile_id)).get(profile_id)


async def _wallets(
    session: AsyncSession, *profile_ids: str
) -> dict[str, tuple[Wallet, UserProfile]]:
    """Each user's own account's wallet with its profile, by profile id, in one round trip.

    The user's own account's: an organization's wallet (a business account's, opened for its
    proposer) shares the owner but not the account."""
    rows = await session.execute(
        select(Wallet, UserProfile)
        .join(UserProfile, UserProfile.profile_id == Wallet.profile_id)
        .where(
            Wallet.profile_id.in_(profile_ids),
            Wallet.primary_account_id == UserProfile.fabric_user_id,
        )
    )
    return {profile.profile_id: (wallet, profile) for wallet, profile in rows}


async def user_wallet(session: AsyncSession, profile_id: str) -> tuple[Wallet, UserProfile] | None:
    """The wallet of `profile_id`'s own ledger account, with the profile; None without one."""
    return await _wallet(session, profile_id)


async def _visible_wallet(
    session: AsyncSession, profile_id: str, principal: Principal
) -> tuple[Wallet, UserProfile]:
    found = await _wallet(session, profile_id) if principal.may_see(profile_id) else None
    if found is None:
        raise WalletNotFound(f"no wallet for profile {profile_id!r}", profileId=profile_id)
    return found


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


async def balance(
    profile_id: str, *, session: AsyncSession, principal: Principal, at: datetime | None = None
) -> Balance:
    """The live balance, or with `at` the balance as of that instant from the history rows
    (no holds then: a hold is a fact of now)."""
    wallet, profile = await _visible_wallet(session, profile_id, principal)
    if at is None:
        funds = await holds.funds(session, wallet.wallet_id)
        amount, held = funds.balance, funds.held
    else:
        amount = (
            await session.scalar(
                select(func.sum(_SIGNED)).where(
                    Transaction.wallet_id == wallet.wallet_id, Transaction.timestamp <= at
                )
            )
            or ZERO
        )
        held = ZERO
    return Balance(
        walletId=wallet.wallet_id,
        profileId=wallet.profile_id,
        balance=amount,
        available=amount - held,
        held=held,
        isFrozen=_is_frozen(profile),
        updatedAt=wallet.updated_at,
    )


async def history(
    profile_id: str,
    *,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
    since: datetime | None = None,
    until: datetime | None = None,
    types: list[OffChainTxType] | None = None,
) -> TransactionPage:
    """Newest first, in pages on (timestamp, offTxId); only the listed columns fetched."""
    wallet, _ = await _visible_wallet(session, profile_id, principal)
    query = select(*_HISTORY_COLUMNS).where(Transaction.wallet_id == wallet.wallet_id)
    if since is not None:
        query = query.where(Transaction.timestamp >= since)
    if until is not None:
        query = query.where(Transaction.timestamp < until)
    if types:
        query = query.where(Transaction.type.in_(types))
    found = await pages.fetch(session, query, _HISTORY_ORDER, paging)
    return TransactionPage.of(
        found,
        [
            TransactionRead(
                offTxId=r.off_tx_id,
                onChainTxId=r.on_chain_tx_id,
                type=r.type,
                counterparty=r.counterparty,
                amount=r.amount,
                fee=r.fee,
                remark=r.remark,
                timestamp=r.timestamp,
                blockNumber=r.block_number,
            )
            for r in found.rows
        ],
    )


async def command_status(
    command_id: str, *, session: AsyncSession, principal: Principal
) -> TransferStatus:
    """A money command's progress, for the profile that requested it (or an administrator)."""
    command = await session.get(OutboxCommand, command_id)
    if command is None or command.service != SERVICE or not _requested_by(command, principal):
        raise TransferNotFound(f"no transfer {command_id!r}", commandId=command_id)
    return TransferStatus(
        commandId=command.id,
        type=command.command_type,
        status=command.status,
        errorCode=command.error_code,
        txId=command.fabric_tx_id,
        blockNumber=command.commit_block,
    )


def _requested_by(command: OutboxCommand, principal: Principal) -> bool:
    return principal.is_admin or command.request_id.startswith(f"transfer:{principal.profile_id}:")


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


async def request_transfer(
    body: TransferRequest,
    *,
    session: AsyncSession,
    principal: Principal,
    idempotency_key: str | None = None,
) -> Accepted:
    """Check, hold amount + fee, and enqueue TRANSFER_TOKENS, in the caller's transaction.

    Spending from one wallet is serialized (an advisory lock on it), so parallel requests can
    never together spend more than `available`. The same idempotency key (per sender) with the
    same request gives back the first answer without checking or holding again; with another
    request it is an IDEMPOTENCY_CONFLICT (`gxcore.cqrs.idempotency`).

    The receiver is a user (`toUserId`) or a business account (`toBusinessAccountId`), whose
    wallet is its ledger organization's account (TRANSFER_TOKENS credits it like a user's).
    What only a person has is not asked of a business account: it keeps no contacts (no block
    list is consulted, no contact counted), and its receive limits are its wallet's and the
    tenant's defaults, never those of the profile owning the wallet (its proposer's own).
    """
    tenant = tenant_of(session, "money moves in a tenant scope")
    sender_id = body.fromUserId if principal.is_admin and body.fromUserId else principal.profile_id
    if sender_id == body.toUserId:
        raise SelfTransfer("a wallet cannot send to itself", field="toUserId")
    users = await _wallets(session, sender_id, *([body.toUserId] if body.toUserId else []))
    sender = users.get(sender_id)
    if sender is None:
        raise WalletNotFound(f"no wallet for profile {sender_id!r}", profileId=sender_id)
    receiver = await _receiver(session, body, users)
    (sender_wallet, sender_profile), receiver_wallet = sender, receiver.wallet

    send_limits, receive_limits = await limits.applicable_to_transfer(
        session,
        sender=(sender_wallet.wallet_id, sender_id),
        receiver=(
            receiver_wallet.wallet_id,
            receiver.user.profile_id if receiver.user else None,
        ),
    )
    # The receiver is locked only when a receive limit needs its window to stay put.
    locked = [sender_wallet.wallet_id] + ([receiver_wallet.wallet_id] if receive_limits else [])
    await holds.lock(session, tenant, *locked)
    payload = {
        "senderId": sender_wallet.primary_account_id,
        "receiverId": receiver_wallet.primary_account_id,
        "amount": f"{body.amount:f}",
        "remark": body.remark,
    }
    now = datetime.now(UTC)
    kept_as = None
    if idempotency_key is not None:
        kept_as = idempotency.Key(sender_id, "POST", "/transfers", idempotency_key)
        request_hash = idempotency.request_hash(payload)
        kept = await idempotency.recall(session, kept_as, request_hash, now)
        if kept is not None:
            return Accepted(CommandAccepted.model_validate(kept.body), True)
    # A replay above is no new transfer; a new one counts against the caller and its address.
    # Every parameter this request reads, in one round trip.
    values = await admin.parameter_values(
        session, [*throttle.TRANSFERS.keys, *PARAMETER_RULES, KEY_HOURS]
    )
    await throttle.check_actions(
        session, throttle.TRANSFERS, account=principal.profile_id, values=values
    )
    # Unique for each accepted request: the ledger moves money once per request id, whoever
    # retries (the relay, or a client under its key).
    request_id = f"transfer:{sender_id}:{idempotency_key or ''}:{uuid.uuid4().hex}"

    if sender_profile.status is not UserProfileStatus.ACTIVE and not _is_frozen(sender_profile):
        raise AccountInactive(f"the sender's account is {sender_profile.status.value}")
    if _is_frozen(sender_profile):
        raise WalletFrozen("the sender's wallet is frozen", side="sender")
    if receiver.business is not None:
        receiver.business.check_open()
    elif receiver.user is not None and _is_frozen(receiver.user):
        raise WalletFrozen("the receiver's wallet is frozen", side="receiver")
    if receiver.user is not None and await contacts.blocked_by(
        session, owner_id=receiver.user.profile_id, profile_id=sender_id
    ):
        # Said as the receiver's refusal, without naming the block list's other entries.
        raise ContactBlocked("the receiver does not accept transfers from this sender")
    await limits.check(session, send_limits, wallet_id=sender_wallet.wallet_id, amount=body.amount)
    await limits.check(
        session, receive_limits, wallet_id=receiver_wallet.wallet_id, amount=body.amount
    )
    fee = transfer_fee(body.amount, await admin.ledger_params(session, values))
    funds = await holds.funds(session, sender_wallet.wallet_id)
    if body.amount + fee > funds.available:
        raise InsufficientFunds(
            f"available {funds.available:f} does not cover {body.amount:f} plus fee {fee:f}",
            available=f"{funds.available:f}",
            required=f"{body.amount + fee:f}",
        )
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.TRANSFER_TOKENS,
        request_id=request_id,
        payload=payload,
    )
    session.add(
        TransferHold(
            command_id=command.id,
            wallet_id=sender_wallet.wallet_id,
            receiver_wallet_id=receiver_wallet.wallet_id,
            tx_id=tx_id_of(tenant, request_id),
            amount=body.amount,
            fee=fee,
        )
    )
    # Scored with its hold in place; from the tenant's threshold on, the command waits HELD.
    await risk.assess(
        session,
        command,
        sender=sender_wallet,
        receiver=receiver_wallet,
        amount=body.amount,
        fee=fee,
        available=funds.available,
    )
    if receiver.user is not None:
        await contacts.count_transfer(
            session, owner_id=sender_id, profile_id=receiver.user.profile_id, at=command.created_at
        )
    to = (
        {"to": body.toUserId}
        if receiver.business is None
        else {"toBusinessAccountId": receiver.business.business_account_id}
    )
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_INITIATED,
        resource_type="OutboxCommand",
        resource_id=command.id,
        target_profile_id=sender_id,
        new={**to, "amount": f"{body.amount:f}", "fee": f"{fee:f}"},
    )
    accepted = CommandAccepted(commandId=command.id, status=command.status)
    if kept_as is not None:
        hours = (await admin.read_ints(session, [KEY_HOURS], values))[KEY_HOURS]
        await idempotency.remember(
            session,
            kept_as,
            request_hash,
            body=accepted.model_dump(mode="json"),
            status_code=202,
            now=now,
            ttl=timedelta(hours=hours),
        )
    return Accepted(accepted, False)


async def request_genesis(
    body: GenesisRequest, *, session: AsyncSession, principal: Principal
) -> CommandAccepted:
    """DISTRIBUTE_GENESIS for an active user: once per user (the ledger refuses a second).

    Asked again, the same command answers, unless it FAILED (the wallet was frozen when it
    reached the ledger, say): then a new one goes, under a successor of its request id.
    """
    profile = await session.get(UserProfile, body.userId, with_for_update=True)
    if profile is None or profile.fabric_user_id is None:
        raise UserNotFound(f"no user {body.userId!r} on the ledger", field="userId")
    if body.countryCode and body.countryCode != profile.nationality_country_code:
        raise ValidationFailed(
            f"user {body.userId!r} is not of country {body.countryCode}", field="countryCode"
        )
    request_id = f"genesis:{profile.profile_id}"
    sent = await latest(session, request_id)
    if sent is not None:
        if sent.status is not OutboxStatus.FAILED:
            return CommandAccepted(commandId=sent.id, status=sent.status)
        request_id = f"{request_id}:{sent.id}"
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.DISTRIBUTE_GENESIS,
        request_id=request_id,
        payload={"userId": profile.fabric_user_id},
    )
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_INITIATED,
        resource_type="OutboxCommand",
        resource_id=command.id,
        target_profile_id=profile.profile_id,
        new={"genesis": body.userType},
    )
    return CommandAccepted(commandId=command.id, status=command.status)


async def request_freeze(
    wallet_id: str, reason: str, *, freeze: bool, session: AsyncSession, principal: Principal
) -> CommandAccepted:
    """FREEZE_WALLET or UNFREEZE_WALLET for one wallet's ledger account (administrators).

    The ledger refuses every transfer from or to a frozen account. The projector applies its
    WalletFrozen and WalletUnfrozen to the owner's profile (`onchainStatus`, and ACTIVE <->
    FROZEN), so a frozen wallet's owner cannot sign in either, as after
    `POST /admin/users/{id}/freeze`; either route's unfreeze lifts either's freeze.
    """
    wallet = await session.get(Wallet, wallet_id)
    if wallet is None or wallet.deleted_at is not None:
        raise WalletNotFound(f"no wallet {wallet_id!r}", walletId=wallet_id)
    action = "freeze" if freeze else "unfreeze"
    payload: dict[str, object] = {"accountId": wallet.primary_account_id}
    if freeze:
        payload["reason"] = reason
    # Each call is a new command: the ledger answers a repeated one with its state's rule.
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.FREEZE_WALLET if freeze else CommandType.UNFREEZE_WALLET,
        request_id=f"{action}-wallet:{wallet.wallet_id}:{uuid.uuid4()}",
        payload=payload,
    )
    await audit.record(
        session,
        event_type=(
            AuditEventType.ADMIN_ACCOUNT_FROZEN if freeze else AuditEventType.ADMIN_ACCOUNT_UNFROZEN
        ),
        resource_type="Wallet",
        resource_id=wallet.wallet_id,
        target_profile_id=wallet.profile_id,
        metadata={"reason": reason, "commandId": command.id},
    )
    return CommandAccepted(commandId=command.id, status=command.status)


# --------------------------------------------------------------------------------------------
# Limits (administrators)
# --------------------------------------------------------------------------------------------


def _limit_read(limit: TransactionLimit) -> LimitRead:
    return LimitRead(
        limitId=limit.limit_id,
        limitType=limit.limit_type,
        limitAmount=limit.limit_amount,
        maxCount=limit.max_count,
        timeWindowMinutes=limit.time_window_minutes,
        profileId=limit.profile_id,
        walletId=limit.wallet_id,
        isActive=limit.is_active,
    )


async def set_limit(body: LimitIn, *, session: AsyncSession) -> LimitRead:
    """A new active limit for a wallet, a profile, or (naming neither) the whole tenant."""
    if body.limitType is LimitType.VELOCITY_CHECK and not (
        body.maxCount and body.timeWindowMinutes
    ):
        raise ValidationFailed(
            "VELOCITY_CHECK needs maxCount and timeWindowMinutes", field="maxCount"
        )
    if body.profileId is not None and await session.get(UserProfile, body.profileId) is None:
        raise UserNotFound(f"no user {body.profileId!r}", field="profileId")
    if body.walletId is not None and await session.get(Wallet, body.walletId) is None:
        raise WalletNotFound(f"no wallet {body.walletId!r}", field="walletId")
    limit = TransactionLimit(
        limit_type=body.limitType,
        limit_amount=body.limitAmount,
        max_count=body.maxCount,
        time_window_minutes=body.timeWindowMinutes,
        profile_id=body.profileId,
        wallet_id=body.walletId,
    )
    session.add(limit)
    await session.flush()
    await session.refresh(limit)
    return _limit_read(limit)


async def list_limits(
    *,
    session: AsyncSession,
    paging: pages.PageRequest,
    profile_id: str | None = None,
    wallet_id: str | None = None,
) -> LimitPage:
    """Active limits, oldest first, in pages."""
    query = select(TransactionLimit).where(TransactionLimit.is_active)
    if profile_id is not None:
        query = query.where(TransactionLimit.profile_id == profile_id)
    if wallet_id is not None:
        query = query.where(TransactionLimit.wallet_id == wallet_id)
    order = pages.Order.oldest_first(TransactionLimit.created_at, TransactionLimit.limit_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return LimitPage.of(found, [_limit_read(limit) for limit in found.rows])


async def end_limit(limit_id: str, *, session: AsyncSession) -> LimitRead:
    """Deactivate a limit (kept for the record)."""
    limit = await session.get(TransactionLimit, limit_id)
    if limit is None or not limit.is_active:
        raise LimitNotFound(f"no active limit {limit_id!r}", limitId=limit_id)
    limit.is_active = False
    await session.flush()
    await session.refresh(limit)
    return _limit_read(limit)
