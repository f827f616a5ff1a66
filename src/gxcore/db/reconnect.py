"""Telling a lost or read-only server from a real error, and waiting for it to come back.

When the primary moves (a pg_auto_failover switchover or failover, a restart), connections
drop, new ones are refused for a while, and a connection kept to the old primary finds it
read-only. None of that is the caller's fault or a bug: requests answer 503 and the workers
wait with backoff, bounded, then reconnect through the multi-host URL to the new primary.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from dataclasses import dataclass

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gxcore.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

#: SQLSTATEs of a server that is away or not the primary: connection exceptions (class 08),
#: shut down by an administrator or a crash, starting up or shutting down (57P01-57P03), and a
#: write on a standby (25006: read_only_sql_transaction).
_AWAY_STATES = ("08", "57P01", "57P02", "57P03", "25006")
_NETWORK_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ETIMEDOUT}
)


def is_disconnect(error: BaseException) -> bool:
    """Whether `error` (or what it wraps) says the database is away, not that a query is wrong."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (DatabaseUnavailable, PoolTimeout, asyncpg.InterfaceError)):
            return True
        if isinstance(e, (ConnectionError, TimeoutError, socket.gaierror)) or (
            isinstance(e, OSError)
            and (e.errno in _NETWORK_ERRNOS or str(e).startswith("Multiple exceptions"))
        ):  # the second: asyncio failing every address of a host name
            return True  # not any OSError: a missing file is a bug, not an outage
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_AWAY_STATES):
            return True
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


@dataclass
class Reconnect:
    """Bounded retries with exponential backoff (equal jitter) while the database is away.

    `wait()` sleeps before the next try and logs it; past `attempts` tries in a row it raises
    DatabaseUnavailable, so a worker exits (and its supervisor restarts it) rather than spin
    forever on a database that is gone. `reset()` after a success.
    """

    what: str
    attempts: int = 40
    base: float = 0.1
    cap: float = 3.0
    failures: int = 0

    async def wait(self, error: BaseException) -> None:
        self.failures += 1
        if self.failures > self.attempts:
            raise DatabaseUnavailable(
                f"{self.what}: the database stayed away for {self.attempts} tries: {error}"
            ) from error
        step = min(self.cap, self.base * 2 ** (self.failures - 1))
        delay = step / 2 + random.uniform(0, step / 2)  # spreading retries: no secret
        log.warning(
            "%s: database away (%s), reconnecting in %.2fs, try %d of %d",
            self.what, _first_line(error), delay, self.failures, self.attempts,
        )  # fmt: skip
        await asyncio.sleep(delay)

    def reset(self) -> None:
        if self.failures:
            log.info("%s: database back after %d tries", self.what, self.failures)
        self.failures = 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
