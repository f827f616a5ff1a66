"""Engines and URLs: one driver (asyncpg) everywhere, built where they are used and injected."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gxcore.config import Settings
from gxcore.errors import ConfigurationError

ASYNC_DRIVER = "postgresql+asyncpg"


# `scheme://[userinfo@]host:port,host:port[/db][?query]`: libpq's list of servers to try in turn.
_HOST_LIST = re.compile(r"^(?P<head>[^:/]+://(?:[^@/]*@)?)(?P<hosts>[^/?@]*,[^/?@]*)(?P<tail>.*)$")


def _hosts_to_query(url: str) -> str:
    """libpq's multi-host form, which SQLAlchemy cannot parse, as SQLAlchemy's: every server a
    `host=name:port` query item (what its asyncpg dialect hands asyncpg as a host list)."""
    found = _HOST_LIST.match(url)
    if found is None:
        return url
    tail = found["tail"]
    path, _, query = tail.partition("?")
    hosts = "&".join(f"host={quote(h, safe=':[]')}" for h in found["hosts"].split(",") if h)
    return f"{found['head']}{path or '/'}?{hosts}{'&' + query if query else ''}"


def hosts_of(url: URL) -> list[str]:
    """`host:port` of each server `url` names, in order (one for a plain URL)."""
    listed = url.query.get("host")
    if isinstance(listed, tuple) and len(listed) > 1:
        return list(listed)
    return [f"{url.host}:{url.port or 5432}"]


def async_url(url: str | URL) -> URL:
    """Normalise a `postgresql://` (or `postgres://`) address to the asyncpg dialect.

    A multi-host address (`host1:port1,host2:port2`, as libpq takes it, with
    `target_session_attrs=read-write` to find the primary) is kept as a list of servers."""
    try:
        parsed = make_url(_hosts_to_query(url)) if isinstance(url, str) else url
    except Exception as e:  # sqlalchemy raises ArgumentError with a long message
        raise ConfigurationError(f"not a database URL: {url!s}") from e
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"gxcore needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername=ASYNC_DRIVER)


def libpq_url(url: str | URL) -> str:
    """The plain `postgresql://` form other tools (psql, pgbench, asyncpg) understand; several
    servers are written as libpq's host list, the form asyncpg's own parser reads."""
    parsed = async_url(url).set(drivername="postgresql")
    hosts = hosts_of(parsed)
    if len(hosts) == 1:
        return parsed.render_as_string(hide_password=False)
    query = {k: v for k, v in parsed.query.items() if k != "host"}
    single = parsed.set(host="HOSTS", port=None, query=query)
    return single.render_as_string(hide_password=False).replace("@HOSTS", "@" + ",".join(hosts), 1)


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(async_url(url), **kwargs)


def on_server(url: str | URL, server: str | URL) -> URL:
    """`url`'s login (user, password, options) on another server: `server`'s host(s) and port,
    and its database if it names one (a replica)."""
    login, there = async_url(url), async_url(server)
    # Which servers to try, and what kind (target_session_attrs), are the server's to say.
    kept = {k: v for k, v in login.query.items() if k not in ("host", "target_session_attrs")}
    query = kept | dict(there.query)
    return login.set(
        host=there.host, port=there.port, database=there.database or login.database, query=query
    )


@dataclass(frozen=True)
class PoolConfig:
    """How the role engines pool connections, and whether a transaction-mode pooler is between.

    Behind a pooler in transaction mode (PgBouncer before 1.21), consecutive transactions of one
    client connection may run on different server connections: nothing may outlive a
    transaction. gxcore keeps no session state (the tenant and the statement timeout are
    transaction-local, sent with BEGIN), and in that mode no prepared statement either.
    """

    size: int = 5
    max_overflow: int = 10
    timeout: float = 30.0
    statement_timeout_ms: int = 0
    #: Host, port and optionally database of the pooler (see Settings.pooler_url).
    pooler_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolConfig:
        return cls(
            size=settings.db_pool_size,
            max_overflow=settings.db_pool_max_overflow,
            timeout=settings.db_pool_timeout,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            pooler_url=settings.pooler_url,
        )

    def route(self, url: str | URL) -> URL:
        """`url` (a role's login on the server) sent through the pooler, if there is one."""
        direct = async_url(url)
        if self.pooler_url is None:
            return direct
        pooler = async_url(self.pooler_url)
        return direct.set(
            host=pooler.host, port=pooler.port, database=pooler.database or direct.database
        )

    def engine_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
        }
        if self.pooler_url is not None:
            # With both caches off, asyncpg parses each statement unnamed, inside its
            # transaction: the next Parse replaces it, so none outlives its server connection.
            kwargs["connect_args"] = {
                "statement_cache_size": 0,  # asyncpg's
                "prepared_statement_cache_size": 0,  # SQLAlchemy's
            }
        return kwargs
