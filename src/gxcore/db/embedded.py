"""A private PostgreSQL server for when no DATABASE_URL is given.

The binaries come from the `pgserver` wheel; we use its files only, not its server class.
Layout of a data dir: pgdata/ (the cluster), server.json (port, superuser, password; 0600),
server.lock (flock held while a server runs), postgres.log.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

from gxcore.errors import EmbeddedServerError, ServerAlreadyRunning

log = logging.getLogger(__name__)

# Found without importing pgserver: importing it has side effects (runtime dirs, warnings).
_PGSERVER = importlib.util.find_spec("pgserver")
if _PGSERVER is None or _PGSERVER.origin is None:
    raise ImportError("the pgserver package is not installed: pip install -e .")
PG_INSTALL = Path(_PGSERVER.origin).resolve().parent / "pginstall"
HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "gxpg"  # PostgreSQL refuses to run as root; as root we run it as this user
DURABLE_OPTS = ["max_connections=100"]
# Throwaway test servers: durability buys nothing there, speed does.
EPHEMERAL_OPTS = [
    "max_connections=200",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
]


def bin_path(name: str) -> Path:
    """Path of a bundled PostgreSQL binary, e.g. bin_path("pgbench")."""
    path = PG_INSTALL / "bin" / name
    if not path.is_file():
        raise EmbeddedServerError(f"bundled PostgreSQL binary not found: {path}")
    return path


class EmbeddedServer:
    """One PostgreSQL server on data_dir, owned by this process from start() to stop()."""

    def __init__(self, data_dir: Path | str, *, ephemeral: bool = False) -> None:
        # Absolute and symlink-free: binaries run with another cwd, and we chmod real parents.
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.ephemeral = ephemeral
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self._state_file = self.data_dir / "server.json"
        self._lock_fd: int | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._tmp_socket_dir: Path | None = None
        self._port: int | None = None
        self._password = ""

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError(f"the embedded server in {self.data_dir} is not running")
        return self._port

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        # token_urlsafe passwords need no escaping; database names might.
        db = quote(database, safe="")
        return f"postgresql://{SUPERUSER}:{self._password}@{HOST}:{self.port}/{db}"

    @classmethod
    def running(cls, data_dir: Path | str) -> EmbeddedServer:
        """A handle on the server another gx process (`gx up`) runs in `data_dir`.

        The handle only gives its URL; stopping it is a no-op, the owner stops the server.
        """
        server = cls(data_dir)
        state = server._read_state()
        pid = _postmaster_pid(server.pgdata)
        if pid is None or "port" not in state or "password" not in state:
            raise EmbeddedServerError(
                f"{server.data_dir} is locked by another gx process but its server is not up; "
                "wait for it to finish starting, or stop it"
            )
        server._port, server._password = int(state["port"]), state["password"]
        return server

    def start(self) -> None:
        if self._lock_fd is not None:
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock()  # before touching anything another process may be using
            try:
                self._start_locked()
            except BaseException:
                self._abort()
                raise
        except OSError as e:
            raise EmbeddedServerError(f"cannot start PostgreSQL in {self.data_dir}: {e}") from e

    def stop(self) -> None:
        if self._lock_fd is None:
            return
        try:
            self._stop_postmaster()
        finally:
            self._release()
        if self.ephemeral:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _lock(self) -> None:
        # os.open fds are not inherited, so a postmaster never keeps our lock after we die.
        fd = os.open(self.data_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServerAlreadyRunning(
                f"another gx process is already running the database in {self.data_dir}; "
                "stop it first or use --data-dir",
                data_dir=str(self.data_dir),
            ) from None
        self._lock_fd = fd

    def _start_locked(self) -> None:
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user()
            self._grant_access()
            # The server user puts its unix socket here and initdb reads the pwfile from here.
            self._chown(self.data_dir)
        self.log_file.touch(mode=0o600)
        self._chown(self.log_file)

        state = self._read_state()
        if not (self.pgdata / "PG_VERSION").exists():
            state["password"] = secrets.token_urlsafe(24)
            self._write_state(state)  # recorded first: never a cluster with an unknown password
            self._initdb(state["password"])
        elif not state.get("password"):
            raise EmbeddedServerError(
                f"{self._state_file} is missing or unreadable and holds the password of the "
                f"cluster in {self.pgdata}; restore it or move the data dir away"
            )
        elif _postmaster_pid(self.pgdata) is not None:
            # The lock was free, so this postmaster outlived the gx process that started it.
            log.warning("stopping a leftover PostgreSQL server on %s", self.pgdata)
            self._stop_postmaster()
        port = _pick_port(state.get("port"))
        self._write_state({"port": port, "user": SUPERUSER, "password": state["password"]})
        self._port, self._password = port, state["password"]

        opts = ["-h", HOST, "-p", str(port), "-k", str(self._socket_dir())]
        for setting in EPHEMERAL_OPTS if self.ephemeral else DURABLE_OPTS:
            opts += ["-c", setting]
        start = ["start", "-w", "-t", "60", "-D", self.pgdata, "-l", self.log_file]
        # pg_ctl hands -o to /bin/sh, hence the shell quoting.
        self._pg("pg_ctl", *start, "-o", shlex.join(opts), what="PostgreSQL failed to start")
        ready = ["-q", "-t", "30", "-h", HOST, "-p", str(port), "-U", SUPERUSER, "-d", "postgres"]
        self._pg("pg_isready", *ready, what="PostgreSQL does not accept connections")
        log.info("embedded PostgreSQL on %s:%s, data dir %s", HOST, port, self.data_dir)

    def _initdb(self, password: str) -> None:
        shutil.rmtree(self.pgdata, ignore_errors=True)  # a half-initialised cluster from a crash
        self.pgdata.mkdir(mode=0o700)
        self._chown(self.pgdata)
        pwfile = self.data_dir / ".pwfile"
        pwfile.unlink(missing_ok=True)
        with os.fdopen(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(password + "\n")
        self._chown(pwfile)
        args = ["-D", self.pgdata, "-U", SUPERUSER, "--encoding=UTF8", "--locale=C"]
        args += ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        if self.ephemeral:
            args.append("--no-sync")
        try:
            self._pg("initdb", *args, what="initdb failed")
        except BaseException:
            shutil.rmtree(self.pgdata, ignore_errors=True)  # so the next start re-inits
            raise
        finally:
            pwfile.unlink(missing_ok=True)

    def _stop_postmaster(self) -> None:
        for mode in ("fast", "immediate"):
            try:
                self._pg("pg_ctl", "stop", "-w", "-t", "60", "-D", self.pgdata, "-m", mode,
                         what="PostgreSQL failed to stop")  # fmt: skip
            except EmbeddedServerError:
                pass  # judged by the pid file below: pg_ctl also fails if the server crashed
            if _postmaster_pid(self.pgdata) is None:
                return
        raise self._error(f"PostgreSQL in {self.data_dir} does not stop")

    def _abort(self) -> None:
        """Undo a failed start: leave no running server and no held lock behind."""
        if _postmaster_pid(self.pgdata) is not None:
            try:
                self._stop_postmaster()
            except EmbeddedServerError:
                log.exception("could not stop PostgreSQL after a failed start")
        self._release()

    def _release(self) -> None:
        if self._tmp_socket_dir is not None:
            shutil.rmtree(self._tmp_socket_dir, ignore_errors=True)
            self._tmp_socket_dir = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the fd releases the flock
            self._lock_fd = None
        self._port = None

    def _socket_dir(self) -> Path:
        # sun_path holds only ~104-108 bytes; deep data dirs get a private dir in /tmp instead.
        if len(os.fsencode(self.data_dir / f".s.PGSQL.{self._port}")) < 100:
            return self.data_dir
        self._tmp_socket_dir = Path(tempfile.mkdtemp(prefix="gxpg-"))
        self._chown(self._tmp_socket_dir)
        return self._tmp_socket_dir

    def _pg(self, name: str, *args: object, what: str) -> None:
        """Run a bundled binary as the server user, appending its output to the server log."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGHOST
        user: dict[str, Any] = {}
        if self._run_as is not None:
            user = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        cmd = [str(bin_path(name)), *map(str, args)]
        with open(self.log_file, "a") as out:
            try:
                rc = subprocess.run(
                    cmd, check=False, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, cwd=self.data_dir, env=env, timeout=120, **user,
                ).returncode  # fmt: skip
            except subprocess.TimeoutExpired:
                rc = -1
        if rc != 0:
            raise self._error(f"{what} in {self.data_dir} ({name} exit code {rc})")

    def _error(self, message: str) -> EmbeddedServerError:
        """One-line message, then the tail of the server log (callers print it as is)."""
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
            tail = [line for line in lines if line.strip()][-5:]
        except OSError:
            tail = []
        text = f"{message}; end of {self.log_file}:\n" + "\n".join(tail)
        return EmbeddedServerError(text, data_dir=str(self.data_dir))

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_file.read_text())
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            json.dump(state, f)
        os.replace(tmp, self._state_file)  # atomic: a crash never leaves half a password

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _grant_access(self) -> None:
        """As root: let the server user reach data_dir and read/run the bundled install."""
        for parent in [*self.data_dir.parents, *PG_INSTALL.parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:  # the search bit only: never expose listings or contents
                parent.chmod(mode | stat.S_IXOTH)
        libs = PG_INSTALL.parent.parent / "pgserver.libs"  # auditwheel's copy of libpq
        for root in [PG_INSTALL / "bin", PG_INSTALL / "lib", PG_INSTALL / "share", libs]:
            for path in [root, *root.rglob("*")] if root.exists() else []:
                mode = path.stat().st_mode
                want = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
                if want != mode:
                    path.chmod(want)


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    try:
        return pwd.getpwnam(SYSTEM_USER)  # also fine if a concurrent process just created it
    except KeyError:
        raise EmbeddedServerError(
            f"cannot create the system user {SYSTEM_USER!r} to run PostgreSQL as: "
            f"{proc.stderr.strip() or f'useradd exit code {proc.returncode}'}"
        ) from None


def _postmaster_pid(pgdata: Path) -> int | None:
    """PID of a live postmaster per pgdata/postmaster.pid, else None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm")  # Linux: don't take a recycled pid for postgres
        if comm.exists():
            return pid if comm.read_text().strip() == "postgres" else None
        os.kill(pid, 0)  # elsewhere: the process exists, that must do
        return pid
    except (OSError, ValueError, IndexError):
        return None


def _pick_port(recorded: object) -> int:
    """The recorded port if it is still free on HOST, else a new free one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR as PostgreSQL uses it: TIME_WAIT leftovers of our last run don't count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, recorded if isinstance(recorded, int) else 0))
        except (OSError, OverflowError):  # taken, or garbage in server.json
            s.bind((HOST, 0))
        return s.getsockname()[1]
