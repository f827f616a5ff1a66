"""`gx relay` (deliver outbox commands to the ledger) and `gx outbox ...` (see and re-queue them).

Exit codes: 0 success (for `gx relay`, also a clean stop on SIGTERM/SIGINT); 1 an error, an
unknown command id, or a command that cannot be re-queued; 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cli_common import (
    STOP_SIGNALS,
    DataDir,
    MetricsPort,
    configure_logging,
    console,
    fail,
    freeze_startup,
    on_stop_signals,
    run,
    settings,
)
from gxcore.config import Settings
from gxcore.cqrs import operator
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.relay import Relay, RelayConfig, Stats
from gxcore.db import migrate, pages
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.enums import OutboxStatus
from gxcore.errors import GxError

T = TypeVar("T")

outbox_app = typer.Typer(help="The outbox: commands waiting for, or failed on, the ledger.")


# --------------------------------------------------------------------------------------------
# gx relay
# --------------------------------------------------------------------------------------------


def relay_command(
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes side by side (each claims its own rows).")
    ] = 1,
    batch: Annotated[int, typer.Option(min=1, help="Commands per claim and ledger block.")] = 500,
    no_listen: Annotated[
        bool, typer.Option("--no-listen", help="Poll only (behind a transaction-mode pooler).")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between polls when idle.")
    ] = 1.0,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts before a transient failure ends FAILED.")
    ] = 10,
    lease: Annotated[
        float,
        typer.Option(
            min=0.5, help="Seconds a claim stays with its worker before another may take it."
        ),
    ] = 30.0,
    backoff_max: Annotated[
        float, typer.Option(min=0.01, help="Longest wait, in seconds, before a retry.")
    ] = RelayConfig.backoff_max,
    metrics_port: MetricsPort = None,
    data_dir: DataDir = None,
) -> None:
    """Deliver outbox commands to the ledger until SIGTERM/SIGINT (or, with --once, until none
    is due). The batch in hand is finished before exiting."""
    try:
        config = RelayConfig(
            batch_size=batch,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            lease_seconds=lease,
            backoff_base=min(RelayConfig.backoff_base, backoff_max),
            backoff_max=backoff_max,
            # A live worker must record its outcome before its lease can be taken over.
            submit_timeout=min(RelayConfig.submit_timeout, lease / 3),
            listen=not no_listen,
        )
    except GxError as e:
        raise fail(str(e), code=2) from None
    cfg = settings(data_dir)
    configure_logging(
        cfg, info=("gxcore.cqrs.relay", "gxcore.cqrs.ops_api"), service="gxcore-relay"
    )
    if workers == 1:
        stats = run(_relay(cfg, config, once=once, metrics_port=metrics_port))
        console.print(
            f"relay stopped: {stats.committed} committed, {stats.failed} failed, "
            f"{stats.retried} to retry, {stats.lost} taken over ({stats.batches} batches)"
        )
        return
    args = ["relay", "--batch", str(batch), "--poll-interval", str(poll_interval)]
    args += ["--max-attempts", str(max_attempts), "--lease", str(lease)]
    args += ["--backoff-max", str(backoff_max)]
    args += ["--no-listen"] * no_listen + ["--once"] * once
    code = run(_supervise(cfg, workers, args, metrics_port))
    if code:
        raise fail(f"a relay worker exited with code {code}")


async def _relay(
    cfg: Settings, config: RelayConfig, *, once: bool, metrics_port: int | None
) -> Stats:
    from gxcore.cqrs.health import Probe
    from gxcore.cqrs.ops_api import serving_ops
    from gxcore.ledger import open_ledger

    stopping = asyncio.Event()
    on_stop_signals(stopping.set)
    async with _system_database(cfg) as (db, url):
        ledger = await open_ledger(url, cfg)
        try:
            probe = Probe(db, cfg, owner_url=url, ledger=ledger)
            async with serving_ops(probe, port=metrics_port, host=cfg.metrics_host):
                relay = Relay(db, ledger, config)
                freeze_startup()
                on_stop_signals(relay.stop)
                if stopping.is_set():
                    relay.stop()
                return await (relay.drain() if once else relay.run())
        finally:
            await ledger.close()


async def _supervise(cfg: Settings, workers: int, args: list[str], metrics_port: int | None) -> int:
    """Run `workers` single-worker processes on one database; forward SIGTERM/SIGINT to them.
    With a metrics port P, worker i serves its health and metrics on P + i."""
    async with open_database(cfg, create=False) as url:
        env = {**os.environ, "DATABASE_URL": url}
        ports = [
            [] if metrics_port is None else ["--metrics-port", str(metrics_port + i)]
            for i in range(workers)
        ]
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gxcore", *args, *port, env=env
            )
            for port in ports
        ]

        forwarded = False

        def forward(sig: signal.Signals) -> None:
            nonlocal forwarded
            forwarded = True
            for child in children:
                if child.returncode is None:
                    child.send_signal(sig)

        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, forward, sig)
        codes = [await child.wait() for child in children]
    # A worker the stop signal ended before it could catch it (still starting) held no lease.
    stopped_early = {-s for s in STOP_SIGNALS} if forwarded else set()
    return max((c for c in codes if c not in stopped_early), key=abs, default=0)


# --------------------------------------------------------------------------------------------
# gx outbox ...
# --------------------------------------------------------------------------------------------


@asynccontextmanager
async def _system_database(cfg: Settings) -> AsyncIterator[tuple[Database, str]]:
    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        db = Database.for_settings(url, cfg)
        try:
            yield db, url
        finally:
            await db.dispose()


def _in_system_scope(
    data_dir: str | None, reason: str, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    async def go() -> T:
        async with (
            _system_database(settings(data_dir)) as (db, _),
            db.system(reason=reason) as session,
        ):
            return await work(session)

    return run(go())


Status = Annotated[
    OutboxStatus | None, typer.Option("--status", case_sensitive=False, help="Only this status.")
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Only this tenant's commands.")]


@outbox_app.command("list")
def list_cmd(
    status: Status = None,
    tenant: Tenant = None,
    limit: Annotated[
        int, typer.Option(min=1, max=pages.MAX_LIMIT, help="Rows per page.")
    ] = pages.DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, typer.Option(help="Continue where the previous page ended (its `more:`).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Commands newest first, with counts per status."""
    paging = pages.PageRequest(
        pages.Cursors.from_settings(settings(data_dir)), operator.LIST, limit=limit, cursor=cursor
    )

    async def work(
        session: AsyncSession,
    ) -> tuple[pages.Slice[OutboxCommand], dict[OutboxStatus, int]]:
        page = await operator.list_page(session, paging, status=status, tenant_id=tenant)
        return page, await operator.counts(session, tenant_id=tenant)

    page, counts = _in_system_scope(data_dir, "gx outbox list", work)
    console.print("  ".join(f"{s.value} {n}" for s, n in counts.items()))
    if not page.rows:
        console.print("no commands")
        return
    # Ids whole whatever the terminal's width: they are what `show` and `retry` take.
    table = Table(Column("id", no_wrap=True, min_width=24), "tenant", "command", "status",
                  "attempts", "error", "updated")  # fmt: skip
    for c in page.rows:
        table.add_row(
            c.id,
            escape(c.tenant_id),
            c.command_type.value,
            c.status.value,
            str(c.attempts),
            escape(c.error_code or ""),
            c.updated_at.isoformat(timespec="seconds"),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


@outbox_app.command("show")
def show_cmd(
    command_id: Annotated[str, typer.Argument(metavar="ID", help="Outbox command id.")],
    data_dir: DataDir = None,
) -> None:
    """Every field of one command, its payload included."""

    async def work(session: AsyncSession) -> OutboxCommand:
        return await operator.get_or_raise(session, command_id)

    _print_command(_in_system_scope(data_dir, f"gx outbox show {command_id}", work))


def _print_command(c: OutboxCommand) -> None:
    fields = {
        "id": c.id,
        "tenant": c.tenant_id,
        "service": c.service,
        "command": c.command_type.value,
        "request id": c.request_id,
        "status": c.status.value,
        "attempts": c.attempts,
        "next attempt": c.next_attempt_at,
        "locked by": c.locked_by,
        "locked at": c.locked_at,
        "submitted at": c.submitted_at,
        "fabric tx id": c.fabric_tx_id,
        "commit block": c.commit_block,
        "error code": c.error_code,
        "error": c.error,
        "created at": c.created_at,
        "updated at": c.updated_at,
    }
    for name, value in fields.items():
        shown = value.isoformat() if isinstance(value, datetime) else value
        console.print(f"{name:>13}: {escape('' if shown is None else str(shown))}", soft_wrap=True)
    console.print("      payload:", escape(json.dumps(c.payload, indent=2, sort_keys=True)))


@outbox_app.command("retry")
def retry_cmd(
    command_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The FAILED command to re-queue.")
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Re-queue every FAILED command.")
    ] = False,
    tenant: Tenant = None,
    data_dir: DataDir = None,
) -> None:
    """Re-queue FAILED commands: back to PENDING, attempts from zero, error cleared. Those the
    ledger rejected for its state (NOT_BOOTSTRAPPED, SYSTEM_PAUSED) go back under a new request
    id; those it rejected for good are refused (it would reject them again)."""
    if (command_id is None) == (not all_failed):
        raise fail("give either a command ID or --all-failed", code=2)
    if tenant is not None and not all_failed:
        raise fail("--tenant goes with --all-failed", code=2)
    if command_id is not None:

        async def one(session: AsyncSession) -> list[str]:
            return [(await operator.retry(session, command_id)).id]

        ids = _in_system_scope(data_dir, f"gx outbox retry {command_id}", one)
    else:

        async def every(session: AsyncSession) -> list[str]:
            ids = await operator.retry_all_failed(session, tenant_id=tenant)
            rejected = (await operator.counts(session, tenant_id=tenant))[OutboxStatus.FAILED]
            if rejected:
                console.print(
                    f"left {rejected} command(s) rejected for good (by the ledger, or in "
                    "review) as they are; enqueue new commands instead"
                )
            return ids

        ids = _in_system_scope(data_dir, "gx outbox retry --all-failed", every)
    console.print(f"re-queued {len(ids)} command(s)")
    for i in ids:
        console.print(f"  {i}")
