"""Engines and URLs: one driver (asyncpg) everywhere, built where they are used and injected."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gxcore.errors import ConfigurationError

ASYNC_DRIVER = "postgresql+asyncpg"


def async_url(url: str | URL) -> URL:
    """Normalise a `postgresql://` (or `postgres://`) address to the asyncpg dialect."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception as e:  # sqlalchemy raises ArgumentError with a long message
        raise ConfigurationError(f"not a database URL: {url!s}") from e
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"gxcore needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername=ASYNC_DRIVER)


def libpq_url(url: str | URL) -> str:
    """The plain `postgresql://` form other tools (psql, pgbench, asyncpg) understand."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(async_url(url), **kwargs)
