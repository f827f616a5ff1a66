"""`gx messages run` (deliver queued emails and SMS) and `gx dev mailbox` (read what the
development senders delivered instead of SMTP and SMS).

Exit codes: 0 success (for `run`, also a clean stop on SIGTERM/SIGINT); 1 an error, such as a
production configuration without a carrier; 2 bad usage.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from gxcore.cli_common import DataDir, console, fail, freeze_startup, on_stop_signals, run, settings
from gxcore.config import Settings
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.errors import GxError
from gxcore.notifications.senders import default_senders, read_mailbox
from gxcore.notifications.worker import MessageWorker, Stats, WorkerConfig

messages_app = typer.Typer(
    help="The message queue: emails and SMS after commit.", no_args_is_help=True
)


@messages_app.command("run")
def run_cmd(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between polls when idle.")
    ] = WorkerConfig.poll_interval,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts before a failing message ends FAILED.")
    ] = WorkerConfig.max_attempts,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's messages.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Deliver queued emails and SMS until SIGTERM/SIGINT (or, with --once, until none is due).
    `gx api` runs the same worker in the background; this one adds capacity or runs alone."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("gxcore.notifications.worker").setLevel(logging.INFO)
    try:
        config = WorkerConfig(poll_interval=poll_interval, max_attempts=max_attempts)
    except GxError as e:
        raise fail(str(e), code=2) from None
    stats = run(_run(settings(data_dir), config, once=once, tenant=tenant))
    console.print(
        f"message worker stopped: {stats.sent} sent, {stats.failed} failed, "
        f"{stats.retried} to retry, {stats.lost} taken over ({stats.batches} batches)"
    )


async def _run(cfg: Settings, config: WorkerConfig, *, once: bool, tenant: str | None) -> Stats:
    senders = default_senders(cfg)  # refuses a production configuration without carriers
    stopping = asyncio.Event()
    on_stop_signals(stopping.set)
    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        db = Database.for_settings(url, cfg)
        try:
            worker = MessageWorker(db, senders, config, tenant_id=tenant)
            freeze_startup()
            on_stop_signals(worker.stop)
            if stopping.is_set():
                worker.stop()
            return await (worker.drain() if once else worker.run())
        finally:
            await db.dispose()


def mailbox_command(
    to: Annotated[str | None, typer.Option("--to", help="Only messages to this address.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the development mailbox (messages delivered with no SMTP host or SMS gateway set)."""
    cfg = settings(data_dir)
    messages = read_mailbox(cfg.mailbox_file, to=to)
    if not messages:
        console.print(f"no messages in {cfg.mailbox_file}" + (f" to {to}" if to else ""))
        return
    for m in messages:
        title = f"{m['channel']} to {m['to']}" + (f": {m['subject']}" if m.get("subject") else "")
        # Text(): a message is shown as written, never read as Rich markup.
        panel = Panel(Text(m["text"]), title=Text(title), subtitle=m["time"], title_align="left")
        console.print(panel)
