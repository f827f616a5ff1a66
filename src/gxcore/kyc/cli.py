"""`gx jobs kyc-expiry`, `kyc-scan` and `kyc-orphans`: KYC maintenance across every tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer

from gxcore.cli_common import DataDir, console, run, settings
from gxcore.cli_progress import progress
from gxcore.config import Settings
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.kyc.jobs import expire_due, remove_orphans, scan_pending
from gxcore.kyc.vault import Vault

T = TypeVar("T")
Batch = Annotated[int, typer.Option(help="Rows handled per round.", min=1)]


def _with_database(cfg: Settings, what: str, job: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(cfg, create=False) as url:
            database = Database.for_settings(url, cfg)
            try:
                with progress(what, interval=cfg.progress_interval):
                    return await job(database)
            finally:
                await database.dispose()

    return run(go())


def expiry_command(batch: Batch = 500, data_dir: DataDir = None) -> None:
    """Move APPROVED verifications holding an expired document to EXPIRED, in every tenant,
    telling each user."""
    now = datetime.now(UTC)
    moved = _with_database(
        settings(data_dir), "kyc expiry", lambda db: expire_due(db, now=now, batch=batch)
    )
    console.print(f"expired {moved} verification(s)")


def scan_command(batch: Batch = 200, data_dir: DataDir = None) -> None:
    """Scan again each document whose scan is still pending (the scanner was unreachable)."""
    cfg = settings(data_dir)
    cfg.require_production_settings()
    vault = Vault.from_settings(cfg)
    now = datetime.now(UTC)
    counts = _with_database(
        cfg, "kyc scan", lambda db: scan_pending(db, vault, now=now, batch=batch)
    )
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"scanned: {done or 'nothing pending'}")


def orphans_command(
    older_than_hours: Annotated[
        float, typer.Option(help="Leave files younger than this (uploads in flight).", min=1)
    ] = 24,
    data_dir: DataDir = None,
) -> None:
    """Remove stored document files that no document names, and abandoned partial uploads."""
    cfg = settings(data_dir)
    vault = Vault.from_settings(cfg)
    before = datetime.now(UTC) - timedelta(hours=older_than_hours)
    removed = _with_database(
        cfg, "kyc orphans", lambda db: remove_orphans(db, vault, before=before)
    )
    console.print(f"removed {removed} orphaned file(s)")
