"""The `gx` command as a user meets it: clear one-line errors, meaningful exit codes, `gx up`."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from rich.console import Console

from gxcore.admin.parameters import DEFAULTS
from gxcore.cli_progress import progress
from gxcore.db import server
from gxcore.db.engine import libpq_url

GX = [sys.executable, "-m", "gxcore"]


def gx(*args: str, database_url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    if database_url:
        environ["DATABASE_URL"] = database_url
    environ.update(env)
    return subprocess.run(
        [*GX, *args], capture_output=True, text=True, env=environ, timeout=120, check=False
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_every_lazy_command_is_listed_with_its_own_help() -> None:
    from gxcore.cli import COMMANDS, DEV, JOBS

    for table in (COMMANDS, JOBS, DEV):
        for name, lazy in table.items():
            command = lazy.load(name)
            assert command.name == name
            assert lazy.help.split() == (command.help or "").split(), name


def test_help_and_db_commands_start_without_importing_the_features() -> None:
    listed = gx("--help", COLUMNS="200")
    assert listed.returncode == 0, listed
    for name in ("up", "api", "relay", "demo", "db", "tenant", "jobs", "trust"):
        assert f"│ {name} " in listed.stdout, name
    assert "Schema migrations and database maintenance." in listed.stdout
    # What `gx db status` imports: the db commands, not FastAPI, the ledger or a feature.
    probe = (
        "import sys; from gxcore.cli import app; import typer.main; "
        "typer.main.get_command(app).get_command(None, 'db'); "
        "print(sorted(m for m in sys.modules if m == 'fastapi' or m.startswith("
        "('gxcore.ledger', 'gxcore.wallet', 'gxcore.business', 'gxcore.admin'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]", proc.stdout


def test_unreachable_database_url_is_one_readable_line() -> None:
    proc = gx("db", "status", database_url="postgresql://gx:secret@127.0.0.1:1/gx")
    assert_one_line_error(proc, "cannot reach postgresql://gx:***@127.0.0.1:1/gx", "DATABASE_URL")


def test_wrong_password_is_one_readable_line(server_url: str) -> None:
    wrong = server_url.replace(server_url.split(":")[2].split("@")[0], "not-the-password")
    proc = gx("db", "migrate", database_url=wrong)
    assert_one_line_error(proc, "wrong user or password")


def test_a_url_that_is_not_postgresql_is_refused() -> None:
    assert_one_line_error(gx("db", "status", database_url="mysql://x@localhost/db"), "PostgreSQL")


def test_a_missing_database_is_named(server_url: str) -> None:
    proc = gx("db", "status", database_url=server.with_database(server_url, "no_such_db"))
    assert_one_line_error(proc, "database does not exist")


def test_status_check_and_lint_pass_on_a_migrated_database(migrated_url: str) -> None:
    for command in (["db", "status"], ["db", "check"], ["db", "lint"]):
        proc = gx(*command, database_url=migrated_url)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    assert "up to date" in gx("db", "status", database_url=migrated_url).stdout


def test_status_fails_while_migrations_are_pending(empty_url: str) -> None:
    assert_one_line_error(gx("db", "status", database_url=empty_url), "pending", "gx db migrate")
    assert gx("db", "migrate", database_url=empty_url).returncode == 0
    assert gx("db", "status", database_url=empty_url).returncode == 0


def test_migrate_refuses_a_database_from_a_newer_gxcore(scratch_url: str) -> None:
    async def stamp() -> None:
        async with server.connect(scratch_url) as conn:
            await conn.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")

    import asyncio

    asyncio.run(stamp())
    assert_one_line_error(gx("db", "migrate", database_url=scratch_url), "does not know")
    assert_one_line_error(gx("db", "status", database_url=scratch_url), "newer version")


async def _count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_tenants_exist_once_created_seeded_and_queued_for_bootstrap(
    scratch_url: str,
) -> None:
    assert_one_line_error(gx("db", "seed", database_url=scratch_url), "no tenant 'default'")
    assert_one_line_error(
        gx("db", "seed", "--tenant", "acme", database_url=scratch_url), "gx tenant create acme"
    )
    assert await _count(scratch_url, 'SELECT count(*) FROM "SystemParameter"') == 0
    proc = gx("admin", "grant", "--tenant", "acme", "--email", "a@example.com",
              database_url=scratch_url)  # fmt: skip
    assert_one_line_error(proc, "no tenant 'acme'")

    proc = gx("tenant", "create", "acme", "--name", "Acme Ltd", database_url=scratch_url)
    assert proc.returncode == 0, proc.stderr
    assert "tenant acme created" in proc.stdout
    assert_one_line_error(
        gx("tenant", "create", "acme", database_url=scratch_url), "already exists"
    )
    assert_one_line_error(gx("tenant", "create", "no way", database_url=scratch_url), "invalid")
    listed = gx("tenant", "list", database_url=scratch_url)
    assert listed.returncode == 0 and listed.stdout.split()[:3] == ["acme", "Acme", "Ltd"]

    sql = 'SELECT count(*) FROM "SystemParameter" WHERE "tenantId" = \'acme\''
    assert await _count(scratch_url, sql) == len(DEFAULTS)
    sql = (
        'SELECT count(*) FROM "OutboxCommand" WHERE "tenantId" = \'acme\' '
        "AND \"commandType\" = 'BOOTSTRAP_SYSTEM' AND \"requestId\" = 'bootstrap-system'"
    )
    assert await _count(scratch_url, sql) == 1
    assert await _count(scratch_url, 'SELECT count(*) FROM "OutboxCommand"') == 1
    proc = gx("db", "seed", "--tenant", "acme", database_url=scratch_url)
    assert proc.returncode == 0, proc.stderr
    assert "0 system parameters added for tenant 'acme'" in proc.stdout


async def test_reset_needs_force_and_spares_production(scratch_url: str) -> None:
    assert gx("tenant", "create", "default", database_url=scratch_url).returncode == 0
    assert gx("db", "seed", database_url=scratch_url).returncode == 0
    assert await _count(scratch_url, 'SELECT count(*) FROM "Country"') > 200

    assert_one_line_error(gx("db", "reset", database_url=scratch_url), "--force")
    assert_one_line_error(
        gx("db", "reset", "--force", database_url=scratch_url, GX_ENVIRONMENT="production"),
        "production",
    )
    name = server.database_name(scratch_url)
    async with server.connect(scratch_url) as conn:
        await conn.execute(f"ALTER DATABASE \"{name}\" SET gx.environment = 'production'")
    assert_one_line_error(gx("db", "reset", "--force", database_url=scratch_url), "production")
    assert await _count(scratch_url, 'SELECT count(*) FROM "Country"') > 200

    async with server.connect(scratch_url) as conn:
        await conn.execute(f'ALTER DATABASE "{name}" RESET gx.environment')
    proc = gx("db", "reset", "--force", database_url=scratch_url)
    assert proc.returncode == 0, proc.stderr
    assert await _count(scratch_url, 'SELECT count(*) FROM "Country"') == 0
    assert gx("db", "status", database_url=scratch_url).returncode == 0


def test_gx_up_serves_a_migrated_seeded_database_until_interrupted(tmp_path: Path) -> None:
    data_dir = tmp_path / "gxdata"
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    up = subprocess.Popen(
        [*GX, "up", "--only", "db", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    try:
        url = None
        assert up.stdout is not None
        for line in up.stdout:
            if line.startswith("postgresql://"):
                url = line.strip()
                break
        assert url, up.stderr.read() if up.stderr else ""

        import asyncio

        assert asyncio.run(_count(url, 'SELECT count(*) FROM "Country"')) == 249
        assert asyncio.run(_count(url, 'SELECT count(*) FROM "SystemParameter"')) > 0
        assert asyncio.run(_count(url, "SELECT count(*) FROM \"Tenant\" WHERE id = 'default'"))
        bootstrap = (
            'SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = \'BOOTSTRAP_SYSTEM\''
        )
        assert asyncio.run(_count(url, bootstrap)) == 1

        second = gx("up", "--data-dir", str(data_dir))  # the whole system, or not
        assert_one_line_error(second, "already running", str(data_dir))
        # Other commands use the running server instead of failing.
        status = gx("db", "status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stderr
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    assert up.returncode == 0, err
    assert "server stopped" in out
    with pytest.raises(OSError):
        asyncio.run(_count(url, "SELECT 1"))


def test_progress_is_periodic_plain_lines_off_a_terminal_and_a_bar_on_one() -> None:
    plain = io.StringIO()
    with progress("replay", unit="blocks", interval=0, console=Console(file=plain)) as shown:
        shown.update(1, total=4)
        shown.update(3, note="tenant acme")
    assert plain.getvalue().splitlines()[:2] == [
        "replay: 1/4 blocks (25%)",
        "replay: 3/4 blocks (75%), tenant acme",
    ]
    assert plain.getvalue().splitlines()[2].startswith("replay: done, 3/4 blocks (75%), tenant")

    quiet = io.StringIO()
    with progress("replay", unit="blocks", interval=3600, console=Console(file=quiet)) as shown:
        shown.update(2, total=2)
    assert quiet.getvalue().splitlines() == [quiet.getvalue().splitlines()[0]]
    assert quiet.getvalue().startswith("replay: done, 2/2 blocks (100%) in ")

    failed = io.StringIO()
    with (
        pytest.raises(RuntimeError),
        progress("replay", interval=0, console=Console(file=failed)) as shown,
    ):
        shown.update(1)
        raise RuntimeError("boom")
    assert "done" not in failed.getvalue()  # an error is the last word, not a progress line

    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100)
    with progress("replay", unit="blocks", interval=0, console=console) as shown:
        shown.update(1, total=4)
    # The bar draws and clears itself; no plain progress line, then the summary.
    assert "replay: 1/4 blocks" not in terminal.getvalue()
    assert "replay: done, 1/4 blocks (25%) in " in terminal.getvalue()


async def test_long_running_commands_show_progress_and_keep_their_results(
    scratch_url: str,
) -> None:
    every = {"GX_PROGRESS_INTERVAL": "0"}
    assert gx("tenant", "create", "acme", database_url=scratch_url).returncode == 0
    assert gx("relay", "--once", database_url=scratch_url).returncode == 0
    assert gx("projector", "run", "--once", database_url=scratch_url).returncode == 0

    rebuilt = gx("projector", "rebuild", database_url=scratch_url, **every)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "the rebuilt read models equal the live ones" in rebuilt.stdout
    assert "projector rebuild: 1/1 blocks (100%)" in rebuilt.stderr.splitlines()
    assert "projector rebuild: done, 1/1 blocks (100%) in " in rebuilt.stderr

    trust = gx("trust", "rebuild", database_url=scratch_url, **every)
    assert trust.returncode == 0, trust.stderr
    assert "checked trust scores of 1 tenant(s): all equal the rule" in trust.stdout
    assert "trust rebuild: 1/1 tenants (100%), tenant acme" in trust.stderr.splitlines()

    cleaned = gx("jobs", "cleanup", database_url=scratch_url, **every)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "deleted 0 expired registration(s)" in cleaned.stdout
    assert "cleanup: 0 rows, expired registration(s)" in cleaned.stderr.splitlines()
    assert "cleanup: done, 0 rows" in cleaned.stderr

    taxed = gx("jobs", "velocity-tax", database_url=scratch_url)  # default interval: one line
    assert taxed.returncode == 0, taxed.stderr
    assert "velocity tax" in taxed.stdout and "acme" in taxed.stdout
    progress_lines = [line for line in taxed.stderr.splitlines() if "velocity tax" in line]
    assert len(progress_lines) == 1 and ": done, " in progress_lines[0]
