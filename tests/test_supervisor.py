"""The supervisor `gx up` runs its services under: restarts with backoff, a stop that leaves
no process behind (grandchildren and stubborn children included), output prefixed by name."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from gxcore.supervisor import Program, Supervisor


def python(name: str, code: str) -> Program:
    return Program(name, (sys.executable, "-c", code))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (exited, not reaped yet by whoever adopted it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def until(what: str, probe: object, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not probe():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_child_that_exits_is_restarted_with_growing_delays_each_restart_logged(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    code = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"
    lines: list[str] = []
    supervisor = Supervisor(
        [python("crashy", code)], backoff_base=0.05, backoff_max=0.4, write=lines.append
    )
    caplog.set_level(logging.WARNING, logger="gxcore.supervisor")
    task = asyncio.create_task(supervisor.run())
    await until("four restarts", lambda: supervisor.restarts["crashy"] >= 4)
    supervisor.stop()
    await asyncio.wait_for(task, 10)
    restarts = [r.getMessage() for r in caplog.records if "exited with code 3" in r.getMessage()]
    assert restarts[:4] == [
        "crashy exited with code 3; restart 1 in 0.1s",
        "crashy exited with code 3; restart 2 in 0.1s",
        "crashy exited with code 3; restart 3 in 0.2s",
        "crashy exited with code 3; restart 4 in 0.4s",
    ]
    assert len(starts.read_text()) >= 4


async def test_stop_ends_every_child_and_what_they_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    # A child that starts a grandchild (as `gx relay --workers N` does) and then waits.
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    lines: list[str] = []
    supervisor = Supervisor(
        [python("parent", code), python("sleeper", "import time; time.sleep(600)")],
        write=lines.append,
    )
    task = asyncio.create_task(supervisor.run())
    await until("the grandchild", lambda: pid_file.exists() and pid_file.read_text())
    await until("the children", lambda: len(supervisor.pids) == 2)
    pids = [*supervisor.pids.values(), int(pid_file.read_text())]
    assert all(alive(pid) for pid in pids)
    supervisor.stop()
    await asyncio.wait_for(task, 20)
    await until("every process to be gone", lambda: not any(alive(pid) for pid in pids), 10)
    assert "parent  | ready" in lines  # names padded to the longest
    assert supervisor.restarts == {"parent": 0, "sleeper": 0}


async def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout() -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    lines: list[str] = []
    supervisor = Supervisor([python("stubborn", code)], stop_timeout=0.5, write=lines.append)
    task = asyncio.create_task(supervisor.run())
    await until("the child", lambda: "stubborn | ready" in lines)
    pid = supervisor.pids["stubborn"]
    supervisor.stop()
    await asyncio.wait_for(task, 10)
    assert not alive(pid)
