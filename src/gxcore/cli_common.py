"""What every `gx` sub-command shares: consoles, settings, and turning errors into one line."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import typer.core
from rich.console import Console

from gxcore.errors import GxError

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter  # typer's own click

    from gxcore.config import Settings

T = TypeVar("T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a GxError or database error ends it with one line, no traceback."""
    from sqlalchemy.exc import DBAPIError  # imported by the command's own code by now

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
    from gxcore.config import Settings  # pydantic-settings: only once a command runs

    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    return Settings(**overrides)


def configure_logging(
    cfg: Settings, *, info: tuple[str, ...] = (), service: str | None = None
) -> None:
    """Log lines in `GX_LOG_FORMAT` on stderr: warnings and above, and the info lines of the
    loggers named in `info`. A long-running process names itself (`service`): it then also
    exports traces when tracing is on (`GX_OTEL`, gxcore.tracing)."""
    from gxcore import logs, tracing
    from gxcore.config import LogFormat

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


@dataclass(frozen=True)
class Lazy:
    """A sub-command imported only when it runs: `target` is "module:attribute", a Typer app (a
    group) or a command function; `help` is what `--help` lists without importing it (a test
    keeps it equal to the command's own); `prepare` runs first (feature registrations)."""

    target: str
    help: str
    prepare: Callable[[], None] | None = None

    def load(self, name: str) -> Command:
        if self.prepare is not None:
            self.prepare()
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        command: Command
        if isinstance(found, typer.Typer):
            command = typer.main.get_group(found)
        else:
            holder = typer.Typer()
            holder.command(name)(found)
            command = typer.main.get_command(holder)
        command.name = name
        return command


def lazy_group(commands: Mapping[str, Lazy]) -> type[typer.core.TyperGroup]:
    """A Typer group class that also holds `commands`, each imported on first use (click's
    "lazily loading subcommands"): `gx db status` no longer imports FastAPI, the ledger and
    every feature, which cost each `gx` run seconds of start-up."""

    _loaded: dict[str, Command] = {}

    class LazyGroup(typer.core.TyperGroup):
        _listing = False

        def list_commands(self, ctx: Context) -> list[str]:
            return [*super().list_commands(ctx), *commands]

        def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
            if cmd_name in self.commands or cmd_name not in commands:
                return super().get_command(ctx, cmd_name)
            lazy = commands[cmd_name]
            if self._listing:  # the help's table of commands: the name and its help suffice
                return typer.core.TyperCommand(cmd_name, help=lazy.help)
            if cmd_name not in _loaded:
                _loaded[cmd_name] = lazy.load(cmd_name)
            return _loaded[cmd_name]

        def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

    return LazyGroup
