"""`gx db ...`: migrate, downgrade, status, new, check, lint, backfill, reset, seed.

Exit codes: 0 success; 1 failure or, for `status`/`check`/`lint`, a finding (pending revisions,
drift, lint violations); 2 bad usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.config import Settings
from gxcore.db import migrate, seeding, server
from gxcore.db.embedded import EmbeddedServer
from gxcore.db.engine import create_engine
from gxcore.db.roles import role_key
from gxcore.errors import (
    ConfirmationRequired,
    GxError,
    ProductionGuard,
    ServerAlreadyRunning,
    UnknownRevision,
)

app = typer.Typer(help="Schema migrations and database maintenance.", no_args_is_help=True)


@asynccontextmanager
async def open_database(cfg: Settings, *, create: bool = True) -> AsyncIterator[str]:
    """URL of the application database.

    DATABASE_URL when set; otherwise the embedded server: the one `gx up` is running, or one
    started for the duration of this command.
    """
    if cfg.database_url:
        await server.check(cfg.database_url)
        yield cfg.database_url
        return
    embedded = EmbeddedServer(cfg.data_dir)
    try:
        embedded.start()
        owned = True
    except ServerAlreadyRunning:
        embedded = EmbeddedServer.running(cfg.data_dir)
        owned = False
    try:
        yield await ensure_database(embedded, cfg.database_name, create=create)
    finally:
        if owned:
            embedded.stop()


async def ensure_database(embedded: EmbeddedServer, name: str, *, create: bool = True) -> str:
    if create and not await server.database_exists(embedded.url, name):
        await server.create_database(embedded.url, name)
    return embedded.url_for(name)


async def upgrade_checked(url: str, *, role_key: bytes) -> migrate.Status:
    """Apply pending revisions, refusing a database migrated by a newer gxcore."""
    before = await migrate.status(url)
    if before.unknown:
        raise UnknownRevision(
            f"the database is at revision {', '.join(before.unknown)}, which this gxcore does not "
            "know (a newer version migrated it); upgrade gxcore, or point DATABASE_URL elsewhere"
        )
    await migrate.upgrade(url, role_key=role_key)
    return before


async def seed_database(url: str, tenant: str) -> None:
    """Run the features' seed steps (gxcore.db.seeding) as the owner, in one transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            lines = await seeding.run(AsyncSession(bind=conn), tenant)
    finally:
        await engine.dispose()
    console.print("; ".join(lines))


async def prepare(cfg: Settings, embedded: EmbeddedServer | None) -> str:
    """`gx up`'s database work once the server runs: database and migrations. Returns the URL."""
    if embedded is None:
        assert cfg.database_url
        await server.check(cfg.database_url)
        url = cfg.database_url
    else:
        url = await ensure_database(embedded, cfg.database_name)
    before = await upgrade_checked(url, role_key=role_key(cfg))
    _report_upgrade(before)
    return url


def _report_upgrade(before: migrate.Status) -> None:
    if before.pending:
        console.print(
            f"migrated {before.current[0] if before.current else 'empty'} -> {before.head}"
        )
    else:
        console.print(f"schema up to date at {before.head}")


@app.command("migrate")
def migrate_cmd(data_dir: DataDir = None) -> None:
    """Apply pending migrations (like `prisma migrate deploy`)."""

    async def go() -> None:
        cfg = settings(data_dir)
        async with open_database(cfg) as url:
            _report_upgrade(await upgrade_checked(url, role_key=role_key(cfg)))

    run(go())


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to (or -1, base).")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Really run the revisions' downgrade steps.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Roll the schema back to REVISION (docs/migrations.md: roll back the code first)."""

    async def go() -> tuple[migrate.Status, migrate.Status]:
        if not yes:
            raise ConfirmationRequired(
                f"downgrading to {revision} runs each later revision's down step, which may drop "
                "columns and tables; run again with --yes"
            )
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            before = await migrate.status(url)
            await migrate.downgrade(url, revision)
            return before, await migrate.status(url)

    before, after = run(go())
    console.print(
        f"downgraded {', '.join(before.current) or 'empty'} -> {', '.join(after.current) or 'base'}"
    )


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show the database's revision against the code's head; exit 1 unless they match."""

    async def go() -> migrate.Status:
        async with open_database(settings(data_dir)) as url:
            return await migrate.status(url)

    st = run(go())
    current = ", ".join(st.current) or "empty (no revision applied)"
    console.print(f"database: {current}\nhead:     {st.head}")
    if st.unknown:
        raise fail(
            f"the database has revision(s) {', '.join(st.unknown)} this gxcore does not know; "
            "it was migrated by a newer version"
        )
    if st.pending:
        raise fail("migrations are pending; run `gx db migrate`")
    console.print("[green]up to date[/]")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Short description, used as the file's slug.")],
    data_dir: DataDir = None,
) -> None:
    """Autogenerate a revision from model changes (enum value changes included)."""

    async def go() -> None:
        async with open_database(settings(data_dir)) as url:
            st = await migrate.status(url)
            if st.pending or st.unknown:
                raise fail("bring the database to head first (`gx db migrate`)")
            path = await migrate.new_revision(url, name)
        console.print(f"wrote {path}\nreview it before committing: autogenerate is a draft")

    run(go())


@app.command()
def check(data_dir: DataDir = None) -> None:
    """Compare the models with the migrated database; exit 1 on any drift."""

    async def go() -> list[object]:
        async with open_database(settings(data_dir)) as url:
            st = await migrate.status(url)
            if not st.up_to_date:
                raise fail("the database is not at head; run `gx db migrate` first")
            return await migrate.drift(url)

    diffs = run(go())
    if diffs:
        for diff in diffs:
            console.print(f"  {diff}", soft_wrap=True)
        raise fail(f"{len(diffs)} difference(s) between the models and the database")
    console.print("[green]no drift[/]: the models match the migrated database")


@app.command()
def lint() -> None:
    """Lint each revision's offline SQL (squawk and gxcore's rules); exit 1 on a violation."""
    try:
        result = migrate.lint()
    except GxError as e:
        raise fail(str(e)) from None
    if result.report:
        console.print(result.report, soft_wrap=True)
    if not result.ok:
        raise fail("the migrations break the lint rules (docs/migrations.md)")
    console.print("[green]migrations lint clean[/]")


@app.command()
def backfill(
    name: Annotated[
        str | None, typer.Argument(help="The job to run; leave out to list the jobs.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per batch (transaction).")] = 1000,
    max_batches: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many batches; run again to resume.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Fill a column in short batches between a migration's expand and contract steps.

    Resumable: a stopped run started again carries on where it stopped. Exit 1 if rows remain.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from gxcore.db import backfill as jobs
    from gxcore.db.tenancy import Database

    if name is None:
        for job in jobs.jobs():
            console.print(f"[bold]{job.name}[/]  {job.description}")
        return
    try:
        job = jobs.get(name)
    except GxError as e:
        raise fail(str(e), code=2) from None

    async def go() -> jobs.Outcome:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            database = Database.for_settings(url, cfg)
            try:
                total = await jobs.remaining(database, job)
                with Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=console,
                ) as bar:
                    task = bar.add_task(f"backfill {job.name}", total=total)
                    return await jobs.run(
                        database,
                        job,
                        batch_size=batch_size,
                        max_batches=max_batches,
                        on_batch=lambda n: bar.advance(task, n),
                    )
            finally:
                await database.dispose()

    outcome = run(go())
    console.print(
        f"{job.name}: {outcome.filled} rows filled in {outcome.batches} batches, "
        f"{outcome.remaining} remaining"
    )
    if not outcome.finished:
        raise fail(f"{outcome.remaining} rows still to fill: run `gx db backfill {job.name}` again")


@app.command()
def reset(
    force: Annotated[
        bool, typer.Option("--force", help="Really drop every table and row.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Drop the database and recreate it at head (development only)."""
    cfg = settings(data_dir)

    async def go() -> None:
        if not force:
            raise ConfirmationRequired("reset destroys every row; run again with --force")
        if cfg.is_production:
            raise ProductionGuard("GX_ENVIRONMENT is production; refusing to reset")
        async with open_database(cfg) as url:
            if await server.is_marked_production(url):
                raise ProductionGuard(
                    f"{server.redacted(url)} is marked gx.environment=production; refusing to reset"
                )
            name = server.database_name(url)
            admin_url = server.with_database(url, "postgres")
            await server.drop_database(admin_url, name)
            await server.create_database(admin_url, name)
            await migrate.upgrade(url, role_key=role_key(cfg))
        console.print(f"database {name!r} recreated at {migrate.head()}")

    run(go())


@app.command()
def seed(
    tenant: Annotated[
        str, typer.Option(help="Tenant whose system parameters to seed.")
    ] = "default",
    data_dir: DataDir = None,
) -> None:
    """Load countries and default system parameters (idempotent); the tenant must exist."""

    async def go() -> None:
        async with open_database(settings(data_dir)) as url:
            st = await migrate.status(url)
            if not st.up_to_date:
                raise fail("the database is not at head; run `gx db migrate` first")
            await seed_database(url, tenant)

    run(go())
