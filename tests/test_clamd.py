"""The scanner port's contract, run against the development scanner and a real clamd.

clamd (Debian's clamav-daemon, which .ci/run installs) is started here with a private config
and a signature database of one signature written by the test, since the public signatures
cannot be downloaded in this set-up. Where clamd is missing or does not start, its cases skip
saying which.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gxcore.errors import ScannerUnavailable
from gxcore.kyc.scanner import EICAR, ClamdScanner, EicarScanner, Scanner, ScanStatus

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
SIGNATURE = "Gx.Test.EICAR"
START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clamd_binary() -> str | None:
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/bin/clamd") if Path(p).exists()), None
    )


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A private clamd: (its host:port, its unix socket)."""
    binary = _clamd_binary()
    if binary is None:
        pytest.skip("clamd is not installed (Debian package clamav-daemon; .ci/run installs it)")
    home = tmp_path_factory.mktemp("clamd")
    (home / "db").mkdir()
    # An .ndb body signature: any file type, anywhere in the file.
    (home / "db" / "gx-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    port, sock = _free_port(), home / "clamd.sock"
    config = home / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"DatabaseDirectory {home / 'db'}",
                f"LocalSocket {sock}",
                "TCPAddr 127.0.0.1",
                f"TCPSocket {port}",
                f"LogFile {home / 'clamd.log'}",
                f"PidFile {home / 'clamd.pid'}",
                "StreamMaxLength 20M",
                "",
            ]
        )
    )
    proc = subprocess.Popen(
        [binary, "--config-file", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while not _pings(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            log = (home / "clamd.log").read_text() if (home / "clamd.log").exists() else ""
            why = (err.decode(errors="replace") + log).strip().splitlines()[-3:]
            pytest.skip(f"clamd ({binary}) did not start: {' | '.join(why) or 'no answer'}")
        time.sleep(0.2)
    try:
        yield f"127.0.0.1:{port}", str(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["eicar", "clamd-tcp", "clamd-unix"])
def scanner(request: pytest.FixtureRequest) -> Scanner:
    if request.param == "eicar":
        return EicarScanner()
    tcp, unix = request.getfixturevalue("clamd")
    return ClamdScanner(tcp if request.param == "clamd-tcp" else unix)


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_a_clean_file_is_clean(scanner: Scanner) -> None:
    verdict = await scanner.scan(_split(PDF * 2000, 4096))
    assert verdict.status is ScanStatus.CLEAN and verdict.signature is None


async def test_eicar_is_found_anywhere_even_across_chunks(scanner: Scanner) -> None:
    data = PDF * 100 + EICAR + PDF
    split_inside = len(PDF) * 100 + 20  # a chunk boundary inside the signature
    chunks = [data[:split_inside], data[split_inside:]]
    verdict = await scanner.scan(chunks)
    assert verdict.status is ScanStatus.INFECTED and verdict.signature


async def test_the_real_daemon_names_the_signature(clamd: tuple[str, str]) -> None:
    verdict = await ClamdScanner(clamd[0]).scan([EICAR])
    assert verdict.signature is not None and SIGNATURE in verdict.signature


async def test_an_unreachable_clamd_is_no_verdict() -> None:
    with pytest.raises(ScannerUnavailable):
        await ClamdScanner(f"127.0.0.1:{_free_port()}", timeout=2).scan([PDF])
    with pytest.raises(ScannerUnavailable):
        await ClamdScanner("/nonexistent/clamd.sock", timeout=2).scan([PDF])


async def test_parallel_scans_each_get_their_own_verdict(clamd: tuple[str, str]) -> None:
    scanner = ClamdScanner(clamd[0])
    verdicts = await asyncio.gather(
        *(scanner.scan([PDF + (EICAR if i % 2 else b"")]) for i in range(8))
    )
    assert [v.status for v in verdicts] == [
        ScanStatus.INFECTED if i % 2 else ScanStatus.CLEAN for i in range(8)
    ]
