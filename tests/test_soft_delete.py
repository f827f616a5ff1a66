"""Soft delete (deletedAt): hidden by default, visible only when asked for explicitly."""

from __future__ import annotations

from sqlalchemy import func, select, text

from gxcore.db.tenancy import Database
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Wallet
from tests.factories import make


async def test_soft_deleted_rows_are_hidden_unless_included(db: Database, tenant: str) -> None:
    # Wallets are the projector's (system scope) to write; the application reads them.
    async with db.system(reason="test setup: wallets") as session:
        kept = await make(session, Wallet, tenant)
        gone = await make(session, Wallet, tenant)
    async with db.system(reason="test setup: delete a wallet") as session:
        row = await session.get(Wallet, gone.wallet_id)
        row.soft_delete()
    async with db.tenant(tenant) as session:
        visible = (await session.scalars(select(Wallet.wallet_id))).all()
        assert visible == [kept.wallet_id]
        assert await session.get(Wallet, gone.wallet_id) is None
        everything = await session.scalars(
            select(Wallet.wallet_id).execution_options(include_deleted=True)
        )
        assert set(everything.all()) == {kept.wallet_id, gone.wallet_id}
        # The row is still there, only marked: raw SQL sees it with its timestamp.
        stamped = await session.scalar(
            text('SELECT "deletedAt" FROM "Wallet" WHERE "walletId" = :id'), {"id": gone.wallet_id}
        )
        assert stamped is not None and stamped.tzinfo is not None


async def test_restore_brings_a_row_back(db: Database, tenant: str) -> None:
    async with db.tenant(tenant) as session:
        profile = await make(session, UserProfile, tenant)
        profile.soft_delete()
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(UserProfile)) == 0
        hidden = await session.scalar(select(UserProfile).execution_options(include_deleted=True))
        assert hidden.is_deleted
        hidden.restore()
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(UserProfile)) == 1


async def test_relationship_to_a_soft_deleted_parent_is_hidden(db: Database, tenant: str) -> None:
    async with db.system(reason="test setup: a wallet") as session:
        wallet = await make(session, Wallet, tenant)
    async with db.tenant(tenant) as session:
        owner = await session.get(UserProfile, wallet.profile_id)
        owner.soft_delete()
    async with db.tenant(tenant) as session:
        loaded = await session.get(Wallet, wallet.wallet_id)
        assert await session.run_sync(lambda _: loaded.user_profile) is None
