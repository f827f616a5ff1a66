"""The HTTP edge: the body size limit (declared or streamed), CORS from configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func, select

from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.db.tenancy import Database
from gxcore.identity.models import PendingRegistration
from tests.test_registration import assert_problem

LIMIT = 1024


def client(db: Database, settings: Settings, tenant: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(database=db, settings=settings)),
        base_url="http://gx.test/api/v1",
        headers={"X-Tenant-Id": tenant},
    )


def limited(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, environment="test", max_body_bytes=LIMIT, **overrides)  # type: ignore[arg-type]


async def registrations(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as session:
        return await session.scalar(select(func.count()).select_from(PendingRegistration)) or 0


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    db: Database, tmp_path: Path, tenant: str
) -> None:
    body = {"email": "big@example.com", "pad": "x" * LIMIT}
    async with client(db, limited(tmp_path), tenant) as c:
        response = await c.post("/registration/email", json=body)
    problem = assert_problem(response, 413, "REQUEST_TOO_LARGE")
    assert problem["limit"] == LIMIT
    assert await registrations(db, tenant) == 0


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(
    db: Database, tmp_path: Path, tenant: str
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        nonlocal sent
        yield b'{"email": "big@example.com", "pad": "'
        for _ in range(64):
            sent += 1
            yield b"x" * 256
        yield b'"}'

    async with client(db, limited(tmp_path), tenant) as c:
        response = await c.post(
            "/registration/email", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 413, "REQUEST_TOO_LARGE")
    assert sent < 64  # stopped reading early
    assert await registrations(db, tenant) == 0


async def test_a_body_within_the_limit_goes_through(
    db: Database, tmp_path: Path, tenant: str
) -> None:
    async with client(db, limited(tmp_path), tenant) as c:
        response = await c.post("/registration/email", json={"email": "not-an-email"})
    assert_problem(response, 422, "VALIDATION_FAILED")


async def test_cors_is_off_by_default_and_allows_only_configured_origins(
    db: Database, tmp_path: Path, tenant: str
) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-tenant-id",
    }
    async with client(db, Settings(data_dir=tmp_path, environment="test"), tenant) as c:
        off = await c.options("/registration/email", headers=preflight)
        plain = await c.get("/registration/nope", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in off.headers
    assert "access-control-allow-origin" not in plain.headers

    settings = Settings(
        data_dir=tmp_path, environment="test", cors_origins="https://app.example.com"
    )
    assert settings.cors_origins == ["https://app.example.com"]
    async with client(db, settings, tenant) as c:
        allowed = await c.options("/registration/email", headers=preflight)
        other = await c.options(
            "/registration/email", headers={**preflight, "Origin": "https://evil.example"}
        )
        simple = await c.get("/registration/nope", headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "X-Request-Id" in simple.headers["access-control-expose-headers"]
