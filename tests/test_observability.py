"""Health, readiness and metrics: `/livez`, `/readyz`, `/health`, `/metrics`, on the API and on a
worker's own port, read from a real database and the embedded ledger.

Each test gets a private database (`scratch_url`): the outbox depth and the projector's lag are
whole-database numbers, which other tests' rows would move.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.cqrs.health import Probe
from gxcore.cqrs.ops_api import serving_ops
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType
from gxcore.ledger import EmbeddedLedger
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant
from tests.ledger_contract import Script

FAST = RelayConfig(batch_size=50, lease_seconds=5, submit_timeout=2, poll_interval=0.05)


@pytest.fixture
async def rdb(scratch_url: str) -> AsyncIterator[Database]:
    database = Database.connect(scratch_url, role_key=ROLE_KEY)
    yield database
    await database.dispose()


@pytest.fixture
async def ledger(scratch_url: str) -> AsyncIterator[EmbeddedLedger]:
    async with await EmbeddedLedger.open(scratch_url) as opened:
        yield opened


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, environment="test", **overrides)  # type: ignore[arg-type]


def ops_client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gx.test")  # type: ignore[arg-type]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if m and m[1] == name and ",".join(sorted((m[2] or "").split(","))) == wanted:
            return float(m[3])
    return None


async def put(db: Database, tenant: str, command_type: CommandType, n: int) -> None:
    async with db.tenant(tenant) as session:
        for i in range(n):
            await enqueue(
                session,
                service="test",
                command_type=command_type,
                request_id=f"{command_type.value}-{i}-{uuid.uuid4().hex[:6]}",
                payload={} if command_type is CommandType.BOOTSTRAP_SYSTEM else {
                    "userId": f"u-{i}", "biometricHash": f"bio-{i}", "nationality": "NG", "age": 30,
                },
            )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------


async def test_live_answers_and_ready_checks_database_migrations_and_projector(
    rdb: Database, ledger: EmbeddedLedger, scratch_url: str, tmp_path: Path
) -> None:
    app = create_app(
        database=rdb, settings=make_settings(tmp_path), owner_url=scratch_url, ledger=ledger
    )
    async with ops_client(app) as client:
        live = await client.get("/livez")
        assert live.status_code == 200 and live.json()["status"] == "ok"
        for path in ("/readyz", "/health"):
            ready = await client.get(path)
            assert ready.status_code == 200, ready.text
            checks = {c["name"]: c for c in ready.json()["checks"]}
            assert list(checks) == ["database", "migrations", "projector"]
            assert all(c["ok"] for c in checks.values())
            assert checks["migrations"]["detail"].startswith("at head")


async def test_not_ready_names_a_database_behind_the_migrations(
    rdb: Database, empty_url: str, tmp_path: Path
) -> None:
    # The owner URL of an unmigrated database: the process must not take traffic on it.
    app = create_app(database=rdb, settings=make_settings(tmp_path), owner_url=empty_url)
    async with ops_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "NOT_READY" and "migrations: at no revision" in body["detail"]
    failed = [c["name"] for c in body["checks"] if not c["ok"]]
    assert failed == ["migrations"]


async def test_not_ready_while_the_projector_trails_beyond_the_bound_ready_once_caught_up(
    rdb: Database, ledger: EmbeddedLedger, scratch_url: str, tmp_path: Path
) -> None:
    tenant = await register_tenant(rdb, f"t-{uuid.uuid4().hex[:8]}")
    await Script(ledger, tenant).bootstrap()  # events on the ledger, none projected
    settings = make_settings(tmp_path, ready_max_lag_blocks=0)
    app = create_app(database=rdb, settings=settings, owner_url=scratch_url, ledger=ledger)
    async with ops_client(app) as client:
        behind = await client.get("/readyz")
        assert behind.status_code == 503, behind.text
        assert "projector: 1 block(s)" in behind.json()["detail"]
        assert "the bound is 0 block(s)" in behind.json()["detail"]

        await Projector(rdb, ledger).run(once=True)
        caught_up = await client.get("/readyz")
        assert caught_up.status_code == 200, caught_up.text


async def test_a_database_that_does_not_answer_is_not_ready_within_the_timeout(
    tmp_path: Path,
) -> None:
    # Nothing listens on this port: the check fails fast and says which check.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Database.connect(f"postgresql://nobody@127.0.0.1:{port}/gx", role_key=ROLE_KEY)
    try:
        app = create_app(database=dead, settings=make_settings(tmp_path, probe_timeout=1))
        async with ops_client(app) as client:
            response = await client.get("/readyz")
            live = await client.get("/livez")
            scraped = (await client.get("/metrics")).text
    finally:
        await dead.dispose()
    assert live.status_code == 200
    assert response.status_code == 503
    assert [c["name"] for c in response.json()["checks"]] == ["database"]
    assert sample(scraped, "gx_metrics_database_up") == 0
    assert sample(scraped, "gx_outbox_commands", status="PENDING") is None


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


async def test_metrics_show_outbox_depth_relay_throughput_failures_and_projector_lag(
    rdb: Database, ledger: EmbeddedLedger, scratch_url: str, tmp_path: Path
) -> None:
    tenant = await register_tenant(rdb, f"t-{uuid.uuid4().hex[:8]}")
    app = create_app(
        database=rdb, settings=make_settings(tmp_path), owner_url=scratch_url, ledger=ledger
    )
    async with ops_client(app) as client:

        async def scrape() -> str:
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            return response.text

        before = await scrape()
        await put(rdb, tenant, CommandType.CREATE_USER, 3)  # refused: tenant not bootstrapped
        await put(rdb, tenant, CommandType.BOOTSTRAP_SYSTEM, 1)
        queued = await scrape()
        assert sample(queued, "gx_outbox_commands", status="PENDING") == 4
        assert sample(queued, "gx_metrics_database_up") == 1

        await Relay(rdb, ledger, FAST).drain()
        relayed = await scrape()

        def delta(name: str, **labels: str) -> float:
            return (sample(relayed, name, **labels) or 0) - (sample(before, name, **labels) or 0)

        assert sample(relayed, "gx_outbox_commands", status="PENDING") == 0
        committed = delta("gx_relay_commands_total", outcome="committed")
        failed = delta("gx_relay_commands_total", outcome="failed")
        assert (committed, failed) in {(1, 3), (4, 0)}  # bootstrap may run first in the block
        if failed:
            assert sample(relayed, "gx_outbox_commands", status="FAILED") == 3
            assert delta("gx_relay_failures_total", code="NOT_BOOTSTRAPPED") == 3
        height = sample(relayed, "gx_ledger_height")
        assert height is not None and height >= 1
        assert sample(relayed, "gx_projector_lag_blocks") == height  # nothing projected yet
        lag_seconds = sample(relayed, "gx_projector_lag_seconds")
        assert lag_seconds is not None and lag_seconds >= 0
        assert sample(relayed, "gx_eventdlq_entries") == 0

        await Projector(rdb, ledger).run(once=True)
        projected = await scrape()
        assert sample(projected, "gx_projector_lag_blocks") == 0
        assert sample(projected, "gx_projector_lag_seconds") == 0


async def test_request_latency_is_labelled_by_route_template_never_by_raw_path(
    rdb: Database, tmp_path: Path
) -> None:
    app = create_app(database=rdb, settings=make_settings(tmp_path))
    raw_id = uuid.uuid4().hex
    async with ops_client(app) as client:
        await client.get("/livez")
        await client.get(f"/api/v1/registration/{raw_id}", headers={"X-Tenant-Id": "no-such"})
        await client.get(f"/nothing/here/{raw_id}")
        text = (await client.get("/metrics")).text
    assert raw_id not in text
    count = "gx_http_request_duration_seconds_count"
    assert (sample(text, count, method="GET", route="/livez", status="200") or 0) >= 1
    assert (
        sample(
            text, count, method="GET", route="/api/v1/registration/{registration_id}", status="404"
        )
        or 0
    ) >= 1
    assert (sample(text, count, method="GET", route="unmatched", status="404") or 0) >= 1


async def test_a_worker_serves_health_and_metrics_on_its_own_port(
    rdb: Database, ledger: EmbeddedLedger, scratch_url: str, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = Probe(rdb, make_settings(tmp_path), owner_url=scratch_url, ledger=ledger)
    async with (
        serving_ops(probe, port=port, host="127.0.0.1"),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        text = (await client.get("/metrics")).text
        assert sample(text, "gx_ledger_height") == 0
        assert sample(text, "gx_outbox_commands", status="PENDING") == 0
    with pytest.raises(httpx.ConnectError):  # stopped with the block
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/livez")


async def test_gx_relay_serves_health_and_metrics_with_metrics_port(
    scratch_url: str, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    env.update(DATABASE_URL=scratch_url, GX_DATA_DIR=str(tmp_path))
    relay = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "gxcore", "relay", "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(600):  # up to a minute to start on a busy machine
                try:
                    ready = await client.get("/readyz")
                    break
                except httpx.ConnectError:
                    assert relay.returncode is None, "gx relay exited"
                    await asyncio.sleep(0.1)
            assert ready.status_code == 200, ready.text
            text = (await client.get("/metrics")).text
            assert sample(text, "gx_metrics_database_up") == 1
            assert sample(text, "gx_outbox_commands", status="PENDING") == 0
    finally:
        relay.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(relay.wait(), 60) == 0
