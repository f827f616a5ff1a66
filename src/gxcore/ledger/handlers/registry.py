"""Command handlers by CommandType, and the accounts each one wants loaded up front."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gxcore.enums import CommandType
from gxcore.ledger.state import Tx

Run = Callable[[Tx, Any], Awaitable[None]]


def _none(payload: Any) -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class Handler:
    run: Run
    #: Account ids the command reads, locked together with the block's other accounts in one
    #: statement before any command runs (accounts found later cost a statement each).
    accounts: Callable[[Any], Iterable[str]] = _none


HANDLERS: dict[CommandType, Handler] = {}


def handles(
    command_type: CommandType, *, accounts: Callable[[Any], Iterable[str]] = _none
) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        assert command_type not in HANDLERS, f"{command_type} registered twice"
        HANDLERS[command_type] = Handler(run, accounts)
        return run

    return register
