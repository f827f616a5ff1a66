"""The `gx` command. Each feature contributes a Typer sub-app; this module assembles them and
owns the single place where errors become one readable line and an exit code."""

from __future__ import annotations

import signal
import time

import typer

from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.errors import GxError

app = typer.Typer(
    name="gx",
    help="gxcore: the GX Coin Protocol data layer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def up(data_dir: DataDir = None, tenant: str = "default") -> None:
    """Start the database (embedded unless DATABASE_URL is set), migrate and seed it, stay up."""
    from gxcore.db.cli import prepare
    from gxcore.db.embedded import EmbeddedServer

    cfg = settings(data_dir)
    started = time.perf_counter()
    server = None
    if not cfg.database_url:
        server = EmbeddedServer(cfg.data_dir)
        try:
            server.start()
        except GxError as e:
            raise fail(str(e)) from None
    try:
        url = run(prepare(cfg, server, tenant))
        console.print(f"[green]ready[/] in {time.perf_counter() - started:.1f}s")
        console.print(url, soft_wrap=True)
        if server is None:
            return
        console.print("[dim]Ctrl-C stops the server.[/]")
        _wait_for_signal()
    finally:
        if server is not None:
            server.stop()
            console.print("server stopped")


def _wait_for_signal() -> None:
    stop = False

    def handle(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    while not stop:
        signal.pause()


def _mount_subcommands() -> None:
    from gxcore.audit.cli import app as audit_app
    from gxcore.db.cli import app as db_app

    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")


_mount_subcommands()


def main() -> None:
    app()
