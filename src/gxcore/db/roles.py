"""The database roles gxcore's code runs as.

- the owner: whoever `DATABASE_URL` names; owns the tables and runs the migrations;
- `gx_app`: every tenant-scoped request; owns nothing, cannot bypass row-level security, and its
  policy shows only the rows of the tenant set with `app.tenant_id` in the current transaction;
- `gx_system`: the explicit system scope (relay, projector, jobs); a separate login whose policy
  spans tenants, so a tenant connection can never widen itself into it.

The roles are created by the tenancy migration; `gx db migrate` sets their passwords. Each is an
HMAC of the role and the owner's address under the role key (`GX_DB_ROLE_SECRET`, or outside
production a generated key kept in the data dir, like the other server keys): never under the
owner's password, which peer, `.pgpass` or certificate authentication leave empty, and anyone
could then compute `gx_system`'s password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy.engine import URL

from gxcore.config import Settings
from gxcore.db.engine import async_url, libpq_url
from gxcore.db.server import connect
from gxcore.errors import ConfigurationError
from gxcore.keys import server_key

APP_ROLE = "gx_app"
SYSTEM_ROLE = "gx_system"
ROLES = (APP_ROLE, SYSTEM_ROLE)
ROLE_SECRET_FILE = "db_role_secret"


def role_key(settings: Settings) -> bytes:
    """GX_DB_ROLE_SECRET, or outside production a generated key kept in `<data_dir>/db_role_secret`."""
    return server_key(
        settings, settings.db_role_secret, variable="GX_DB_ROLE_SECRET", file=ROLE_SECRET_FILE
    )


def role_password(key: bytes, owner_url: str | URL, role: str) -> str:
    if not key:
        raise ConfigurationError(
            "the database role key is empty: role passwords would be guessable"
        )
    owner = async_url(owner_url)
    message = f"gxcore:{role}:{owner.username}@{owner.host}:{owner.port}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def role_url(owner_url: str | URL, role: str, *, key: bytes) -> str:
    """The owner's address, logged in as `role`."""
    url = async_url(owner_url).set(username=role, password=role_password(key, owner_url, role))
    return libpq_url(url)


async def sync_passwords(owner_url: str | URL, *, key: bytes) -> None:
    """Give the roles the passwords derived under `key` (after the migration created them)."""
    async with connect(owner_url) as conn:
        existing = {r[0] for r in await conn.fetch("SELECT rolname FROM pg_roles")}
        for role in ROLES:
            if role in existing:  # absent only below the tenancy revision
                # urlsafe base64 needs no quoting beyond the literal's quotes.
                password = role_password(key, owner_url, role)
                await conn.execute(f"ALTER ROLE {role} PASSWORD '{password}'")
