"""Server-level operations: reach a server, create and drop databases, translate driver errors.

Connection failures are turned into one readable `GxError` here, where they enter gxcore, so no
command ever shows a driver traceback for a wrong DATABASE_URL.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import URL

from gxcore.db.engine import async_url, libpq_url
from gxcore.errors import DatabaseError, DatabaseUnavailable

CONNECT_TIMEOUT = 10


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, fit for messages and logs."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=True)


def database_name(url: str | URL) -> str:
    return async_url(url).database or "postgres"


def with_database(url: str | URL, database: str) -> str:
    return libpq_url(async_url(url).set(database=database))


@asynccontextmanager
async def connect(url: str | URL) -> AsyncIterator[asyncpg.Connection]:
    """A raw asyncpg connection for server-level work, with failures explained in one line."""
    where = redacted(url)
    try:
        conn = await asyncpg.connect(libpq_url(url), timeout=CONNECT_TIMEOUT)
    except asyncpg.InvalidPasswordError as e:
        raise DatabaseUnavailable(f"{where}: wrong user or password; check DATABASE_URL") from e
    except asyncpg.InvalidCatalogNameError as e:
        raise DatabaseUnavailable(
            f"{where}: database does not exist; create it or fix DATABASE_URL"
        ) from e
    except asyncpg.InvalidAuthorizationSpecificationError as e:
        raise DatabaseUnavailable(f"{where}: access refused ({e}); check DATABASE_URL") from e
    except socket.gaierror as e:
        raise DatabaseUnavailable(f"{where}: unknown host; check DATABASE_URL") from e
    except (OSError, TimeoutError) as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e)).lower()
        raise DatabaseUnavailable(
            f"cannot reach {where}: {reason}; is the server running? check DATABASE_URL"
        ) from e
    except asyncpg.PostgresError as e:
        raise DatabaseError(f"{where}: {e}") from e
    try:
        yield conn
    finally:
        await conn.close()


async def check(url: str | URL) -> None:
    """Fail with a clear message unless `url` accepts connections."""
    async with connect(url) as conn:
        await conn.fetchval("SELECT 1")


async def database_exists(server_url: str | URL, name: str) -> bool:
    async with connect(server_url) as conn:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))


async def create_database(server_url: str | URL, name: str, *, template: str | None = None) -> None:
    sql = f"CREATE DATABASE {_ident(name)}"
    if template:
        sql += f" TEMPLATE {_ident(template)}"
    async with connect(server_url) as conn:
        await conn.execute(sql)


async def drop_database(server_url: str | URL, name: str) -> None:
    async with connect(server_url) as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")


async def is_marked_production(url: str | URL) -> bool:
    """True when the database carries `gx.environment = 'production'` in its settings.

    Mark a database with `ALTER DATABASE name SET gx.environment = 'production'`.
    """
    async with connect(url) as conn:
        value = await conn.fetchval("SELECT current_setting('gx.environment', true)")
    return value == "production"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
