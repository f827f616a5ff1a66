"""`gx tenant ...`: the tenant registry.

    gx tenant create acme --name "Acme Ltd"   # registered, parameters seeded, bootstrap queued
    gx tenant list

A request or command naming a tenant that was never created is refused (TENANT_NOT_FOUND).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service
from gxcore.admin.models import Tenant
from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.roles import role_key
from gxcore.db.tenancy import Database
from gxcore.errors import TenantExists

app = typer.Typer(help="Tenants: each one's users, wallets and ledger.", no_args_is_help=True)


@asynccontextmanager
async def _system(url: str, key: bytes, reason: str) -> AsyncIterator[AsyncSession]:
    """One unit of work in the system scope of the database at `url` (the owner's URL); `key`
    derives the roles' passwords (gxcore.db.roles)."""
    database = Database.connect(url, role_key=key)
    try:
        async with database.system(reason=reason) as session:
            yield session
    finally:
        await database.dispose()


async def create(url: str, tenant_id: str, name: str | None, *, key: bytes) -> Tenant:
    """Create the tenant in the database at `url`."""
    async with _system(url, key, f"gx tenant create {tenant_id}") as session:
        return await service.create_tenant(session, tenant_id, name=name)


async def ensure(url: str, tenant_id: str, *, key: bytes) -> bool:
    """Create the tenant unless it exists (`gx up`); True when it was created."""
    try:
        await create(url, tenant_id, None, key=key)
    except TenantExists:
        return False
    return True


async def _check_head(url: str) -> None:
    if not (await migrate.status(url)).up_to_date:
        raise fail("the database is not at head; run `gx db migrate` first")


@app.command("create")
def create_cmd(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant id (X-Tenant-Id).")],
    name: Annotated[str | None, typer.Option(help="A display name (default: the id).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a tenant: registered, its system parameters seeded, BOOTSTRAP_SYSTEM enqueued."""

    async def go() -> Tenant:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            await _check_head(url)
            return await create(url, tenant_id, name, key=role_key(cfg))

    tenant = run(go())
    console.print(f"tenant {tenant.id} created; the next `gx relay` bootstraps it on the ledger")


@app.command("list")
def list_cmd(data_dir: DataDir = None) -> None:
    """Every tenant, by id: id, name, creation time."""

    async def go() -> list[Tenant]:
        cfg = settings(data_dir)
        async with open_database(cfg, create=False) as url:
            await _check_head(url)
            async with _system(url, role_key(cfg), "gx tenant list") as session:
                return await service.list_tenants(session)

    tenants = run(go())
    for t in tenants:
        console.print(f"{t.id}\t{t.name}\t{t.created_at.isoformat()}", soft_wrap=True)
    if not tenants:
        console.print("no tenants; create one with `gx tenant create ID`")
