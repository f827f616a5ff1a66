"""Identity and genesis: CREATE_USER, DISTRIBUTE_GENESIS."""

from __future__ import annotations

from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import Code, Kind, Rejected, plan_genesis
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import GENESIS_POOL, RESERVED_PREFIXES, Account
from gxcore.ledger.state import Tx


@handles(C.CREATE_USER, accounts=lambda p: (p.user_id,))
async def create_user(tx: Tx, p: cmd.CreateUser) -> None:
    if p.user_id.startswith(RESERVED_PREFIXES):
        raise Rejected(Code.INVALID_PAYLOAD, f"user ids may not start with {RESERVED_PREFIXES}")
    if await tx.account(p.user_id) is not None:
        raise Rejected(Code.USER_EXISTS, f"account {p.user_id!r} already exists")
    # One person, one account: the biometric hash is unique per tenant.
    biometric = (tx.tenant_id, p.biometric_hash)
    if biometric in tx.state.biometrics:
        raise Rejected(Code.USER_EXISTS, "a user with this biometric hash already exists")
    tx.add(
        Account(
            tx.tenant_id,
            p.user_id,
            Kind.USER,
            country=p.nationality,
            age=p.age,
            biometric_hash=p.biometric_hash,
            profile_id=p.profile_id,
        )
    )
    tx.state.biometrics.add(biometric)
    tx.state.on_undo(lambda: tx.state.biometrics.discard(biometric))
    tx.emit(
        ev.UserCreated(
            user_id=p.user_id,
            profile_id=p.profile_id,
            nationality=p.nationality,
            biometric_hash=p.biometric_hash,
            age=p.age,
        )
    )


@handles(C.DISTRIBUTE_GENESIS, accounts=lambda p: (p.user_id,))
async def distribute_genesis(tx: Tx, p: cmd.DistributeGenesis) -> None:
    user = await tx.require(p.user_id, Kind.USER)
    pool = await tx.system(GENESIS_POOL)
    plan = plan_genesis(user, pool.balance, tx.params)
    tx.set_balance(user, plan.user_balance)
    user.genesis_received = True
    tx.set_balance(pool, plan.pool_balance)
    tx.emit(
        ev.GenesisDistributed(
            user_id=p.user_id,
            amount=plan.amount,
            balance=plan.user_balance,
            pool_balance=plan.pool_balance,
        )
    )
