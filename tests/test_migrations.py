"""The migrations: a clean round trip, no drift from the models, lint-clean SQL, honest status."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from gxcore.db import migrate, server
from gxcore.db.cli import upgrade_checked
from gxcore.db.engine import libpq_url
from gxcore.errors import UnknownRevision


async def _catalog(url: str) -> tuple[set[str], set[str]]:
    """Tables and enum types in schema public."""
    conn = await asyncpg.connect(libpq_url(url))
    try:
        tables = {
            r[0]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        enums = {
            r[0]
            for r in await conn.fetch(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype = 'e'"
            )
        }
    finally:
        await conn.close()
    return tables, enums


# The reference schema's 44 tables and gxcore's tenant registry.
TABLES = 45


async def test_upgrade_downgrade_upgrade_round_trips(empty_url: str) -> None:
    await migrate.upgrade(empty_url)
    tables, enums = await _catalog(empty_url)
    assert len(tables - {"alembic_version"}) == TABLES
    assert len(enums) == 26

    await migrate.downgrade(empty_url, "base")
    tables, enums = await _catalog(empty_url)
    assert tables <= {"alembic_version"}, f"left behind by downgrade: {sorted(tables)}"
    assert enums == set(), f"enum types left behind by downgrade: {sorted(enums)}"

    await migrate.upgrade(empty_url)
    again, enums_again = await _catalog(empty_url)
    assert len(again - {"alembic_version"}) == TABLES and len(enums_again) == 26
    assert (await migrate.status(empty_url)).up_to_date


async def test_status_reports_pending_then_up_to_date(empty_url: str) -> None:
    before = await migrate.status(empty_url)
    assert before.pending and before.current == () and not before.up_to_date
    await migrate.upgrade(empty_url)
    after = await migrate.status(empty_url)
    assert after.up_to_date and after.current == (migrate.head(),)


async def test_models_and_migrated_database_do_not_drift(migrated_url: str) -> None:
    assert await migrate.drift(migrated_url) == []


async def test_drift_is_detected(scratch_url: str) -> None:
    async with server.connect(scratch_url) as conn:
        await conn.execute('ALTER TABLE "Wallet" ADD COLUMN "nickname" text')
        await conn.execute('DROP INDEX "Wallet_tenantId_deletedAt_idx"')
    diffs = [str(d) for d in await migrate.drift(scratch_url)]
    assert any("nickname" in d for d in diffs), diffs
    assert any("Wallet_tenantId_deletedAt_idx" in d for d in diffs), diffs


async def test_database_from_a_newer_gxcore_is_refused(scratch_url: str) -> None:
    async with server.connect(scratch_url) as conn:
        await conn.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    st = await migrate.status(scratch_url)
    assert st.unknown == ("f00dfeedbeef",) and not st.up_to_date
    with pytest.raises(UnknownRevision, match="newer"):
        await upgrade_checked(scratch_url)
    async with server.connect(scratch_url) as conn:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == "f00dfeedbeef"


def test_migrations_lint_clean() -> None:
    result = migrate.lint()
    assert result.ok, result.report


def test_lint_catches_an_unsafe_migration(tmp_path: Path) -> None:
    bad = tmp_path / "unsafe.sql"
    bad.write_text('BEGIN;\nALTER TABLE "Wallet" ADD COLUMN "x" integer NOT NULL;\nCOMMIT;\n')
    result = migrate.run_squawk([bad])
    assert not result.ok
    assert "adding-required-field" in result.report


def test_offline_sql_creates_every_table() -> None:
    sql = migrate.offline_sql()
    # The models + alembic_version; the embedded ledger's schema `ledger` is not the application's.
    assert sql.count("CREATE TABLE") - sql.count("CREATE TABLE ledger.") == TABLES + 1
    assert 'CREATE UNIQUE INDEX "PendingRegistration_tenantId_email_key"' in sql
