"""`gx jobs kyc-expiry` and `gx jobs kyc-scan`: KYC maintenance across every tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from gxcore.cli_common import DataDir, console, run, settings
from gxcore.config import Settings
from gxcore.db.cli import open_database
from gxcore.db.roles import role_key
from gxcore.db.tenancy import Database
from gxcore.kyc.jobs import expire_due, scan_pending
from gxcore.kyc.vault import Vault

T = TypeVar("T")
Batch = Annotated[int, typer.Option(help="Rows handled per round.", min=1)]


def _with_database(cfg: Settings, job: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(cfg, create=False) as url:
            database = Database.connect(url, role_key=role_key(cfg))
            try:
                return await job(database)
            finally:
                await database.dispose()

    return run(go())


def expiry_command(batch: Batch = 500, data_dir: DataDir = None) -> None:
    """Move APPROVED verifications holding an expired document to EXPIRED, in every tenant,
    telling each user."""
    now = datetime.now(UTC)
    moved = _with_database(settings(data_dir), lambda db: expire_due(db, now=now, batch=batch))
    console.print(f"expired {moved} verification(s)")


def scan_command(batch: Batch = 200, data_dir: DataDir = None) -> None:
    """Scan again each document whose scan is still pending (the scanner was unreachable)."""
    cfg = settings(data_dir)
    cfg.require_production_settings()
    vault = Vault.from_settings(cfg)
    now = datetime.now(UTC)
    counts = _with_database(cfg, lambda db: scan_pending(db, vault, now=now, batch=batch))
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"scanned: {done or 'nothing pending'}")
