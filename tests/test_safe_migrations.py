"""Safe migrations: the lint rules, Exercise 2's expand / backfill / contract under a live writer,
the resumable backfill, and removing an enum value."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from gxcore.db import backfill, lint_rules, migrate
from gxcore.db.engine import libpq_url
from gxcore.db.enum_evolution import EnumColumn, remove_value_statements
from gxcore.db.tenancy import Database
from gxcore.errors import MigrationError
from gxcore.identity.backfills import NATIONAL_ID
from gxcore.identity.models import national_id_placeholder
from tests.conftest import ROLE_KEY

EXPAND, CONTRACT, ENUM = "53f000e2d96b", "6972afdaa927", "6def41e919af"
LOCK_TIMEOUT_S = 5.0  # what the revisions set
INDEX = "UserProfile_tenantId_nationalIdNumber_key"

# --------------------------------------------------------------------------------------------
# The lint rules, on scratch revisions placed after head
# --------------------------------------------------------------------------------------------

REVISION = '''"""scratch"""
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None
SQUAWK_IGNORE = {waivers}


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''
TIMEOUT = "op.execute(\"SET lock_timeout = '5s'\")\n"


def _lint_scratch(tmp_path: Path, body: str, waivers: str = "{}") -> migrate.LintResult:
    rev = uuid.uuid4().hex[:12]
    indented = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
    (tmp_path / f"{rev}_scratch.py").write_text(
        REVISION.format(rev=rev, down=migrate.head(), waivers=waivers, body=indented)
    )
    return migrate.lint([tmp_path], revisions={rev})


def test_lint_refuses_a_not_null_column_without_default(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'ALTER TABLE "UserProfile" ADD COLUMN "nickname" text NOT NULL\')',
    )
    assert not result.ok and "adding-required-field" in result.report, result.report


def test_lint_allows_a_nullable_column_or_one_with_a_default(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "a" text\')\n'
        'op.execute(\'ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "b" boolean '
        "NOT NULL DEFAULT false')",
    )
    assert result.ok, result.report


def test_lint_refuses_a_plain_create_index_on_an_existing_table(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT
        + 'op.execute(\'CREATE INDEX IF NOT EXISTS "x_idx" ON "UserProfile" ("jobTitle")\')',
    )
    assert not result.ok and "require-concurrent-index-creation" in result.report, result.report


def test_lint_refuses_create_index_concurrently_outside_the_autocommit_block(
    tmp_path: Path,
) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'CREATE INDEX CONCURRENTLY IF NOT EXISTS "x_idx" '
        'ON "UserProfile" ("jobTitle")\')',
    )
    assert not result.ok, result.report
    assert "ban-concurrent-index-creation-in-transaction" in result.report, result.report


def test_lint_accepts_create_index_concurrently_in_the_autocommit_block(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + "with op.get_context().autocommit_block():\n"
        '    op.execute(\'CREATE INDEX CONCURRENTLY IF NOT EXISTS "x_idx" '
        'ON "UserProfile" ("jobTitle")\')',
    )
    assert result.ok, result.report


def test_lint_refuses_a_revision_without_lock_timeout(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path, 'op.execute(\'ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "a" text\')'
    )
    assert not result.ok and "gx-lock-timeout" in result.report, result.report


def test_a_waiver_in_the_revision_lets_a_rule_pass_and_only_that_one(tmp_path: Path) -> None:
    body = 'op.execute(\'ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "a" text\')'
    waived = _lint_scratch(tmp_path, body, waivers='{"gx-lock-timeout": "scratch"}')
    assert waived.ok, waived.report


def test_lint_refuses_set_not_null_without_the_validated_check(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'ALTER TABLE "UserProfile" ALTER COLUMN "jobTitle" SET NOT NULL\')',
    )
    assert not result.ok and "adding-not-nullable-field" in result.report, result.report


def test_lint_refuses_validating_in_the_transaction_that_added_the_check(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'ALTER TABLE "UserProfile" ADD CONSTRAINT "c" '
        'CHECK ("jobTitle" IS NOT NULL) NOT VALID\')\n'
        'op.execute(\'ALTER TABLE "UserProfile" VALIDATE CONSTRAINT "c"\')\n'
        'op.execute(\'ALTER TABLE "UserProfile" ALTER COLUMN "jobTitle" SET NOT NULL\')',
    )
    assert not result.ok and "constraint-missing-not-valid" in result.report, result.report


def test_lint_accepts_the_two_step_not_null(tmp_path: Path) -> None:
    result = _lint_scratch(
        tmp_path,
        TIMEOUT + 'op.execute(\'ALTER TABLE "UserProfile" ADD CONSTRAINT "c" '
        'CHECK ("jobTitle" IS NOT NULL) NOT VALID\')\n'
        "with op.get_context().autocommit_block():\n"
        '    op.execute(\'ALTER TABLE "UserProfile" VALIDATE CONSTRAINT "c"\')\n'
        'op.execute(\'ALTER TABLE "UserProfile" ALTER COLUMN "jobTitle" SET NOT NULL\')',
        waivers='{"prefer-robust-stmts": "scratch: not meant to be rerun"}',
    )
    assert result.ok, result.report


def test_a_revision_made_from_the_template_sets_lock_timeout_and_lints_clean(
    tmp_path: Path,
) -> None:
    cfg = migrate.alembic_config([tmp_path])
    script = command.revision(cfg, message="scratch from template", version_path=str(tmp_path))
    assert script is not None and not isinstance(script, list)
    source = Path(script.path).read_text()
    assert source.count("op.execute(LOCK_TIMEOUT)") == 2
    result = migrate.lint([tmp_path], revisions={script.revision})
    assert result.ok, result.report


@pytest.mark.parametrize(
    ("sql", "ok"),
    [
        ("SET lock_timeout = '5s';\n\nALTER TABLE t ADD COLUMN a text;\n\n", True),
        ("SET lock_timeout = 0;\n\nALTER TABLE t ADD COLUMN a text;\n\n", False),
        ("SET lock_timeout = '1min';\n\nALTER TABLE t ADD COLUMN a text;\n\n", False),
        ("SET lock_timeout = '5s';\n\nRESET ALL;\n\nDROP INDEX i;\n\n", False),
        # SET LOCAL ends with its transaction: the autocommit block that follows has none.
        (
            (
                "BEGIN;\n\nSET LOCAL lock_timeout = '5s';\n\nCOMMIT;\n\n"
                "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
            ),
            False,
        ),
        # A session SET outlives the COMMIT.
        (
            (
                "BEGIN;\n\nSET lock_timeout = '2s';\n\nCOMMIT;\n\n"
                "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
            ),
            True,
        ),
    ],
)
def test_lock_timeout_must_be_short_and_in_force_at_each_locking_statement(
    sql: str, ok: bool
) -> None:
    assert (lint_rules.check(sql) == []) is ok


# --------------------------------------------------------------------------------------------
# Exercise 2 on a database full of rows, with a writer writing throughout
# --------------------------------------------------------------------------------------------

PROFILES = 20_000
WITH_KYC = 200


def _before_expand() -> str:
    down = migrate.script_directory().get_revision(EXPAND).down_revision
    assert isinstance(down, str)
    return down


async def _fill(conn: asyncpg.Connection, tenant: str, rows: int) -> None:
    """`rows` profiles without a national id; the first WITH_KYC with an approved national id
    document, whose number the backfill must copy."""
    await conn.execute(
        """
        INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName",
            "biometricHash", "passwordHash", "updatedAt")
        SELECT $1 || '-p' || i, $1, 'A', 'B', $1 || '-bio' || i, 'x', now()
        FROM generate_series(1, $2) AS i
        """,
        tenant,
        rows,
    )
    await conn.execute(
        """
        INSERT INTO "KYCVerification" ("kycId", "tenantId", "profileId", status, "verifiedAt",
            "updatedAt")
        SELECT $1 || '-k' || i, $1, $1 || '-p' || i, 'APPROVED', now(), now()
        FROM generate_series(1, $2) AS i
        """,
        tenant,
        min(rows, WITH_KYC),
    )
    await conn.execute(
        """
        INSERT INTO "KYCDocument" ("documentId", "tenantId", "kycId", "documentType",
            "documentNumber", "issuingCountry", "storageUrl", "fileHash", "fileSize", "mimeType")
        SELECT $1 || '-d' || i, $1, $1 || '-k' || i, 'NATIONAL_ID', 'NIN' || lpad(i::text, 8, '0'),
            NULL, 's3://x', 'h' || i, 1, 'image/png'
        FROM generate_series(1, $2) AS i
        """,
        tenant,
        min(rows, WITH_KYC),
    )


@dataclass
class Writer:
    """The application, inserting and updating profiles, timing every statement."""

    url: str
    tenant: str
    writes: int = 0
    errors: list[str] = field(default_factory=list)
    slowest: float = 0.0
    phase: str = ""
    slowest_in: str = ""
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    await self._write(conn)
                    self.writes += 1
                except asyncpg.PostgresError as e:
                    self.errors.append(f"{type(e).__name__}: {e}")
                took = time.monotonic() - started
                if took > self.slowest:
                    self.slowest, self.slowest_in = took, self.phase
                await asyncio.sleep(0.002)
        finally:
            await conn.close()

    async def _write(self, conn: asyncpg.Connection) -> None:
        pid = f"{self.tenant}-w{uuid.uuid4().hex}"
        async with conn.transaction():
            # New code writes the column on every new profile (the placeholder until KYC).
            await conn.execute(
                'INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", '
                '"biometricHash", "passwordHash", "nationalIdNumber", "updatedAt") '
                "VALUES ($1, $2, 'W', 'W', $1, 'x', $3, now())",
                pid,
                self.tenant,
                national_id_placeholder(pid),
            )
            # ... and edits existing ones, holding the row lock a moment.
            await conn.execute(
                'UPDATE "UserProfile" SET "jobTitle" = $1, "updatedAt" = now() '
                'WHERE "profileId" = $2',
                pid[-6:],
                f"{self.tenant}-p{random.randint(1, PROFILES)}",
            )
            await asyncio.sleep(0.003)


@pytest.fixture
async def before_expand(scratch_url: str) -> AsyncIterator[str]:
    """A copy of head, migrated down to just before the expand revision."""
    await migrate.downgrade(scratch_url, _before_expand())
    yield scratch_url


@pytest.fixture
async def scratch_db(before_expand: str) -> AsyncIterator[Database]:
    database = Database.connect(before_expand, role_key=ROLE_KEY)
    yield database
    await database.dispose()


async def _column_state(conn: asyncpg.Connection) -> tuple[bool, bool | None]:
    """(nationalIdNumber is nullable, the tenant-scoped unique index is valid / absent)."""
    nullable = await conn.fetchval(
        "SELECT is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_name = 'UserProfile' AND column_name = 'nationalIdNumber'"
    )
    valid = await conn.fetchval(
        "SELECT i.indisvalid AND i.indisunique FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
        INDEX,
    )
    return nullable, valid


async def test_expand_backfill_contract_under_a_live_writer_and_back(
    before_expand: str, scratch_db: Database
) -> None:
    url = libpq_url(before_expand)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        await _fill(conn, tenant, PROFILES)
        assert await _column_state(conn) == (True, None)
        writer = Writer(url, tenant)
        task = asyncio.create_task(writer.run())
        try:
            writer.phase = "expand"
            await migrate.upgrade(before_expand, EXPAND, role_key=ROLE_KEY)
            assert await _column_state(conn) == (True, True)

            writer.phase = "backfill"
            outcome = await backfill.run(scratch_db, NATIONAL_ID, batch_size=2_000)
            assert outcome.finished and outcome.filled >= PROFILES

            writer.phase = "contract"
            await migrate.upgrade(before_expand, CONTRACT, role_key=ROLE_KEY)
            assert await _column_state(conn) == (False, True)
            writer.phase = "enum"
            await migrate.upgrade(before_expand, "head", role_key=ROLE_KEY)

            writer.phase = "downgrade"
            await migrate.downgrade(before_expand, _before_expand())
            assert await _column_state(conn) == (True, None)
            writer.phase = "upgrade again"
            await migrate.upgrade(before_expand, "head", role_key=ROLE_KEY)
            assert await _column_state(conn) == (False, True)
        finally:
            writer.stop.set()
            await task
        assert writer.writes > 50, "the writer hardly ran"
        assert writer.errors == [], writer.errors[:5]
        assert writer.slowest < LOCK_TIMEOUT_S, (
            f"a write waited {writer.slowest:.2f}s during {writer.slowest_in}"
        )

        copied = await conn.fetchval(
            'SELECT count(*) FROM "UserProfile" p JOIN "KYCVerification" v USING ("profileId") '
            'JOIN "KYCDocument" d USING ("kycId") '
            'WHERE p."tenantId" = $1 AND p."nationalIdNumber" = d."documentNumber"',
            tenant,
        )
        assert copied == WITH_KYC
        placeholders = await conn.fetchval(
            'SELECT count(*) FROM "UserProfile" WHERE "tenantId" = $1 '
            'AND "nationalIdNumber" = \'unverified:\' || "profileId"',
            tenant,
        )
        assert placeholders == PROFILES - WITH_KYC + writer.writes
        assert await migrate.drift(before_expand) == []
    finally:
        await conn.close()


async def test_contract_refuses_while_rows_are_unfilled_and_changes_nothing(
    before_expand: str,
) -> None:
    conn = await asyncpg.connect(libpq_url(before_expand))
    try:
        await _fill(conn, f"t{uuid.uuid4().hex[:8]}", 50)
        await migrate.upgrade(before_expand, EXPAND, role_key=ROLE_KEY)
        with pytest.raises(Exception, match="gx db backfill national-id|without nationalIdNumber"):
            await migrate.upgrade(before_expand, CONTRACT, role_key=ROLE_KEY)
        assert await _column_state(conn) == (True, True)
        assert (await migrate.status(before_expand)).current == (EXPAND,)
    finally:
        await conn.close()


async def test_the_national_id_is_unique_per_tenant_not_across_tenants(scratch_url: str) -> None:
    conn = await asyncpg.connect(libpq_url(scratch_url))
    insert = (
        'INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", '
        '"biometricHash", "passwordHash", "nationalIdNumber", "updatedAt") '
        "VALUES ($1, $2, 'A', 'B', $1, 'x', $3, now())"
    )
    try:
        await conn.execute(insert, "pa", "tenant-a", "12345678901")
        # Another operator's user may hold the same number: a global unique would refuse it.
        await conn.execute(insert, "pb", "tenant-b", "12345678901")
        with pytest.raises(asyncpg.UniqueViolationError, match=INDEX):
            await conn.execute(insert, "pc", "tenant-a", "12345678901")
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(insert, "pd", "tenant-a", None)
    finally:
        await conn.close()


async def test_backfill_stopped_midway_resumes_and_fills_every_row(
    before_expand: str, scratch_db: Database
) -> None:
    conn = await asyncpg.connect(libpq_url(before_expand))
    try:
        await _fill(conn, f"t{uuid.uuid4().hex[:8]}", 5_000)
        await migrate.upgrade(before_expand, EXPAND, role_key=ROLE_KEY)

        heard: list[int] = []
        first = await backfill.run(
            scratch_db, NATIONAL_ID, batch_size=1_000, max_batches=2, on_batch=heard.append
        )
        assert (first.batches, first.filled, first.remaining) == (2, 2_000, 3_000)
        assert heard == [1_000, 1_000] and not first.finished

        second = await backfill.run(scratch_db, NATIONAL_ID, batch_size=1_000)
        assert second.finished and second.filled == 3_000
        assert (
            await conn.fetchval(
                'SELECT count(*) FROM "UserProfile" WHERE "nationalIdNumber" IS NULL'
            )
            == 0
        )

        again = await backfill.run(scratch_db, NATIONAL_ID, batch_size=1_000)
        assert again.filled == 0 and again.finished
    finally:
        await conn.close()


async def test_backfill_skips_rows_a_writer_holds_and_fills_them_on_the_next_pass(
    before_expand: str, scratch_db: Database
) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(libpq_url(before_expand))
    holder = await asyncpg.connect(libpq_url(before_expand))
    try:
        await _fill(conn, tenant, 300)
        await migrate.upgrade(before_expand, EXPAND, role_key=ROLE_KEY)
        held = holder.transaction()
        await held.start()
        await holder.execute(
            'SELECT 1 FROM "UserProfile" WHERE "profileId" = $1 FOR UPDATE', f"{tenant}-p7"
        )
        started = time.monotonic()
        blocked = await backfill.run(scratch_db, NATIONAL_ID, batch_size=100)
        assert time.monotonic() - started < LOCK_TIMEOUT_S, "the backfill waited for the lock"
        assert (blocked.filled, blocked.remaining) == (299, 1)
        await held.rollback()
        done = await backfill.run(scratch_db, NATIONAL_ID, batch_size=100)
        assert done.finished and done.filled == 1
    finally:
        await holder.close()
        await conn.close()


def test_an_unknown_backfill_is_named_in_the_error() -> None:
    with pytest.raises(MigrationError, match="no backfill named 'nope'"):
        backfill.get("nope")


# --------------------------------------------------------------------------------------------
# Enum evolution
# --------------------------------------------------------------------------------------------


async def test_removing_an_enum_value_moves_rows_and_keeps_the_rest(scratch_url: str) -> None:
    conn = await asyncpg.connect(libpq_url(scratch_url))
    try:
        await conn.execute(
            """
            CREATE TYPE "Colour" AS ENUM ('RED', 'GREEN', 'BLUE');
            CREATE TABLE "Paint" (id int PRIMARY KEY, colour "Colour" NOT NULL DEFAULT 'GREEN');
            CREATE INDEX "Paint_colour_idx" ON "Paint" (colour);
            INSERT INTO "Paint" VALUES (1, 'RED'), (2, 'GREEN'), (3, 'BLUE');
            """
        )
        column = EnumColumn("Paint", "colour", default="GREEN")
        refuse = remove_value_statements("Colour", "BLUE", keep=("RED", "GREEN"), columns=[column])
        with pytest.raises(asyncpg.RaiseError, match="still holds BLUE"):
            async with conn.transaction():
                for statement in refuse:
                    await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM \"Paint\" WHERE colour = 'BLUE'") == 1

        move = remove_value_statements(
            "Colour", "BLUE", keep=("RED", "GREEN"), columns=[column], replace_with="GREEN"
        )
        async with conn.transaction():
            for statement in move:
                await conn.execute(statement)
        labels = await conn.fetchval('SELECT enum_range(NULL::"Colour")::text[]')
        assert labels == ["RED", "GREEN"]
        rows = await conn.fetch('SELECT id, colour::text FROM "Paint" ORDER BY id')
        assert [tuple(r) for r in rows] == [(1, "RED"), (2, "GREEN"), (3, "GREEN")]
        await conn.execute('INSERT INTO "Paint" (id) VALUES (4)')
        assert await conn.fetchval('SELECT colour::text FROM "Paint" WHERE id = 4') == "GREEN"
        assert await conn.fetchval("SELECT to_regtype('\"Colour_old\"')") is None
        assert await conn.fetchval("SELECT to_regclass('\"Paint_colour_idx\"')") is not None
    finally:
        await conn.close()


async def test_downgrading_the_new_document_type_refuses_while_a_document_uses_it(
    scratch_url: str,
) -> None:
    conn = await asyncpg.connect(libpq_url(scratch_url))
    try:
        await conn.execute(
            """
            INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName",
                "biometricHash", "passwordHash", "nationalIdNumber", "updatedAt")
            VALUES ('p1', 't1', 'A', 'B', 'b1', 'x', 'unverified:p1', now());
            INSERT INTO "KYCVerification" ("kycId", "tenantId", "profileId", status, "updatedAt")
            VALUES ('k1', 't1', 'p1', 'PENDING', now());
            INSERT INTO "KYCDocument" ("documentId", "tenantId", "kycId", "documentType",
                "storageUrl", "fileHash", "fileSize", "mimeType")
            VALUES ('d1', 't1', 'k1', 'RESIDENCE_PERMIT', 's3://x', 'h', 1, 'image/png');
            """
        )
        down = migrate.script_directory().get_revision(ENUM).down_revision
        assert isinstance(down, str)
        with pytest.raises(Exception, match="still holds RESIDENCE_PERMIT"):
            await migrate.downgrade(scratch_url, down)
        assert ENUM in (await migrate.status(scratch_url)).current or (
            await migrate.status(scratch_url)
        ).current == (migrate.head(),)

        await conn.execute('UPDATE "KYCDocument" SET "documentType" = \'OTHER\'')
        await migrate.downgrade(scratch_url, down)
        labels = await conn.fetchval('SELECT enum_range(NULL::"DocumentType")::text[]')
        assert "RESIDENCE_PERMIT" not in labels and labels[-1] == "OTHER"
        await migrate.upgrade(scratch_url, "head", role_key=ROLE_KEY)
        labels = await conn.fetchval('SELECT enum_range(NULL::"DocumentType")::text[]')
        assert labels[-1] == "RESIDENCE_PERMIT"
    finally:
        await conn.close()


async def test_gx_db_backfill_lists_runs_in_slices_and_says_what_remains(
    before_expand: str,
) -> None:
    from tests.test_cli import gx

    conn = await asyncpg.connect(libpq_url(before_expand))
    try:
        await _fill(conn, f"t{uuid.uuid4().hex[:8]}", 250)
        await migrate.upgrade(before_expand, EXPAND, role_key=ROLE_KEY)
    finally:
        await conn.close()
    listed = gx("db", "backfill", database_url=before_expand)
    assert listed.returncode == 0 and "national-id" in listed.stdout, listed
    unknown = gx("db", "backfill", "nope", database_url=before_expand)
    assert unknown.returncode == 2 and "no backfill named 'nope'" in unknown.stderr, unknown
    sliced = gx(
        "db", "backfill", "national-id", "--batch-size", "100", "--max-batches", "1",
        database_url=before_expand,
    )  # fmt: skip
    assert sliced.returncode == 1 and "150 rows still to fill" in sliced.stderr, sliced
    assert "100 rows filled in 1 batches" in sliced.stdout, sliced.stdout
    done = gx("db", "backfill", "national-id", database_url=before_expand)
    assert done.returncode == 0 and "150 rows filled" in done.stdout, done
    assert "0 remaining" in done.stdout


def test_gx_db_downgrade_asks_for_yes_then_rolls_back(scratch_url: str) -> None:
    from tests.test_cli import assert_one_line_error, gx

    target = _before_expand()
    assert_one_line_error(gx("db", "downgrade", target, database_url=scratch_url), "--yes")
    done = gx("db", "downgrade", target, "--yes", database_url=scratch_url)
    assert done.returncode == 0 and f"-> {target}" in done.stdout, done
    assert gx("db", "status", database_url=scratch_url).returncode == 1  # pending again
    assert gx("db", "migrate", database_url=scratch_url).returncode == 0
