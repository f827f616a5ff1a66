"""Test fixtures: one PostgreSQL server per run, the schema migrated once, a fresh tenant per test.

With DATABASE_URL set, that server is used instead of an embedded one; its user needs CREATEDB.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import gxcore.audit.service  # noqa: F401  (registers the audit trail, as the features do)
from gxcore.db import migrate, roles, server
from gxcore.db.embedded import EmbeddedServer
from gxcore.db.engine import PoolConfig, create_engine
from gxcore.db.tenancy import Database
from tests import pgbouncer
from tests.factories import register_tenant

TEMPLATE_DB = "gx_template"
#: The run's database role key, in the environment too: `gx` subprocesses derive the same role
#: passwords as the tests (the roles are cluster-wide, one key per server).
ROLE_KEY = os.environ.setdefault(
    "GX_DB_ROLE_SECRET", "test-only-db-role-secret-0123456789abcdef"
).encode()
# `gx` tables in full in every worker, whatever its terminal: Rich reads the width once, when
# gxcore.cli_common makes its consoles (imported by test modules, after this file).
os.environ.setdefault("COLUMNS", "200")


#: The longest tests (minutes on a busy machine), longest first. They start the run, dealt in
#: turn to the pytest-xdist workers, instead of whichever lands last keeping one worker busy
#: while the others are done.
LONGEST = (
    "tests/test_pooler.py::test_the_isolation_registration_and_money_suites_pass_through_pgbouncer",
    "tests/test_cli.py::test_tenants_exist_once_created_seeded_and_queued_for_bootstrap",
    "tests/test_cli.py::test_reset_needs_force_and_spares_production",
    "tests/test_money_properties.py::test_money_is_conserved_held_and_released_through_any",
    "tests/test_cli.py::test_long_running_commands_show_progress_and_keep_their_results",
    "tests/test_demo.py::",
    "tests/test_fresh_start.py::",
    "tests/test_chaos.py::",
    "tests/test_cli.py::test_gx_up_serves_a_migrated_seeded_database_until_interrupted",
    "tests/test_up.py::",
    "tests/test_registration.py::test_gx_api_serves_the_api_and_delivers_its_messages",
    "tests/test_failover.py::",
    "tests/test_kyc.py::test_gx_jobs_kyc_expiry_and_kyc_scan_run_across_tenants",
    "tests/test_projector.py::test_the_projector_commands",
    "tests/test_relay.py::test_sigterm_mid_run_finishes_the_batch_and_exits_0_with_nothing_locked",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST) if item.nodeid.startswith(prefix)),
            len(LONGEST),
        )

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Superuser URL of the test server's maintenance database."""
    if url := os.environ.get("DATABASE_URL"):
        yield server.with_database(url, "postgres")
        return
    with EmbeddedServer(tmp_path_factory.mktemp("pg"), ephemeral=True) as embedded:
        yield embedded.url


async def _fresh_database(server_url: str, *, template: str | None = None) -> str:
    name = f"gx_test_{uuid.uuid4().hex[:12]}"
    await server.create_database(server_url, name, template=template)
    return name


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> AsyncIterator[str]:
    """A database migrated to head once per run by the real migrations; clone it, never write it."""
    await server.drop_database(server_url, TEMPLATE_DB)
    await server.create_database(server_url, TEMPLATE_DB)
    url = server.with_database(server_url, TEMPLATE_DB)
    await migrate.upgrade(url, role_key=ROLE_KEY)
    yield url
    await server.drop_database(server_url, TEMPLATE_DB)


@pytest.fixture(scope="session")
async def migrated_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """The run's shared database at head. Tests isolate themselves by tenant, not by database."""
    name = await _fresh_database(server_url, template=TEMPLATE_DB)
    yield server.with_database(server_url, name)
    await server.drop_database(server_url, name)


@pytest.fixture
async def empty_url(server_url: str) -> AsyncIterator[str]:
    """A new empty database, dropped after the test (migration and reset tests)."""
    name = await _fresh_database(server_url)
    yield server.with_database(server_url, name)
    await server.drop_database(server_url, name)


@pytest.fixture
async def scratch_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """A private database at head for tests that change schema-wide state."""
    name = await _fresh_database(server_url, template=TEMPLATE_DB)
    yield server.with_database(server_url, name)
    await server.drop_database(server_url, name)


@pytest.fixture(scope="session")
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(migrated_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
async def tenant(db: Database) -> str:
    """A registered tenant no other test uses, so tests never see each other's rows."""
    return await register_tenant(db, f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def pool(server_url: str) -> Iterator[PoolConfig]:
    """How the tests' Databases pool. With GX_TEST_POOLER=pgbouncer, their role connections go
    through a real PgBouncer in transaction mode (tests/test_pooler.py runs suites that way), and
    GX_TEST_POOLER_STATS names a file that receives what it carried."""
    if os.environ.get("GX_TEST_POOLER") != "pgbouncer":
        yield PoolConfig()
        return
    if reason := pgbouncer.missing_reason():
        pytest.fail(f"GX_TEST_POOLER=pgbouncer, but {reason}")
    users = {r: roles.role_password(ROLE_KEY, server_url, r) for r in roles.ROLES}
    with pgbouncer.PgBouncer(server_url, users=users) as bouncer:
        yield PoolConfig(pooler_url=bouncer.url)
        if report := os.environ.get("GX_TEST_POOLER_STATS"):
            Path(report).write_text(json.dumps(bouncer.stats()))


@pytest.fixture(scope="session")
async def db(migrated_url: str, pool: PoolConfig) -> AsyncIterator[Database]:
    """The application's view of the shared database: gx_app and gx_system engines."""
    database = Database.connect(migrated_url, role_key=ROLE_KEY, pool=pool)
    yield database
    await database.dispose()
