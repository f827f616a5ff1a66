"""A real pg_auto_failover formation (Debian's `pg-auto-failover-cli` and
`postgresql-15-auto-failover`) for the tests: a monitor, a primary and a synchronous standby.

    with Formation(tmp_dir) as f:
        f.url              # postgresql://gxpg@127.0.0.1:p1,127.0.0.1:p2/gx?target_session_attrs=...
        f.switchover()     # `pg_autoctl perform switchover`, returns once the new primary serves
        f.kill_primary()   # SIGKILL of the primary's postmaster (its keeper restarts it)

Every node runs on 127.0.0.1 ports picked free, in a private directory, as the embedded server's
system user when run as root (pg_autoctl, like PostgreSQL, refuses root). Authentication is
`trust` on 127.0.0.1 only: the formation lives as long as one test module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from gxcore.db.embedded import _ensure_system_user
from tests.pgbouncer import _free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
AUTOCTL = shutil.which("pg_autoctl") or "/usr/bin/pg_autoctl"
EXTENSION = Path("/usr/share/postgresql/15/extension/pgautofailover.control")
HOST = "127.0.0.1"
DATABASE = "gx"
READY_TIMEOUT = 90.0


def missing_reason() -> str | None:
    """Why a formation cannot run here, or None."""
    if not Path(AUTOCTL).exists():
        return "pg_autoctl is not installed (Debian package `pg-auto-failover-cli`)"
    if not (PG_BIN / "pg_ctl").exists() or not EXTENSION.exists():
        return (
            "PostgreSQL 15 with pg_auto_failover is not installed (`postgresql-15-auto-failover`)"
        )
    return None


class Formation:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gxpaf-"))
        self.ports = {name: _free_port() for name in ("monitor", "node1", "node2")}
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            pw = _ensure_system_user()
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self.owner = os.environ.get("USER", "root") if not self._user else "gxpg"
        self._env = {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "HOME": str(self.dir),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "XDG_DATA_HOME": str(self.dir / "share"),
            "XDG_RUNTIME_DIR": str(self.dir / "run"),
            # Sockets in our directory: Debian's default (/var/run/postgresql) is not ours.
            "PG_REGRESS_SOCK_DIR": str(self.dir),
            "PGHOST": str(self.dir),
        }
        self._keepers: dict[str, subprocess.Popen[bytes]] = {}
        monitor = self.ports["monitor"]
        self.monitor_uri = (
            f"postgres://autoctl_node@{HOST}:{monitor}/pg_auto_failover?sslmode=disable"
        )
        hosts = ",".join(f"{HOST}:{self.ports[n]}" for n in ("node1", "node2"))
        self.url = f"postgresql://{self.owner}@{hosts}/{DATABASE}?target_session_attrs=read-write"

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- running pg_autoctl -----------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run(
            [AUTOCTL, *args], check=False, capture_output=True, text=True, cwd=self.dir,
            env=self._env, timeout=timeout, **self._user,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_autoctl {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def _keep(self, name: str) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115  (the keeper writes to it)
        self._keepers[name] = subprocess.Popen(
            [AUTOCTL, "run", "--pgdata", str(self.dir / name)], stdout=log, stderr=log,
            cwd=self.dir, env=self._env, start_new_session=True, **self._user,
        )  # fmt: skip
        log.close()

    def _create(self, kind: str, name: str, *extra: str) -> None:
        self._run(
            "create", kind, "--pgdata", str(self.dir / name), "--pgport", str(self.ports[name]),
            "--hostname", HOST, "--listen", HOST, "--auth", "trust", "--no-ssl",
            "--pgctl", str(PG_BIN / "pg_ctl"), *extra,
        )  # fmt: skip
        self._keep(name)

    def start(self) -> None:
        self._create("monitor", "monitor")
        self._wait(lambda: self._monitor_answers(), "the monitor to answer")
        for name in ("node1", "node2"):
            self._create(
                "postgres", name, "--monitor", self.monitor_uri, "--dbname", DATABASE,
                "--name", name,
            )  # fmt: skip
        self._wait(self.settled, "a primary and a secondary")
        for name in ("node1", "node2"):
            # Speed only: a killed postmaster loses nothing the OS already holds, and
            # synchronous replication (what a failover relies on) stays on.
            self._psql(name, "ALTER SYSTEM SET fsync = off", "SELECT pg_reload_conf()")

    def _psql(self, name: str, *sql: str) -> None:
        commands = [a for statement in sql for a in ("-c", statement)]
        subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-h", HOST, "-p", str(self.ports[name]),
             "-U", self.owner, "-d", DATABASE, *commands],
            check=True, capture_output=True, cwd=self.dir, env=self._env, timeout=30,
            **self._user,
        )  # fmt: skip

    def _monitor_answers(self) -> bool:
        try:
            self.states()
        except RuntimeError:
            return False
        return True

    def states(self) -> dict[str, str]:
        """Each node's reported state, as the monitor has it."""
        out = self._run("show", "state", "--pgdata", str(self.dir / "monitor"), "--json")
        return {n["nodename"]: n["current_group_state"] for n in json.loads(out or "[]")}

    def settled(self) -> bool:
        found = sorted(self.states().values())
        return found == ["primary", "secondary"]

    def _wait(self, check: Any, what: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            for name, keeper in self._keepers.items():
                if keeper.poll() is not None:
                    log = (self.dir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"pg_autoctl for {name} exited:\n{log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} after {timeout:g}s: {self.states()}")
            time.sleep(0.5)

    # -- disruptions ------------------------------------------------------------------------

    def primary(self) -> str:
        return next(n for n, s in self.states().items() if s in ("primary", "wait_primary"))

    def switchover(self) -> None:
        """Move the primary to the standby, the way an operator does for maintenance."""
        self._run("perform", "switchover", "--pgdata", str(self.dir / "monitor"))
        self._wait(self.settled, "a primary and a secondary after the switchover")

    def kill_primary(self) -> str:
        """SIGKILL the primary's postmaster: a crash. Returns the node's name."""
        name = self.primary()
        pid = int((self.dir / name / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        return name

    def wait_settled(self) -> None:
        self._wait(self.settled, "a primary and a secondary")

    def stop(self) -> None:
        # Throwaway data: no clean shutdown to wait for. The keepers' process groups, then any
        # postmaster that left its group (its backends exit when it dies).
        for keeper in self._keepers.values():
            try:
                os.killpg(keeper.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            keeper.wait()
        for name in ("node1", "node2", "monitor"):  # a postmaster that left the group
            try:
                pid = int((self.dir / name / "postmaster.pid").read_text().split()[0])
                if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
