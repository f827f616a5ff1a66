"""What every `gx` sub-command shares: consoles, settings, and turning errors into one line."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from gxcore import logs, tracing
from gxcore.config import LogFormat, Settings
from gxcore.errors import GxError

T = TypeVar("T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a GxError or database error ends it with one line, no traceback."""
    try:
        return asyncio.run(coro)
    except GxError as e:
        raise fail(str(e)) from None
    except DBAPIError as e:
        first_line = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        raise fail(f"database error: {first_line}") from None


DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help="Embedded server's data directory (default: user data dir)."),
]


MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve /livez, /readyz, /health and /metrics on this port (default: off).",
    ),
]


def settings(data_dir: str | None = None) -> Settings:
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    return Settings(**overrides)


def configure_logging(
    cfg: Settings, *, info: tuple[str, ...] = (), service: str | None = None
) -> None:
    """Log lines in `GX_LOG_FORMAT` on stderr: warnings and above, and the info lines of the
    loggers named in `info`. A long-running process names itself (`service`): it then also
    exports traces when tracing is on (`GX_OTEL`, gxcore.tracing)."""
    logs.configure(json_lines=cfg.log_format is LogFormat.JSON, level=logging.WARNING)
    for name in info:
        logging.getLogger(name).setLevel(logging.INFO)
    if service is not None and cfg.tracing_enabled:
        tracing.configure(service)


#: What stops a long-running command cleanly (the work in hand is finished first).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signals(callback: Callable[[], object]) -> None:
    """Call `callback` on SIGTERM/SIGINT in the running event loop instead of dying; installed
    as early as possible, so a stop asked for while connecting is honoured, not fatal."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, callback)


def freeze_startup() -> None:
    """Take what start-up built (models, schemas, pools, connections) out of the cyclic
    collector's sight: it lives as long as the process, and rescanning it on every full
    collection cost a long-running worker ~16% of its CPU."""
    gc.freeze()
