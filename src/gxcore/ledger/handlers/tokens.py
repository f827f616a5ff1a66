"""Moving value: TRANSFER_TOKENS, FREEZE/UNFREEZE_WALLET, APPLY_VELOCITY_TAX."""

from __future__ import annotations

from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import Code, Kind, Rejected, plan_transfer, plan_velocity_tax
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import FEE_POOL, REDISTRIBUTION_POOL, TAXABLE, treasury_id
from gxcore.ledger.state import Tx

FREEZABLE = (Kind.USER, Kind.ORGANIZATION)


@handles(C.TRANSFER_TOKENS, accounts=lambda p: (p.sender_id, p.receiver_id))
async def transfer(tx: Tx, p: cmd.TransferTokens) -> None:
    sender = await tx.account(p.sender_id)
    receiver = await tx.account(p.receiver_id)
    plan = plan_transfer(
        p.sender_id, p.receiver_id, p.amount, sender=sender, receiver=receiver, params=tx.params
    )
    assert sender is not None and receiver is not None
    tx.set_balance(sender, plan.sender_balance)
    tx.set_balance(receiver, plan.receiver_balance)
    if plan.fee:
        fee_pool = await tx.system(FEE_POOL)
        tx.credit(fee_pool, plan.fee)
    tx.emit(
        ev.transfer_completed(
            sender_id=p.sender_id,
            receiver_id=p.receiver_id,
            amount=plan.amount,
            fee=plan.fee,
            sender_balance=plan.sender_balance,
            receiver_balance=plan.receiver_balance,
            remark=p.remark,
        )
    )


@handles(C.FREEZE_WALLET, accounts=lambda p: (p.account_id,))
async def freeze(tx: Tx, p: cmd.FreezeWallet) -> None:
    account = await tx.require(p.account_id, *FREEZABLE)
    if account.frozen:
        raise Rejected(Code.ALREADY_FROZEN, f"account {p.account_id!r} is already frozen")
    tx.change(account).frozen = True
    tx.emit(ev.WalletFrozen(account_id=p.account_id, reason=p.reason))


@handles(C.UNFREEZE_WALLET, accounts=lambda p: (p.account_id,))
async def unfreeze(tx: Tx, p: cmd.UnfreezeWallet) -> None:
    account = await tx.require(p.account_id, *FREEZABLE)
    if not account.frozen:
        raise Rejected(Code.NOT_FROZEN, f"account {p.account_id!r} is not frozen")
    tx.change(account).frozen = False
    tx.emit(ev.WalletUnfrozen(account_id=p.account_id))


@handles(C.APPLY_VELOCITY_TAX, accounts=lambda p: (p.account_id,))
async def velocity_tax(tx: Tx, p: cmd.ApplyVelocityTax) -> None:
    account = await tx.require(p.account_id)
    if account.kind not in TAXABLE:
        raise Rejected(Code.NOT_ELIGIBLE, f"a {account.kind} account pays no velocity tax")
    plan = plan_velocity_tax(
        account.balance, account.above_threshold_since, tx.state.today, tx.params
    )
    treasury = await tx.account(treasury_id(account.country)) if account.country else None
    if treasury is None:
        raise Rejected(
            Code.TREASURY_NOT_ACTIVE, f"no active treasury for country {account.country!r}"
        )
    pool = await tx.system(REDISTRIBUTION_POOL)
    tx.set_balance(account, plan.balance)
    # The cycle starts over today (when the balance is still above the threshold).
    if account.above_threshold_since is not None:
        account.above_threshold_since = tx.state.today
    tx.credit(treasury, plan.treasury_share)
    tx.credit(pool, plan.redistribution_share)
    tx.emit(
        ev.VelocityTaxApplied(
            account_id=p.account_id,
            taxable_amount=plan.taxable,
            rate_bps=tx.params.velocity_tax_rate_bps,
            amount=plan.tax,
            treasury_account_id=treasury.account_id,
            treasury_share=plan.treasury_share,
            redistribution_share=plan.redistribution_share,
            balance=plan.balance,
            treasury_balance=treasury.balance,
        )
    )
