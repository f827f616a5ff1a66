"""`gx audit ...`: check the audit log's hash chains.

Exit codes: 0 every chain intact; 1 a chain is broken, or an error; 2 bad usage.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from gxcore.audit.linker import link
from gxcore.audit.service import TenantVerdict, verify_chain
from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


async def _verify(
    data_dir: str | None, tenant: str | None, linking: bool
) -> tuple[int, list[TenantVerdict]]:
    cfg = settings(data_dir)
    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        # The system scope: its role reads every tenant's rows through row-level security.
        db = Database.for_settings(url, cfg)
        try:
            async with db.system(reason="gx audit verify") as session:
                linked = await link(session, tenant) if linking else 0
                return linked, await verify_chain(session, tenant)
        finally:
            await db.dispose()


@app.command()
def verify(
    tenant: Annotated[
        str | None, typer.Option(help="Verify this tenant's chain only (default: every tenant).")
    ] = None,
    linking: Annotated[
        bool, typer.Option("--link/--no-link", help="Link committed entries first.")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Link what is committed, then walk the hash chain of each tenant; report the first
    altered, removed or moved entry."""
    linked, verdicts = run(_verify(data_dir, tenant, linking))
    if linked:
        console.print(f"linked {linked} new entries")
    if not verdicts:
        console.print("no audit entries")
    for v in verdicts:
        style = "green" if v.verdict.ok else "bold red"
        console.print(f"{v.tenant_id}: [{style}]{escape(str(v.verdict))}[/]", soft_wrap=True)
    broken = [v for v in verdicts if not v.verdict.ok]
    if broken:
        raise fail(f"{len(broken)} of {len(verdicts)} audit chain(s) broken")
    if verdicts:
        total = sum(v.verdict.entries for v in verdicts)
        console.print(f"{len(verdicts)} chain(s) intact, {total} entries")
