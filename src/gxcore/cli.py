"""The `gx` command. Each feature contributes a Typer sub-app; this module assembles them and
owns the single place where errors become one readable line and an exit code.

Features are named here, not imported: each sub-command's module is imported when it runs
(`Lazy`), so `gx db status` starts in a fraction of the time `gx api` needs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gxcore.cli_common import (
    STOP_SIGNALS,
    DataDir,
    Lazy,
    console,
    fail,
    lazy_group,
    on_stop_signals,
    run,
    settings,
)
from gxcore.errors import GxError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from gxcore.config import Settings


def audit_trail() -> None:
    """Every command may write audited rows: the audit trail registers itself on import (as
    each feature's importer does), before any command runs."""
    import gxcore.audit.service  # noqa: F401


def register_extensions() -> None:
    """What db/ runs for the features (it knows none): `gx db seed`'s steps, `gx db backfill`'s
    jobs. Needed by `gx db ...` and `gx up` only."""
    from gxcore.db import backfill, seeding

    audit_trail()
    from gxcore.identity.backfills import NATIONAL_ID

    seeding.register(_seed_tenant)
    backfill.register(NATIONAL_ID)


def _lazy(target: str, help: str) -> Lazy:
    return Lazy(target, help, prepare=audit_trail)


async def _seed_tenant(session: AsyncSession, tenant_id: str) -> str:
    # The admin feature (and FastAPI under it) is imported only when a seed runs.
    from gxcore.admin.service import seed_step

    return await seed_step(session, tenant_id)


#: `gx <name>`, imported when run; the help is what `gx --help` lists (tests/test_cli.py keeps
#: each equal to the command's own). In the order `gx --help` lists them, after `up` and `api`.
COMMANDS = {
    "relay": _lazy(
        "gxcore.cqrs.relay_cli:relay_command",
        "Deliver outbox commands to the ledger until SIGTERM/SIGINT (or, with --once, until none "
        "is due). The batch in hand is finished before exiting.",
    ),
    "scheduler": _lazy(
        "gxcore.scheduler:scheduler_command",
        "Run the periodic jobs (today: cleanup) on their intervals until SIGTERM/SIGINT, which "
        "let the job in hand finish.",
    ),
    "demo": _lazy(
        "gxcore.demo:demo_command",
        "Tell the main story over HTTP against the running `gx up` of the data dir (or, with "
        "--embedded, one of its own): registration, approval, genesis, transfers, a refused "
        "overdraw, and the read models checked against the ledger. Exit 0 only if every check "
        "passed.",
    ),
    "db": Lazy(
        "gxcore.db.cli:app",
        "Schema migrations and database maintenance.",
        prepare=register_extensions,
    ),
    "tenant": _lazy("gxcore.admin.cli:app", "Tenants: each one's users, wallets and ledger."),
    "audit": _lazy("gxcore.audit.cli:app", "The tamper-evident audit log."),
    "dev": _lazy("gxcore.cli:dev_app", "Development helpers."),
    "jobs": _lazy("gxcore.cli:jobs_app", "Maintenance jobs, across every tenant."),
    "admin": _lazy("gxcore.identity.cli:app", "Administrators: who may review registrations."),
    "outbox": _lazy(
        "gxcore.cqrs.relay_cli:outbox_app",
        "The outbox: commands waiting for, or failed on, the ledger.",
    ),
    "projector": _lazy(
        "gxcore.cqrs.projector_cli:app", "The projector: ledger events into the read models."
    ),
    "messages": _lazy(
        "gxcore.notifications.cli:messages_app",
        "The message queue: emails and SMS after commit.",
    ),
    "trust": _lazy("gxcore.trust.cli:app", "Trust scores."),
}

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    name="gx",
    help="gxcore: the GX Coin Protocol data layer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Component(StrEnum):
    """What `gx up` runs; the database always, the rest as `python -m gxcore ...` children."""

    DB = "db"
    API = "api"
    RELAY = "relay"
    PROJECTOR = "projector"
    SCHEDULER = "scheduler"


@app.command()
def up(
    data_dir: DataDir = None,
    tenant: str = "default",
    only: Annotated[
        list[Component] | None,
        typer.Option(
            "--only",
            case_sensitive=False,
            help="Run only these (repeatable; the database always runs): `--only db` is the "
            "database alone, for services started by hand.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The API's TCP port.")] = 8000,
    relay_workers: Annotated[int, typer.Option(min=1, help="Relay worker processes.")] = 1,
    admin_email: Annotated[
        str, typer.Option(help="Login of the administrator created on first start.")
    ] = "admin@example.com",
) -> None:
    """Run the whole system on one machine: the database (embedded unless DATABASE_URL is set),
    migrated, the tenant created and seeded, an administrator on first start; then the API, the
    relay, the projector and the scheduler, supervised, until Ctrl-C/SIGTERM."""
    from gxcore.admin.cli import ensure
    from gxcore.db.cli import prepare, seed_database
    from gxcore.db.embedded import EmbeddedServer
    from gxcore.db.roles import role_key
    from gxcore.identity.cli import first_admin

    register_extensions()
    cfg = settings(data_dir)
    components = set(only or Component) | {Component.DB}
    started = time.perf_counter()
    server = None
    if not cfg.database_url:
        server = EmbeddedServer(cfg.data_dir)
        try:
            server.start()
        except GxError as e:
            raise fail(str(e)) from None

    async def ready() -> tuple[str, str | None]:
        url = await prepare(cfg, server)
        if await ensure(url, tenant, key=role_key(cfg)):
            console.print(f"tenant {tenant} created; the relay bootstraps it on the ledger")
        await seed_database(url, tenant)
        password = None
        if Component.API in components:
            password = await first_admin(url, tenant, admin_email, key=role_key(cfg))
        return url, password

    try:
        if Component.API in components:  # after the server: a second `gx up` is told so first
            _require_free_port(host, port)
        url, password = run(ready())
        if password is not None:
            _show_first_admin(tenant, admin_email, password)
        if components == {Component.DB}:
            console.print(f"[green]ready[/] in {time.perf_counter() - started:.1f}s")
            console.print(url, soft_wrap=True)
            if server is None:
                return
            console.print("[dim]Ctrl-C stops the server.[/]")
            _wait_for_signal()
        else:
            console.print(url, soft_wrap=True)
            run(_serve(cfg, tenant, components, host, port, relay_workers, started))
    finally:
        if server is not None:
            server.stop()
            console.print("server stopped")


def _require_free_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise fail(f"cannot listen on {host}:{port} ({e.strerror}); choose --port") from None


def _show_first_admin(tenant: str, email: str, password: str) -> None:
    from rich.panel import Panel

    console.print(
        Panel(
            f"email     {email}\npassword  {password}\n\n"
            "Shown this once: only its hash is kept. Store it now.",
            title=f"administrator of tenant {tenant}",
            title_align="left",
            expand=False,
        ),
        soft_wrap=True,
    )


async def _serve(
    cfg: Settings,
    tenant: str,
    components: set[Component],
    host: str,
    port: int,
    relay_workers: int,
    started: float,
) -> None:
    import logging
    import os

    from gxcore.supervisor import Supervisor, gx

    logging.basicConfig(level=logging.INFO, format="gx up | %(message)s", force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    programs = {
        Component.API: gx("api", "api", "--host", host, "--port", str(port)),
        Component.RELAY: gx("relay", "relay", "--workers", str(relay_workers)),
        Component.PROJECTOR: gx("projector", "projector", "run"),
        Component.SCHEDULER: gx("scheduler", "scheduler"),
    }
    # The children find the running database through the data dir (or DATABASE_URL); their
    # output is not a terminal, so Rich would wrap it at 80 columns inside our prefix.
    env = {"COLUMNS": "200", **os.environ, "GX_DATA_DIR": str(cfg.data_dir)}
    supervisor = Supervisor([p for c, p in programs.items() if c in components], env=env)
    on_stop_signals(supervisor.stop)
    announce = asyncio.create_task(_announce(cfg, tenant, components, host, port, started))
    try:
        await supervisor.run()
    finally:
        announce.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await announce
        marker = up_file(cfg)
        with contextlib.suppress(FileNotFoundError):
            if json.loads(marker.read_text())["pid"] == os.getpid():
                marker.unlink()
        console.print("services stopped")


def up_file(cfg: Settings) -> Path:
    """`<data dir>/up.json`: the running `gx up`'s pid, tenant and API address (`gx demo`)."""
    return cfg.data_dir / "up.json"


async def _announce(
    cfg: Settings,
    tenant: str,
    components: set[Component],
    host: str,
    port: int,
    started: float,
) -> None:
    """Once the API answers: say where everything is, and record it in up.json."""
    import os

    import httpx

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if Component.API in components:
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{base}/openapi.json")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
    marker = up_file(cfg)
    record = {
        "pid": os.getpid(),
        "tenant": tenant,
        "api": base if Component.API in components else None,
    }
    marker.write_text(json.dumps(record))
    lines = [
        f"[green]ready[/] in {time.perf_counter() - started:.1f}s: "
        + ", ".join(sorted(c.value for c in components))
    ]
    if Component.API in components:
        lines += [
            f"  API       {base}/api/v1  (tenant {tenant}: X-Tenant-Id)",
            f"  API docs  {base}/docs",
            f"  console   {base}/console  (sign in with an ADMIN account)",
        ]
    lines += [
        "  mailbox   gx dev mailbox   (emails and SMS, outside production)",
        "  story     gx demo",
        "[dim]Ctrl-C stops everything.[/]",
    ]
    console.print("\n".join(lines), soft_wrap=True)


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
    workers: Annotated[
        int, typer.Option(min=1, help="uvicorn worker processes, each with its own pool.")
    ] = 1,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (uvicorn) on the database of DATABASE_URL or the embedded server."""
    import uvicorn

    from gxcore.app import create_served_app
    from gxcore.cli_common import configure_logging
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
    configure_logging(
        cfg, info=("gxcore.access",), service="gxcore-api"
    )  # GX_LOG_FORMAT: text or JSON lines
    if workers > 1:
        _serve_workers(cfg, host, port, workers)
        return
    uvicorn.run(
        create_served_app(cfg),
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # uvicorn's lines go through gxcore's handler too
        access_log=False,  # gxcore.access writes one line a request, with its request id
    )


def _serve_workers(cfg: Settings, host: str, port: int, workers: int) -> None:
    """`gx api --workers N`: N uvicorn processes on one socket, each building the app (and its
    own pool, message worker and audit linker: both share work safely across processes) from
    the environment. Without DATABASE_URL the embedded server is started here, once, for the
    life of this process, and the workers are pointed at it."""
    import os

    import uvicorn

    from gxcore.db.cli import ensure_database
    from gxcore.db.embedded import EmbeddedServer, ServerAlreadyRunning

    os.environ["GX_DATA_DIR"] = str(cfg.data_dir)  # the workers read their settings anew
    owned: EmbeddedServer | None = None
    if not cfg.database_url:
        embedded = EmbeddedServer(cfg.data_dir)
        try:
            embedded.start()
            owned = embedded
        except ServerAlreadyRunning:
            embedded = EmbeddedServer.running(cfg.data_dir)
        os.environ["DATABASE_URL"] = run(ensure_database(embedded, cfg.database_name))
    try:
        uvicorn.run(
            "gxcore.cli:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=None,
            access_log=False,
        )
    finally:
        if owned is not None:
            owned.stop()


def worker_app() -> object:
    """The app one `gx api --workers N` process serves (uvicorn's factory)."""
    from gxcore.app import create_served_app
    from gxcore.cli_common import configure_logging
    from gxcore.config import Settings

    cfg = Settings()
    configure_logging(cfg, info=("gxcore.access",), service="gxcore-api")
    return create_served_app(cfg)


#: `gx jobs <name>` and `gx dev <name>`, imported when run, like COMMANDS.
JOBS = {
    "cleanup": _lazy(
        "gxcore.cli:cleanup_command",
        "Delete expired pending registrations, idempotency keys and notifications, and close "
        "business transfers past their approval time (their holds released), in every tenant.",
    ),
    "kyc-expiry": _lazy(
        "gxcore.kyc.cli:expiry_command",
        "Move APPROVED verifications holding an expired document to EXPIRED, in every tenant, "
        "telling each user.",
    ),
    "kyc-scan": _lazy(
        "gxcore.kyc.cli:scan_command",
        "Scan again each document whose scan is still pending (the scanner was unreachable).",
    ),
    "kyc-orphans": _lazy(
        "gxcore.kyc.cli:orphans_command",
        "Remove stored document files that no document names, and abandoned partial uploads.",
    ),
    "velocity-tax": _lazy(
        "gxcore.tax.cli:velocity_tax_command",
        "Snapshot every wallet's velocity tax for a date (once per wallet and date: running again "
        "changes nothing) and queue APPLY_VELOCITY_TAX for each wallet that owes it.",
    ),
}
DEV = {
    "mailbox": _lazy(
        "gxcore.notifications.cli:mailbox_command",
        "Print the development mailbox (messages delivered with no SMTP host or SMS gateway set).",
    ),
}
dev_app = typer.Typer(cls=lazy_group(DEV), help="Development helpers.", no_args_is_help=True)
jobs_app = typer.Typer(
    cls=lazy_group(JOBS), help="Maintenance jobs, across every tenant.", no_args_is_help=True
)


def cleanup_command(
    batch: Annotated[int, typer.Option(help="Rows deleted per transaction.")] = 1000,
    data_dir: DataDir = None,
) -> None:
    """Delete expired pending registrations, idempotency keys and notifications, and close
    business transfers past their approval time (their holds released), in every tenant."""
    from datetime import UTC, datetime

    from gxcore.cli_progress import progress
    from gxcore.db.cli import open_database
    from gxcore.db.tenancy import Database
    from gxcore.scheduler import cleanup, described

    async def go() -> dict[str, int]:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            database = Database.for_settings(url, cfg)
            try:
                with progress("cleanup", unit="rows", interval=cfg.progress_interval) as shown:
                    return await cleanup(
                        database,
                        datetime.now(UTC),
                        batch=batch,
                        on_batch=lambda what, done: shown.advance(done, note=what),
                    )
            finally:
                await database.dispose()

    for line in described(run(go())):
        console.print(line)


def main() -> None:
    app()
