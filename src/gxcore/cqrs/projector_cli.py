"""`gx projector ...`: run the projector, see where it stands, replay its DLQ, rebuild.

Exit codes: 0 success (for `run`, also a clean stop on SIGTERM/SIGINT); 1 an error, the
projector stopped on an event it cannot apply, DLQ entries that still fail, or a rebuild that
differs from the live read models (without --apply); 2 bad usage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from gxcore.cli_common import (
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
from gxcore.cli_progress import progress
from gxcore.config import Settings
from gxcore.cqrs import metrics
from gxcore.cqrs.claims import DEFAULT_LEASE, Claims
from gxcore.cqrs.dlq import ReplayResult, replay_dlq
from gxcore.cqrs.health import Probe
from gxcore.cqrs.ops_api import serving_ops
from gxcore.cqrs.projector import DEFAULT_NAME, Progress, Projector, ProjectorStatus, status
from gxcore.cqrs.rebuild import RebuildReport, rebuild
from gxcore.db import migrate, server
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.errors import GxError, ProductionGuard, ProjectorLeaseLost, ProjectorTenantOwned
from gxcore.ledger.port import Ledger

log = logging.getLogger(__name__)

app = typer.Typer(help="The projector: ledger events into the read models.", no_args_is_help=True)

Name = Annotated[str, typer.Option(help="Projector name (its checkpoints in ProjectorState).")]
Tenant = Annotated[str | None, typer.Option(help="Only this tenant.")]
REPORT_EVERY = 5.0  # seconds between progress lines of `run`


@asynccontextmanager
async def _open(cfg: Settings) -> AsyncIterator[tuple[Database, Ledger, str]]:
    from gxcore.ledger import open_ledger

    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        db = Database.for_settings(url, cfg)
        ledger = await open_ledger(url, cfg)
        try:
            yield db, ledger, url
        finally:
            await ledger.close()
            await db.dispose()


@app.command("run")
def run_cmd(
    once: Annotated[bool, typer.Option("--once", help="Stop once caught up.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Events per batch (one transaction).")] = 500,
    poll_interval: Annotated[
        float, typer.Option(min=0.001, help="Seconds between polls of the ledger when caught up.")
    ] = 0.05,
    name: Name = DEFAULT_NAME,
    tenants: Annotated[
        str | None,
        typer.Option(
            help="Feed only these tenants (comma-separated): a tenant group. Default: every "
            "tenant no other projector process holds."
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Seconds a claim on a tenant outlives this process's last heartbeat (renewed "
            "every third of it); a crashed process's tenants can be taken over after it.",
        ),
    ] = DEFAULT_LEASE,
    metrics_port: MetricsPort = None,
    data_dir: DataDir = None,
) -> None:
    """Project ledger events into the read models until SIGTERM/SIGINT (or, with --once, until
    caught up). The batch in hand is finished before exiting.

    The process claims its tenants first and is refused (PROJECTOR_TENANT_OWNED) when another
    live projector process holds one of them."""
    group = sorted({t.strip() for t in tenants.split(",") if t.strip()}) if tenants else None
    if tenants is not None and not group:
        raise fail("--tenants names no tenant", code=2)
    cfg = settings(data_dir)
    configure_logging(cfg, info=("gxcore.cqrs.ops_api",), service="gxcore-projector")
    started = time.perf_counter()
    total = run(
        _run(
            cfg,
            once=once,
            batch=batch,
            name=name,
            poll_interval=poll_interval,
            metrics_port=metrics_port,
            tenants=group,
            lease=lease,
        )
    )
    elapsed = time.perf_counter() - started
    console.print(
        f"projector stopped: {total.applied} applied, {total.dead} to the DLQ, "
        f"{total.skipped} already done, in {elapsed:.1f}s; at {_at(total)}"
    )


async def _run(
    cfg: Settings,
    *,
    once: bool,
    batch: int,
    name: str,
    poll_interval: float,
    metrics_port: int | None,
    tenants: list[str] | None,
    lease: float,
) -> Progress:
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    async with _open(cfg) as (db, ledger, url):
        claims = Claims(db, name, lease=lease, discover=tenants is None)
        try:
            if tenants is None:
                await claims.claim_all()
            else:
                await claims.claim(tenants)
        except ProjectorTenantOwned as e:
            raise fail(f"{e.code}: {e}") from None
        console.print(
            f"projector {name!r} ({claims.owner_id}) feeds "
            + (", ".join(tenants) if tenants else "every tenant no other projector holds")
        )
        probe = Probe(db, cfg, owner_url=url, ledger=ledger, projector_name=name)
        try:
            async with (
                serving_ops(probe, port=metrics_port, host=cfg.metrics_host),
                _heartbeat(claims, stop) as lost,
            ):
                progress = await _project(db, ledger, stop, once=once, batch=batch, name=name, poll_interval=poll_interval, tenants=tenants, claims=claims)  # fmt: skip
            if lost:
                raise lost[0]
            return progress
        except ProjectorLeaseLost as e:
            raise fail(f"{e.code}: {e}") from None
        finally:
            with suppress(Exception):  # a lost claim stays with its new owner
                await claims.release()


@asynccontextmanager
async def _heartbeat(claims: Claims, stop: asyncio.Event) -> AsyncIterator[list[Exception]]:
    """Renew the claims every third of the lease while the body runs; a claim lost sets `stop`
    and is reported in the list yielded."""
    lost: list[Exception] = []

    async def beat() -> None:
        while True:
            await asyncio.sleep(claims.lease / 3)
            try:
                await claims.renew()
            except ProjectorLeaseLost as e:
                lost.append(e)
                stop.set()
                return
            except (GxError, DBAPIError, OSError) as e:  # a hiccup: the next beat tries again
                log.warning("projector %s: lease renewal failed: %s", claims.name, e)

    task = asyncio.create_task(beat())
    try:
        yield lost
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _project(
    db: Database,
    ledger: Ledger,
    stop: asyncio.Event,
    *,
    once: bool,
    batch: int,
    name: str,
    poll_interval: float,
    tenants: list[str] | None = None,
    claims: Claims | None = None,
) -> Progress:
    """One projector for the whole ledger, or one per tenant of the group side by side."""
    projectors = [
        Projector(db, ledger, name=name, batch_size=batch, tenant_id=tenant, claims=claims)
        for tenant in (tenants if tenants else [None])
    ]
    freeze_startup()
    window = Progress()
    last = time.monotonic()

    def report(progress: Progress) -> None:
        nonlocal window, last
        for outcome in ("applied", "dead", "skipped"):
            if count := getattr(progress, outcome):
                metrics.PROJECTOR_EVENTS.labels(outcome=outcome).inc(count)
        window.add(progress)
        if time.monotonic() - last >= REPORT_EVERY:
            console.print(f"{window.applied} applied, {window.dead} to the DLQ; at {_at(window)}")
            window, last = Progress(), time.monotonic()

    tasks = [
        asyncio.create_task(p.run(once=once, stop=stop, on_batch=report, idle_delay=poll_interval))
        for p in projectors
    ]
    try:
        totals = await asyncio.gather(*tasks)
    finally:  # one stopped for good (a claim lost, an event it cannot apply): stop the others
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    total = Progress()
    for part in totals:
        total.add(part)
    return total


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _at(progress: Progress) -> str:
    p = progress.position
    return f"block {p.block_number}, event {p.event_index}" if p else "the start"


@app.command("status")
def status_cmd(name: Name = DEFAULT_NAME, tenant: Tenant = None, data_dir: DataDir = None) -> None:
    """Checkpoints per tenant, the ledger's height, the lag, DLQ entries waiting."""

    async def go() -> ProjectorStatus:
        async with _open(settings(data_dir)) as (db, ledger, _):
            return await status(db, ledger, name=name, tenant_id=tenant)

    st = run(go())
    position = (
        f"block {st.position.block_number}, event {st.position.event_index}"
        if st.position
        else "nothing projected yet"
    )
    console.print(f"projector {st.name!r} on {st.channel}")
    console.print(f"ledger height: {st.height}")
    console.print(f"position:      {position}")
    console.print(f"lag:           {st.lag} block(s)")
    console.print(f"DLQ:           {_entries(st.dead)}")
    if st.tenants:
        table = Table("tenant", "checkpoint", "updated", "DLQ")
        for t in st.tenants:
            at = f"{t.position.block_number}:{t.position.event_index}" if t.position else "-"
            when = t.updated_at.isoformat(timespec="seconds") if t.updated_at else "-"
            table.add_row(escape(t.tenant_id), at, when, str(t.dead))
        console.print(table)


@app.command("replay-dlq")
def replay_dlq_cmd(
    entry_id: Annotated[str | None, typer.Option("--id", help="Only this DLQ entry.")] = None,
    tenant: Tenant = None,
    data_dir: DataDir = None,
) -> None:
    """Apply DLQ entries again, in ledger order; those that apply now leave the DLQ."""

    async def go() -> ReplayResult:
        async with _open(settings(data_dir)) as (db, ledger, _url):
            return await replay_dlq(db, ledger, entry_id=entry_id, tenant_id=tenant)

    result = run(go())
    console.print(f"{len(result.applied)} applied, {len(result.failed)} still failing")
    for dlq_id, reason in result.failed:
        console.print(f"  {dlq_id}: {escape(reason)}", soft_wrap=True)
    if result.failed:
        raise fail(f"{_entries(len(result.failed))} still failing; fix the cause, replay again")


@app.command("rebuild")
def rebuild_cmd(
    apply: Annotated[
        bool, typer.Option("--apply", help="Commit the rebuilt read models (else only compare).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Run on a production database.")] = False,
    name: Name = DEFAULT_NAME,
    tenant: Tenant = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute the read models from block 0 and compare them with the live ones; with --apply,
    replace the live ones. One transaction: the projector waits meanwhile."""
    cfg = settings(data_dir)

    async def go() -> RebuildReport:
        async with _open(cfg) as (db, ledger, url):
            if not force and (cfg.is_production or await server.is_marked_production(url)):
                raise ProductionGuard(
                    "this is a production database; a rebuild holds the projector for its whole "
                    "run. Run again with --force if that is really meant"
                )
            with progress(
                "projector rebuild", unit="blocks", interval=cfg.progress_interval
            ) as shown:
                return await rebuild(
                    db,
                    ledger,
                    name=name,
                    tenant_id=tenant,
                    apply=apply,
                    on_progress=lambda block, last: shown.update(block, total=last),
                )

    report = run(go())
    console.print(
        f"replayed {report.events} event(s) of {len(report.tenants)} tenant(s); "
        f"{report.dead} refused, as when projected live"
    )
    if report.equal:
        console.print("[green]the rebuilt read models equal the live ones[/]")
        return
    for diff in report.differences:
        console.print(
            f"[bold]{diff.table}[/]: {len(diff.only_live)} row(s) only live, "
            f"{len(diff.only_rebuilt)} only rebuilt"
        )
        for label, rows in (("live", diff.only_live), ("rebuilt", diff.only_rebuilt)):
            for row in rows[:3]:
                values = ", ".join(f"{c}={v!r}" for c, v in zip(diff.columns, row, strict=True))
                console.print(f"  {label}: {escape(values)}", soft_wrap=True)
    if report.committed:
        console.print("[green]applied[/]: the read models now are what the ledger implies")
        return
    raise fail("the live read models differ from the ledger's events; --apply replaces them")
