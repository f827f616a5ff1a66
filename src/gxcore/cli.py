"""The `gx` command. Each feature contributes a Typer sub-app; this module assembles them and
owns the single place where errors become one readable line and an exit code."""

from __future__ import annotations

import signal
import time
from typing import Annotated

import typer

from gxcore.cli_common import STOP_SIGNALS, DataDir, console, fail, run, settings
from gxcore.errors import GxError

app = typer.Typer(
    name="gx",
    help="gxcore: the GX Coin Protocol data layer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def up(data_dir: DataDir = None, tenant: str = "default") -> None:
    """Start the database (embedded unless DATABASE_URL is set), migrate it, create the tenant
    (unless it exists) and seed it, stay up."""
    from gxcore.admin.cli import ensure
    from gxcore.db.cli import prepare, seed_database
    from gxcore.db.embedded import EmbeddedServer
    from gxcore.db.roles import role_key

    cfg = settings(data_dir)
    started = time.perf_counter()
    server = None
    if not cfg.database_url:
        server = EmbeddedServer(cfg.data_dir)
        try:
            server.start()
        except GxError as e:
            raise fail(str(e)) from None

    async def ready() -> str:
        url = await prepare(cfg, server)
        if await ensure(url, tenant, key=role_key(cfg)):
            console.print(f"tenant {tenant} created; `gx relay` bootstraps it on the ledger")
        await seed_database(url, tenant)
        return url

    try:
        url = run(ready())
        console.print(f"[green]ready[/] in {time.perf_counter() - started:.1f}s")
        console.print(url, soft_wrap=True)
        if server is None:
            return
        console.print("[dim]Ctrl-C stops the server.[/]")
        _wait_for_signal()
    finally:
        if server is not None:
            server.stop()
            console.print("server stopped")


def _wait_for_signal() -> None:
    stop = False

    def handle(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    for sig in STOP_SIGNALS:
        signal.signal(sig, handle)
    while not stop:
        signal.pause()


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (uvicorn) on the database of DATABASE_URL or the embedded server."""
    import uvicorn

    from gxcore.app import create_served_app
    from gxcore.db import migrate, server
    from gxcore.identity.otp import otp_key
    from gxcore.identity.tokens import jwt_key
    from gxcore.notifications.senders import default_senders

    cfg = settings(data_dir)

    async def preflight() -> None:
        # What can be checked cheaply is checked here, to fail in one line rather than in a
        # uvicorn traceback; the embedded server is only started once, by the app's lifespan.
        cfg.require_production_settings()
        otp_key(cfg)
        jwt_key(cfg)
        default_senders(cfg)
        if cfg.database_url:
            await server.check(cfg.database_url)
            if not (await migrate.status(cfg.database_url)).up_to_date:
                raise fail("the database is not at head; run `gx db migrate`")

    run(preflight())
    uvicorn.run(create_served_app(cfg), host=host, port=port, log_level="info")


dev_app = typer.Typer(help="Development helpers.", no_args_is_help=True)
jobs_app = typer.Typer(help="Maintenance jobs, across every tenant.", no_args_is_help=True)


def cleanup_command(
    batch: Annotated[int, typer.Option(help="Rows deleted per transaction.")] = 1000,
    data_dir: DataDir = None,
) -> None:
    """Delete expired pending registrations, idempotency keys and notifications, in every
    tenant."""
    from datetime import UTC, datetime

    from gxcore.db.cli import open_database
    from gxcore.db.roles import role_key
    from gxcore.db.tenancy import Database
    from gxcore.scheduler import cleanup

    async def go() -> dict[str, int]:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            database = Database.connect(url, role_key=role_key(cfg))
            try:
                return await cleanup(database, datetime.now(UTC), batch=batch)
            finally:
                await database.dispose()

    for what, count in run(go()).items():
        console.print(f"deleted {count} {what}")


def _mount_subcommands() -> None:
    from gxcore.admin.cli import app as tenant_app
    from gxcore.admin.service import seed_step
    from gxcore.audit.cli import app as audit_app
    from gxcore.cqrs.projector_cli import app as projector_app
    from gxcore.cqrs.relay_cli import outbox_app, relay_command
    from gxcore.db import seeding
    from gxcore.db.cli import app as db_app
    from gxcore.identity.cli import app as admin_app
    from gxcore.notifications.cli import mailbox_command, messages_app
    from gxcore.scheduler import scheduler_command

    seeding.register(seed_step)
    app.add_typer(db_app, name="db")
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(audit_app, name="audit")
    dev_app.command("mailbox")(mailbox_command)
    app.add_typer(dev_app, name="dev")
    jobs_app.command("cleanup")(cleanup_command)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(admin_app, name="admin")
    app.command("relay")(relay_command)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(projector_app, name="projector")
    app.add_typer(messages_app, name="messages")
    app.command("scheduler")(scheduler_command)


_mount_subcommands()


def main() -> None:
    app()
