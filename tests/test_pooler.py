"""Pooling from configuration, and gxcore behind a real PgBouncer in transaction pooling mode.

The tests that matter most behind a pooler (tenant isolation, the registration flow, money
transfers) run again through PgBouncer, in a pytest of their own with GX_TEST_POOLER=pgbouncer
(see conftest `pool`); PgBouncer's own counters prove their traffic went through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gxcore.config import Settings
from gxcore.db import roles
from gxcore.db.engine import PoolConfig
from gxcore.db.tenancy import Database
from gxcore.errors import DatabaseBusy
from tests import pgbouncer
from tests.conftest import ROLE_KEY

ROOT = Path(__file__).resolve().parent.parent
#: What must keep working behind a transaction-mode pooler, where consecutive transactions of
#: one client land on different server connections: whatever lives on a connection (the scope's
#: tenant setting, prepared statements, locks, advisory locks) must live exactly as long as its
#: transaction. That is the tenancy suite whole (a tenant carried over to the next transaction
#: would be a leak); the registration flow end to end, with its counters that survive a rollback
#: and its races on the last attempt (row locks); and the transfers, with their races for one
#: balance, idempotency and daily limit (locks and the outbox). Input validation, paging and
#: policy arithmetic hold nothing on a connection: the direct run covers them.
POOLED = [
    "tests/test_tenancy.py",
    *(
        f"tests/test_registration.py::{name}"
        for name in (
            "test_happy_path_completes_with_a_registered_profile_and_an_audit_entry",
            "test_repeating_a_step_with_the_same_data_answers_as_before",
            "test_another_tenant_cannot_read_or_continue_a_registration",
            "test_a_counted_guess_sticks_though_the_call_rolls_back_what_else_it_wrote",
            "test_concurrent_guesses_never_exceed_the_attempt_limit",
            "test_a_right_and_wrong_guesses_racing_the_last_attempt_pass_at_most_once",
        )
    ),
    *(
        f"tests/test_money_api.py::{name}"
        for name in (
            "test_genesis_then_a_transfer_moves_exact_money_through_the_whole_loop",
            "test_parallel_requests_never_spend_more_than_is_available",
            "test_a_repeated_idempotency_key_moves_the_money_once",
            "test_another_users_wallet_and_transfer_are_not_found",
            "test_concurrent_opposite_transfers_all_finish_and_conserve_money",
            "test_parallel_requests_cannot_break_a_daily_limit",
        )
    ),
]


@pytest.fixture(scope="module")
def bouncer(server_url: str) -> Iterator[pgbouncer.PgBouncer]:
    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    users = {r: roles.role_password(ROLE_KEY, server_url, r) for r in roles.ROLES}
    with pgbouncer.PgBouncer(server_url, users=users) as b:
        yield b


def test_pool_settings_come_from_configuration() -> None:
    cfg = Settings(
        db_pool_size=3,
        db_pool_max_overflow=0,
        db_pool_timeout=1.5,
        db_statement_timeout_ms=250,
        pooler_url="postgresql://bouncer:6432",
    )
    pool = PoolConfig.from_settings(cfg)
    kwargs = pool.engine_kwargs()
    assert (kwargs["pool_size"], kwargs["max_overflow"], kwargs["pool_timeout"]) == (3, 0, 1.5)
    assert kwargs["connect_args"]["statement_cache_size"] == 0
    routed = pool.route("postgresql://gx_app:pw@db.internal:5432/gx")
    assert (routed.host, routed.port, routed.database, routed.username) == (
        "bouncer", 6432, "gx", "gx_app",
    )  # fmt: skip


async def test_a_statement_past_the_timeout_is_database_busy(migrated_url: str) -> None:
    db = Database.connect(
        migrated_url, role_key=ROLE_KEY, pool=PoolConfig(statement_timeout_ms=200)
    )
    try:
        with pytest.raises(DatabaseBusy):
            async with db.system(reason="test: statement timeout") as session:
                await session.execute(text("SELECT pg_sleep(2)"))
        async with db.tenant("any") as session:  # the limit holds in every kind of scope
            assert await session.scalar(text("SHOW statement_timeout")) == "200ms"
    finally:
        await db.dispose()


async def test_waiting_past_the_pool_timeout_is_database_busy(migrated_url: str) -> None:
    pool = PoolConfig(size=1, max_overflow=0, timeout=0.2)
    db = Database.connect(migrated_url, role_key=ROLE_KEY, pool=pool)
    try:
        async with db.tenant("any") as holder:
            await holder.execute(text("SELECT 1"))  # holds the only connection
            with pytest.raises(DatabaseBusy):
                async with db.tenant("any") as session:
                    await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()


async def _twice_around_a_server_change(db: Database, bouncer: pgbouncer.PgBouncer) -> None:
    """The same statement in two transactions, PgBouncer's server connection replaced between
    them (as happens whenever transactions of one client land on different servers)."""
    for _ in range(2):
        async with db.tenant("any") as session:
            assert await session.scalar(text("SELECT 6 * 7")) == 42
        bouncer.admin("RECONNECT")  # server connections are closed once released


async def test_through_pgbouncer_no_statement_outlives_its_transaction(
    migrated_url: str, bouncer: pgbouncer.PgBouncer
) -> None:
    db = Database.connect(migrated_url, role_key=ROLE_KEY, pool=PoolConfig(pooler_url=bouncer.url))
    try:
        before = bouncer.stats()["xacts"]
        await _twice_around_a_server_change(db, bouncer)
        assert bouncer.stats()["xacts"] >= before + 2  # PgBouncer carried them
    finally:
        await db.dispose()


async def test_through_pgbouncer_cached_statements_would_be_lost(
    migrated_url: str, bouncer: pgbouncer.PgBouncer
) -> None:
    """The check above can fail: with the drivers' statement caches on (the direct default), a
    statement prepared on one server connection is executed on another that never saw it."""
    caches_on = {"statement_cache_size": 100, "prepared_statement_cache_size": 100}
    pool = PoolConfig(pooler_url=bouncer.url)
    db = Database.connect(migrated_url, role_key=ROLE_KEY, pool=pool, connect_args=caches_on)
    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            await _twice_around_a_server_change(db, bouncer)
    finally:
        await db.dispose()


def test_listen_goes_to_the_server_not_the_pooler(migrated_url: str) -> None:
    pool = PoolConfig(pooler_url="postgresql://127.0.0.1:1")
    db = Database.connect(migrated_url, role_key=ROLE_KEY, pool=pool)
    assert db.app_engine.url.port == 1 and db.system_engine.url.port == 1
    assert make_url(db.listen_url).port == make_url(migrated_url).port
    assert make_url(db.listen_url).username == roles.SYSTEM_ROLE


def test_the_isolation_registration_and_money_suites_pass_through_pgbouncer(
    tmp_path: Path,
) -> None:
    """The tests of POOLED (see there why those) pass with every role connection through
    PgBouncer in transaction mode; a name no longer found fails the nested run."""
    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    stats = tmp_path / "pgbouncer-stats.json"
    env = {**os.environ, "GX_TEST_POOLER": "pgbouncer", "GX_TEST_POOLER_STATS": str(stats)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not system"]
    proc = subprocess.run(
        [*command, f"--basetemp={tmp_path / 'run'}", *POOLED],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    carried = json.loads(stats.read_text())
    assert carried["xacts"] > 1000, carried  # the suites' transactions went through PgBouncer
