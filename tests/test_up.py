"""`gx up`: the whole system as one supervised process group, from a fresh data directory.

The administrator's one-time password is printed on the first start only; a service that
crashes comes back; SIGTERM/SIGINT leave no process behind and the database stopped cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.test_fresh_start import GX, _port, _until

pytestmark = pytest.mark.system


class Up:
    """A `gx up` process whose output is collected line by line."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
        self.proc = subprocess.Popen(
            [*GX, "up", "--data-dir", str(data_dir), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            assert self.proc.poll() is None or self.lines, "gx up ended"
            return re.search(pattern, self.output)

        return _until(f"{pattern!r} in gx up's output\n{self.output}", found, timeout)

    def stop(self, sig: signal.Signals) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def children(pid: int) -> dict[int, str]:
    """pid -> command line of every process whose parent is `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_gx_up_runs_everything_restarts_a_crashed_service_and_stops_without_orphans(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "gxdata", _port()
    up = Up(data_dir, port)
    try:
        up.wait_for(r"ready in [\d.]+s")
        password = up.wait_for(r"password\s+(\S+)").group(1)
        email = up.wait_for(r"email\s+(\S+@\S+)").group(1)
        base = f"http://127.0.0.1:{port}"
        assert f"API docs  {base}/docs" in up.output
        assert f"console   {base}/console" in up.output
        assert json.loads((data_dir / "up.json").read_text()) == {
            "pid": up.proc.pid,
            "tenant": "default",
            "api": base,
        }
        assert httpx.get(f"{base}/docs").status_code == 200
        console = httpx.get(f"{base}/console")  # asks for sign-in
        assert (console.status_code, console.headers["location"]) == (303, "/console/sign-in")
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
        )
        assert login.status_code == 200, login.text

        services = children(up.proc.pid)
        by_name = {
            name: pid
            for pid, cmdline in services.items()
            for name in ("api", "relay", "projector", "scheduler")
            if f"-m gxcore {name}" in cmdline
        }
        assert set(by_name) == {"api", "relay", "projector", "scheduler"}, services
        postmaster = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])

        os.kill(by_name["projector"], signal.SIGKILL)
        up.wait_for(r"projector exited with code -9; restart 1 in [\d.]+s")

        def restarted() -> int | None:
            again = [p for p, c in children(up.proc.pid).items() if "gxcore projector" in c]
            return again[0] if again and again[0] != by_name["projector"] else None

        every = [*services, _until("the projector to come back", restarted)]
    finally:
        code = up.stop(signal.SIGTERM)
    assert code == 0, up.output
    assert "services stopped" in up.output and "server stopped" in up.output
    assert [pid for pid in [*every, postmaster] if alive(pid)] == []
    assert not (data_dir / "up.json").exists()

    # A later start keeps the administrator and never shows a password again.
    again = Up(data_dir, port)
    try:
        again.wait_for(r"ready in [\d.]+s")
    finally:
        code = again.stop(signal.SIGINT)
    assert code == 0, again.output
    assert "password" not in again.output and "administrator" not in again.output


def test_gx_up_refuses_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
        done = subprocess.run(
            [*GX, "up", "--data-dir", str(tmp_path / "d"), "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1, done
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
