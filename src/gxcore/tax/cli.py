"""`gx jobs velocity-tax`: the daily velocity-tax run (see `gxcore.tax.service`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.table import Table

from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.cli_progress import progress
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.tax import service
from gxcore.tax.schemas import VelocityTaxReport


def velocity_tax_command(
    on: Annotated[
        str | None,
        typer.Option("--date", help="The snapshot date, YYYY-MM-DD (default: today, UTC)."),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (default: every one).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Snapshot every wallet's velocity tax for a date (once per wallet and date: running again
    changes nothing) and queue APPLY_VELOCITY_TAX for each wallet that owes it."""
    today = datetime.now(UTC).date()
    try:
        day = date.fromisoformat(on) if on is not None else today
    except ValueError:
        raise fail(f"--date: {on!r} is not a date (YYYY-MM-DD)", code=2) from None

    async def go() -> dict[str, VelocityTaxReport]:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            database = Database.for_settings(url, cfg)
            try:
                with progress(
                    f"velocity tax {day}", unit="wallets", interval=cfg.progress_interval
                ) as shown:
                    return await service.run_job(
                        database,
                        on=day,
                        today=today,
                        tenant_id=tenant,
                        on_page=lambda t, wallets: shown.advance(wallets, note=f"tenant {t}"),
                    )
            finally:
                await database.dispose()

    reports = run(go())
    table = Table(
        "tenant", "wallets", "snapshots", "taxed", "tax owed", title=f"velocity tax {day}"
    )
    for name, r in reports.items():
        table.add_row(name, str(r.wallets), str(r.snapshots), str(r.taxed), f"{r.taxOwed:f}")
    console.print(table)
