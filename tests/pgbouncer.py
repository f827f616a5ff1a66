"""A real PgBouncer (Debian's `pgbouncer` package) in transaction pooling mode, for the tests.

    with PgBouncer(server_url, users={"gx_app": password, ...}) as bouncer:
        bouncer.url          # postgresql://127.0.0.1:<port>  (any database name passes through)
        bouncer.stats()      # SHOW STATS totals, to prove traffic went through it

Its files live in a private temporary directory. As root it runs as the embedded server's system
user (PgBouncer, like PostgreSQL, refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from gxcore.db.embedded import SYSTEM_USER, _ensure_system_user, bin_path
from gxcore.db.engine import async_url

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
ADMIN_USER = "gxbouncer"  # the console's own login, never a database role


def missing_reason() -> str | None:
    """Why PgBouncer cannot run here, or None."""
    if not Path(BINARY).exists():
        return "pgbouncer is not installed (Debian package `pgbouncer`; .ci/run installs it)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class PgBouncer:
    def __init__(self, server_url: str, *, users: dict[str, str], pool_size: int = 20) -> None:
        server = async_url(server_url)
        self.port = _free_port()
        self.url = f"postgresql://127.0.0.1:{self.port}"
        self._admin_password = os.urandom(12).hex()
        self._dir = Path(tempfile.mkdtemp(prefix="gxbouncer-"))
        users = {**users, ADMIN_USER: self._admin_password}
        (self._dir / "userlist.txt").write_text(
            "".join(f"{_quote(u)} {_quote(p)}\n" for u, p in users.items())
        )
        (self._dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server.host} port={server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self._dir / 'userlist.txt'}\n"
            f"admin_users = {ADMIN_USER}\n"
            "pool_mode = transaction\nlog_connections = 0\nlog_disconnections = 0\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 1000\n"
            f"logfile = {self._dir / 'pgbouncer.log'}\npidfile = {self._dir / 'pgbouncer.pid'}\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        command = [BINARY, str(self._dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            user = _ensure_system_user()
            for path in (self._dir, *self._dir.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
            command[1:1] = ["-u", SYSTEM_USER]
        # Its log goes to the logfile; a pipe nobody drains would block it once full.
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self._log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"pgbouncer did not listen on {self.port}: {self._log()}")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _log(self) -> str:
        log = self._dir / "pgbouncer.log"
        return log.read_text()[-2000:] if log.exists() else "(no log)"

    def admin(self, command: str) -> list[list[str]]:
        """A command of PgBouncer's admin console (SHOW STATS, RECONNECT, ...), its rows."""
        # The console speaks the simple query protocol only: psql, not asyncpg.
        out = subprocess.run(
            [bin_path("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", ADMIN_USER,
             "-d", "pgbouncer", "-At", "-F", "\t", "-c", command],
            env={**os.environ, "PGPASSWORD": self._admin_password},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [line.split("\t") for line in out.splitlines()]

    def stats(self) -> dict[str, int]:
        """Transactions and queries PgBouncer carried, summed over its databases."""
        rows = self.admin("SHOW STATS")
        return {
            "xacts": sum(int(row[1]) for row in rows),
            "queries": sum(int(row[2]) for row in rows),
        }
