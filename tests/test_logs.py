"""Log lines: request ids taken or made and echoed, one access line per request carrying the
request id and tenant, the command id of what a request queued, and JSON lines from `gx relay`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gxcore import logs
from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.cqrs.outbox import enqueue
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every gxcore log line of the test, as the JSON formatter writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    access = logging.getLogger("gxcore.access")
    before = access.level
    root.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        access.setLevel(before)


def parsed(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def client(db: Database, tmp_path: Path, tenant: str) -> httpx.AsyncClient:
    app = create_app(database=db, settings=Settings(data_dir=tmp_path, environment="test"))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gx.test",
        headers={"X-Tenant-Id": tenant},
    )


async def test_a_request_id_is_taken_when_sane_made_otherwise_and_echoed(
    db: Database, tmp_path: Path, tenant: str
) -> None:
    async with client(db, tmp_path, tenant) as c:
        given = await c.get("/livez", headers={"X-Request-Id": "edge-42.a:b"})
        made = await c.get("/livez")
        unsafe = await c.get("/livez", headers={"X-Request-Id": "x" * 129})
        on_error = await c.get("/api/v1/registration/nope", headers={"X-Request-Id": "err-1"})
    assert given.headers["X-Request-Id"] == "edge-42.a:b"
    assert len(made.headers["X-Request-Id"]) == 32
    assert unsafe.headers["X-Request-Id"] != "x" * 129
    assert on_error.status_code == 404 and on_error.headers["X-Request-Id"] == "err-1"


async def test_each_request_writes_one_json_access_line_with_its_id_and_tenant(
    db: Database, tmp_path: Path, tenant: str, json_lines: io.StringIO
) -> None:
    async with client(db, tmp_path, tenant) as c:
        await c.get("/api/v1/registration/nope", headers={"X-Request-Id": "req-abc"})
    access = [line for line in parsed(json_lines) if line["logger"] == "gxcore.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-abc" and line["tenant"] == tenant
    assert line["route"] == "/api/v1/registration/{registration_id}" and line["status"] == 404
    assert line["method"] == "GET" and isinstance(line["duration_ms"], float)
    assert line["level"] == "info" and "ts" in line


async def test_a_queued_command_names_its_id_in_the_lines_of_its_request(
    db: Database, tenant: str, json_lines: io.StringIO
) -> None:
    log = logging.getLogger("gxcore.test")
    with logs.context(request_id="r-1"):
        async with db.tenant(tenant) as session:
            command = await enqueue(
                session,
                service="test",
                command_type=CommandType.BOOTSTRAP_SYSTEM,
                request_id=f"boot-{uuid.uuid4().hex[:6]}",
                payload={},
            )
        log.warning("after the enqueue")
    log.warning("outside any request")
    inside, outside = [line for line in parsed(json_lines) if line["logger"] == "gxcore.test"]
    assert inside["command_id"] == command.id and inside["request_id"] == "r-1"
    assert "command_id" not in outside and "request_id" not in outside


def test_text_lines_carry_the_same_context_as_key_value_pairs() -> None:
    record = logging.LogRecord("gxcore.x", logging.WARNING, __file__, 1, "hello", None, None)
    with logs.context(request_id="r-9", tenant="acme"):
        text = logs.TextFormatter().format(record)
    assert text.endswith("gxcore.x: hello request_id=r-9 tenant=acme")


async def test_gx_relay_writes_json_lines_naming_the_command_it_could_not_deliver(
    scratch_url: str, tmp_path: Path
) -> None:
    rdb = Database.connect(scratch_url, role_key=ROLE_KEY)
    try:
        tenant = await register_tenant(rdb, f"t-{uuid.uuid4().hex[:8]}")
        async with rdb.tenant(tenant) as session:  # refused: the tenant is not bootstrapped
            command = await enqueue(
                session,
                service="test",
                command_type=CommandType.CREATE_USER,
                request_id="u-1",
                payload={"userId": "u-1", "biometricHash": "b", "nationality": "NG", "age": 30},
            )
    finally:
        await rdb.dispose()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    env.update(DATABASE_URL=scratch_url, GX_LOG_FORMAT="json", GX_DATA_DIR=str(tmp_path))
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gxcore", "relay", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines and len(lines) == len(done.stderr.splitlines())  # every line is JSON
    rejected = [line for line in lines if line.get("command_id") == command.id]
    assert rejected and rejected[0]["tenant"] == tenant
    assert "NOT_BOOTSTRAPPED" in str(rejected[0]["message"])
