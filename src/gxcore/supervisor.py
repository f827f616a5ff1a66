"""A small process supervisor: `gx up` runs the services as its children.

Each `Program` (for `gx up`, `python -m gxcore <args>`: see `gx`) is started in a session (process group) of its own so
that a Ctrl-C at the terminal reaches the supervisor alone, which then stops the children in
order; each child's output is copied line by line, prefixed with its name (as honcho does).

- A child that exits while the supervisor is not stopping is restarted after an exponential
  backoff (`backoff_base` doubling up to `backoff_max`; a child that had run `stable_after`
  seconds starts again from `backoff_base`); each restart is logged.
- `stop()` sends SIGTERM to every child (each finishes the work in hand, and a child with
  workers of its own, such as `gx relay --workers N`, stops them), waits up to `stop_timeout`,
  then SIGKILLs what is left of each child's process group. So nothing outlives `run()`.
- On Linux each child also gets SIGTERM if the supervisor dies without a chance to stop it
  (PR_SET_PDEATHSIG), so even a SIGKILLed supervisor leaves no service running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: Longest line of a child's output copied whole (a traceback's line can be long).
_LINE_LIMIT = 1 << 20


@dataclass(frozen=True)
class Program:
    name: str
    argv: tuple[str, ...]


def gx(name: str, *args: str) -> Program:
    """The program `python -m gxcore <args>`, with this interpreter."""
    return Program(name, (sys.executable, "-m", "gxcore", *args))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(
        self,
        programs: Sequence[Program],
        *,
        env: Mapping[str, str] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 30.0,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.programs = tuple(programs)
        self.env = dict(os.environ if env is None else env)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.restarts: dict[str, int] = dict.fromkeys((p.name for p in self.programs), 0)
        self.pids: dict[str, int] = {}  # the live child of each program
        self._write = write or _stdout
        self._width = max((len(p.name) for p in self.programs), default=0)
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Keep every program running until `stop()`; then stop them all and return."""
        keepers = [asyncio.create_task(self._keep(p)) for p in self.programs]
        try:
            await self._stopping.wait()
        finally:
            self._stopping.set()
            await self._terminate()
            await asyncio.gather(*keepers, return_exceptions=True)

    async def _keep(self, program: Program) -> None:
        failures = 0
        while not self.stopping:
            started = time.monotonic()
            try:
                code: int | str = await self._run_once(program)
            except OSError as e:  # could not even start it (say, no such executable)
                code = f"{e.strerror} (not started)"
            if self.stopping:
                return
            failures = 1 if time.monotonic() - started >= self.stable_after else failures + 1
            delay = min(self.backoff_base * 2 ** (failures - 1), self.backoff_max)
            self.restarts[program.name] += 1
            log.warning(
                "%s exited with code %s; restart %d in %.1fs",
                program.name,
                code,
                self.restarts[program.name],
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _run_once(self, program: Program) -> int:
        child = await asyncio.create_subprocess_exec(
            *program.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            limit=_LINE_LIMIT,
        )
        self._children[program.name] = child
        self.pids[program.name] = child.pid
        if self.stopping:  # asked while it was being started: `_terminate` may have missed it
            child.send_signal(signal.SIGTERM)
        assert child.stdout is not None
        pump = asyncio.create_task(self._pump(f"{program.name:<{self._width}} | ", child.stdout))
        try:
            return await _exit_of(child)
        finally:
            # Whatever the child left in its group (a worker of its own) goes with it, and with
            # them the last writers of the pipe.
            _kill_group(child.pid, signal.SIGKILL)
            try:
                await asyncio.wait_for(pump, 5)
                await child.wait()  # the pipes are closed: this only reaps the transport
            except TimeoutError:  # a process that left the group still holds the pipe
                log.warning("%s: output still open after it exited; no longer copied", program.name)
                pump.cancel()
            self._children.pop(program.name, None)
            self.pids.pop(program.name, None)

    async def _pump(self, prefix: str, output: asyncio.StreamReader) -> None:
        async for raw in output:
            self._write(prefix + raw.decode(errors="replace").rstrip("\n"))

    async def _terminate(self) -> None:
        children = list(self._children.values())
        for child in children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(_exit_of(child)) for child in children]
        if not waits:
            return
        _, late = await asyncio.wait(waits, timeout=self.stop_timeout)
        for child, waiting in zip(children, waits, strict=True):
            if waiting in late:
                log.warning(
                    "pid %d did not stop in %.0fs; killing it", child.pid, self.stop_timeout
                )
                _kill_group(child.pid, signal.SIGKILL)
        await asyncio.gather(*waits)


async def _exit_of(child: asyncio.subprocess.Process) -> int:
    """The child's exit code once it has exited. Not `child.wait()`: that also waits for the
    child's pipes to close, which a process it started may hold open long after."""
    while (code := child.returncode) is None:
        await asyncio.sleep(0.05)
    return code


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
