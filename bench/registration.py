"""Registration throughput over HTTP: full registrations per second, and OTP checks per second.

    .venv/bin/python bench/registration.py [--registrations 200] [--verifications 1000]
                                           [--concurrency 8]

`gx api` runs as its own process (uvicorn, one worker) on a throwaway embedded PostgreSQL (or
DATABASE_URL, an owner with CREATEDB); the client drives it over TCP with `--concurrency`
requests in flight, reading each code from the development mailbox the server's message worker
writes after the request commits, as a user waits for their mail. Two phases, in one run:
- registrations: the 7 calls of a complete registration (email, email/verify, name-country,
  dob-gender, password, phone, phone/verify), timed end to end, the waits for the two codes
  included;
- OTP checks: `email/verify` with the right code on registrations started beforehand (the
  starting is not timed): a row lock, an HMAC, an update and its audit entry, per call.
Where the time goes: each step's share of the registration phase's request time, the CPU
seconds of the API process, of PostgreSQL (embedded server only) and of this client, and the
cost of one argon2id hash measured alone, with the hasher's parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
from common import ROLE_KEY, lift_limits  # bench/common.py, beside this script
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.admin.cli import ensure
from gxcore.db import migrate, server
from gxcore.db.embedded import EmbeddedServer
from gxcore.db.engine import create_engine
from gxcore.db.tenancy import Database
from gxcore.identity.passwords import PASSWORD_HASHER

OTP_SECRET = "bench-only-otp-secret-0123456789abcdef"
PASSWORD = "Correct-horse-battery-9"
STEPS = ["email", "email/verify", "name-country", "dob-gender", "password", "phone",
         "phone/verify"]  # fmt: skip
TICKS = os.sysconf("SC_CLK_TCK")
CODE_POLL, CODE_DEADLINE = 0.01, 30.0  # seconds

#: Every registration comes from this one address: its per-address limits are off here.
UNLIMITED = ("registrationStartsPerAddressHourly", "registrationChangesPerAddressHourly")


class Mailbox:
    """The server's development mailbox, read incrementally: the newest code per recipient."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.codes = path, 0, dict[str, str]()

    async def code(self, to: str) -> str:
        """The code sent to `to`, waited for: it arrives once the request has committed."""
        deadline = time.monotonic() + CODE_DEADLINE
        while True:
            self._read()
            if to in self.codes:
                return self.codes[to]
            if time.monotonic() > deadline:
                raise RuntimeError(f"no code reached {to} within {CODE_DEADLINE}s")
            await asyncio.sleep(CODE_POLL)

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break  # being written: read it whole next time
                self.offset += len(line)
                message = json.loads(line)
                words = [w.strip(".,()") for w in message["text"].split()]
                found = [w for w in words if len(w) == 6 and w.isdigit()]
                if found:
                    self.codes[message["to"]] = found[0]


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a process (and of the children it reaped, and of its live ones)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == pid:
                    ticks += int(stat[11]) + int(stat[12])
    return ticks / TICKS


class Driver:
    def __init__(self, base: str, mailbox: Mailbox, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.http = httpx.AsyncClient(base_url=base, limits=limits, timeout=60)
        self.mailbox, self.gate = mailbox, asyncio.Semaphore(concurrency)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.phones = iter(range(10**6))

    async def call(self, step: str, body: dict[str, object]) -> dict[str, object]:
        async with self.gate:
            started = time.perf_counter()
            response = await self.http.post(f"/api/v1/registration/{step}", json=body)
            self.latency[step].append(time.perf_counter() - started)
        if response.status_code >= 300:
            raise RuntimeError(f"{step}: {response.status_code} {response.text}")
        return response.json()

    async def start(self) -> tuple[str, str]:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        status = await self.call("email", {"email": email})
        return str(status["registrationId"]), email

    async def verify_email(self, rid: str, email: str) -> None:
        await self.call(
            "email/verify", {"registrationId": rid, "otp": await self.mailbox.code(email)}
        )

    async def register(self) -> None:
        rid, email = await self.start()
        await self.verify_email(rid, email)
        ref = {"registrationId": rid}
        await self.call("name-country", {**ref, "firstName": "Ada", "lastName": "Lovelace",
                                         "countryCode": "GB"})  # fmt: skip
        await self.call("dob-gender", {**ref, "dateOfBirth": "1990-12-10", "gender": "FEMALE"})
        await self.call("password", {**ref, "password": PASSWORD, "confirmPassword": PASSWORD})
        phone = f"+447911{next(self.phones):06d}"
        await self.call("phone", {**ref, "phoneNum": phone})
        status = await self.call("phone/verify", {**ref, "otp": await self.mailbox.code(phone)})
        assert status["currentStep"] == "COMPLETED", status


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_until_up(base: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as probe:
        while True:
            try:
                if (await probe.get(f"{base}/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("gx api did not start")
            await asyncio.sleep(0.2)


def argon2_cost(samples: int = 5) -> tuple[float, float]:
    """Median wall time and CPU time (all lanes' threads) of one hash, on an idle server."""
    wall, cpu = [], []
    for _ in range(samples):
        started, started_cpu = time.perf_counter(), time.process_time()
        PASSWORD_HASHER.hash(PASSWORD)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registrations", type=int, default=200)
    parser.add_argument("--verifications", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    embedded = None
    base_url = os.environ.get("DATABASE_URL")
    work = Path(tempfile.mkdtemp(prefix="gx-bench-"))
    if not base_url:
        embedded = EmbeddedServer(work / "pg", ephemeral=True)
        embedded.start()
        base_url = embedded.url
    name = f"gx_bench_{uuid.uuid4().hex[:8]}"
    await server.create_database(server.with_database(base_url, "postgres"), name)
    url = server.with_database(base_url, name)
    proc = None
    try:
        await migrate.upgrade(url, role_key=ROLE_KEY)
        await ensure(url, "default", key=ROLE_KEY)  # the tenant the requests name
        db = Database.connect(url, role_key=ROLE_KEY)
        async with db.system(reason="bench setup") as session:
            await lift_limits(session, "default", UNLIMITED)
        await db.dispose()
        engine = create_engine(url)  # countries are the owner's to write, as in `gx db seed`
        async with engine.begin() as conn:
            await admin.seed_countries(AsyncSession(bind=conn))
        await engine.dispose()

        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "GX_DATABASE_URL"}
        env.update(DATABASE_URL=url, GX_OTP_SECRET=OTP_SECRET, GX_ENVIRONMENT="test")
        api = [sys.executable, "-m", "gxcore", "api", "--port", str(port), "--data-dir", str(work)]
        proc = await asyncio.create_subprocess_exec(
            *api, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        await wait_until_up(base, proc)
        driver = Driver(base, Mailbox(work / "mailbox.jsonl"), args.concurrency)
        postmaster = None
        if embedded is not None:
            postmaster = int((embedded.pgdata / "postmaster.pid").read_text().split()[0])

        await asyncio.gather(*(driver.register() for _ in range(args.concurrency)))  # warm up
        driver.latency.clear()

        def cpu() -> tuple[float, float, float]:
            pg = cpu_seconds(postmaster, children=True) if postmaster else float("nan")
            return cpu_seconds(proc.pid), pg, time.process_time()

        cpu_before, started = cpu(), time.perf_counter()
        await asyncio.gather(*(driver.register() for _ in range(args.registrations)))
        reg_seconds = time.perf_counter() - started
        cpu_after = cpu()
        reg_latency = {step: list(driver.latency[step]) for step in STEPS}

        started_regs = await asyncio.gather(*(driver.start() for _ in range(args.verifications)))
        driver.latency.clear()
        started = time.perf_counter()
        await asyncio.gather(*(driver.verify_email(rid, email) for rid, email in started_regs))
        otp_seconds = time.perf_counter() - started
        otp_latency = driver.latency["email/verify"]
        await driver.http.aclose()

        hash_seconds, hash_cpu = argon2_cost()
        h = PASSWORD_HASHER
        print(f"gx api (1 uvicorn worker) on {'embedded PostgreSQL' if embedded else 'DATABASE_URL'}"
              f", {os.cpu_count()} CPUs, {args.concurrency} requests in flight")  # fmt: skip
        print(
            f"  full registrations: {args.registrations / reg_seconds:7.1f} /s  "
            f"({args.registrations} x 7 calls in {reg_seconds:.1f} s)"
        )
        print(
            f"  OTP checks:         {args.verifications / otp_seconds:7.1f} /s  "
            f"(email/verify, median {statistics.median(otp_latency) * 1000:.1f} ms, "
            f"p95 {statistics.quantiles(otp_latency, n=20)[-1] * 1000:.1f} ms)"
        )
        total = sum(sum(v) for v in reg_latency.values())
        print("  where a registration's request time goes (share, median latency):")
        for step in STEPS:
            values = reg_latency[step]
            print(
                f"    {step:13s} {sum(values) / total * 100:5.1f} %  "
                f"{statistics.median(values) * 1000:7.1f} ms"
            )
        api_cpu, pg_cpu, client_cpu = (b - a for a, b in zip(cpu_before, cpu_after, strict=True))
        per = 1000 / args.registrations
        print(
            f"  CPU per registration: API process {api_cpu * per:.1f} ms, PostgreSQL "
            f"{pg_cpu * per:.1f} ms, this client {client_cpu * per:.1f} ms"
        )
        print(
            f"  argon2id: time_cost={h.time_cost}, memory_cost={h.memory_cost} KiB "
            f"({h.memory_cost // 1024} MiB), parallelism={h.parallelism}, hash_len={h.hash_len},"
            f" salt_len={h.salt_len}: one per registration (password step), "
            f"{hash_seconds * 1000:.0f} ms wall / {hash_cpu * 1000:.0f} ms CPU per hash alone"
        )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), timeout=30)
        await server.drop_database(server.with_database(base_url, "postgres"), name)
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
