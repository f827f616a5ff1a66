"""`gx trust rebuild [--check] [--tenant T]`: recompute the stored trust scores from the
relationships, or (`--check`) only say where they differ.

Exit codes: 0 the stored scores equal the rule's (after a rebuild: they do now); 1 with
`--check`, some differ (each named), or an error; 2 bad usage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from gxcore.admin.service import list_tenants, require_tenant
from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.cli_progress import Tracker, progress
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.trust.scores import Difference, rebuild

app = typer.Typer(help="Trust scores.", no_args_is_help=True)


async def rebuild_tenants(
    db: Database,
    *,
    tenant: str | None,
    write: bool,
    now: datetime,
    shown: Tracker | None = None,
) -> dict[str, list[Difference]]:
    """Per tenant (each in its own transaction, in its own scope), the scores that differed;
    `shown` counts the tenants done."""
    if tenant is None:
        async with db.system(reason="gx trust rebuild: list tenants") as session:
            tenants = [t.id for t in await list_tenants(session)]
    else:
        tenants = [tenant]
    found = {}
    if shown is not None:
        shown.update(0, total=len(tenants))
    for t in tenants:
        async with db.tenant(t) as session:
            found[t] = await rebuild(session, now=now, write=write)
        if shown is not None:
            shown.advance(note=f"tenant {t}")
    return found


async def _rebuild(
    data_dir: str | None, tenant: str | None, write: bool
) -> dict[str, list[Difference]]:
    cfg = settings(data_dir)
    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        db = Database.for_settings(url, cfg)
        try:
            if tenant is not None:
                async with db.system(reason="gx trust rebuild: check tenant") as session:
                    await require_tenant(session, tenant)
            with progress("trust rebuild", unit="tenants", interval=cfg.progress_interval) as shown:
                return await rebuild_tenants(
                    db, tenant=tenant, write=write, now=datetime.now(UTC), shown=shown
                )
        finally:
            await db.dispose()


@app.command("rebuild")
def rebuild_command(
    check: Annotated[
        bool, typer.Option("--check", help="Only report the differences; write nothing.")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option(help="This tenant only (default: every tenant).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute every user's trust score from their relationships (rule `trust.score`)."""
    found = run(_rebuild(data_dir, tenant, write=not check))
    differing = 0
    for t, differences in found.items():
        for d in differences:
            differing += 1
            what = "; ".join(d.what)
            console.print(f"{escape(t)} {escape(d.profile_id)}: {escape(what)}", soft_wrap=True)
    if check and differing:
        raise fail(f"{differing} stored trust score(s) differ from their relationships")
    verb = "rewrote" if differing else "checked"
    console.print(
        f"{verb} trust scores of {len(found)} tenant(s)"
        + (f": {differing} differed" if differing else ": all equal the rule")
    )
