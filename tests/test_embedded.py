"""Real embedded PostgreSQL servers (no mocks): lifecycle, persistence, locking, auth."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from gxcore.db.embedded import EmbeddedServer, bin_path
from gxcore.errors import EmbeddedServerError, ServerAlreadyRunning


async def fetchval(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def accepts_tcp(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


async def test_ephemeral_server_serves_tcp_and_is_gone_after_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    srv = EmbeddedServer(data_dir, ephemeral=True)
    srv.start()
    try:
        state = json.loads((data_dir / "server.json").read_text())
        port = srv.port
        assert srv.url == f"postgresql://postgres:{state['password']}@127.0.0.1:{port}/postgres"
        assert srv.url_for("gx") == srv.url.removesuffix("/postgres") + "/gx"
        version = await fetchval(srv.url, "select current_setting('server_version_num')::int")
        assert version >= 160000
        assert await fetchval(srv.url, "show fsync") == "off"
        assert bin_path("pgbench").is_file()
    finally:
        srv.stop()
    assert not data_dir.exists()
    assert not accepts_tcp(port)
    with pytest.raises(EmbeddedServerError):
        srv.url  # noqa: B018 - a stopped server has no URL


async def test_persistent_server_keeps_url_and_data_across_restarts(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path) as srv:
        url = srv.url
        assert stat.S_IMODE((tmp_path / "server.json").stat().st_mode) == 0o600
        assert await fetchval(url, "show fsync") == "on"
        conn = await asyncpg.connect(url)
        await conn.execute("create table kept (v text); insert into kept values ('still here')")
        await conn.close()
        port = srv.port
    assert not accepts_tcp(port)

    with EmbeddedServer(tmp_path) as srv:
        assert srv.url == url and srv.port == port
        assert await fetchval(url, "select v from kept") == "still here"
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()


async def test_second_server_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path, ephemeral=True) as srv:
        pid = postmaster_pid(tmp_path)
        with pytest.raises(ServerAlreadyRunning) as exc:
            EmbeddedServer(tmp_path).start()
        assert str(tmp_path.resolve()) in str(exc.value) and "\n" not in str(exc.value)
        # The running server is untouched.
        assert postmaster_pid(tmp_path) == pid
        assert await fetchval(srv.url, "select 1") == 1


async def test_wrong_password_is_refused(tmp_path: Path) -> None:
    # A data dir too deep for a unix socket path: the socket goes to a private /tmp dir.
    data_dir = tmp_path / ("d" * 100)
    with EmbeddedServer(data_dir, ephemeral=True) as srv:
        password = json.loads((data_dir / "server.json").read_text())["password"]
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(srv.url.replace(password, "not-the-password"))
        assert await fetchval(srv.url, "select 1") == 1


def test_leftover_postmaster_of_a_crashed_process_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A gx process that dies without stop(): its lock is gone, its postmaster is not.
    code = (
        "import sys; from gxcore.db.embedded import EmbeddedServer\n"
        "srv = EmbeddedServer(sys.argv[1]); srv.start()\n"
        "print(srv.port, flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    orphan = postmaster_pid(tmp_path)
    assert accepts_tcp(port)

    with EmbeddedServer(tmp_path) as srv:
        assert "leftover" in caplog.text
        assert srv.port == port and postmaster_pid(tmp_path) != orphan
        psql = [bin_path("psql"), srv.url, "-Atc", "select 40 + 2"]
        assert subprocess.run(psql, capture_output=True, text=True, check=True).stdout == "42\n"
