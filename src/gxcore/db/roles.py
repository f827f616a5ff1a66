"""The database roles gxcore's code runs as.

- the owner: whoever `DATABASE_URL` names; owns the tables and runs the migrations;
- `gx_app`: every tenant-scoped request; owns nothing, cannot bypass row-level security, and its
  policy shows only the rows of the tenant set with `app.tenant_id` in the current transaction;
- `gx_system`: the explicit system scope (relay, projector, jobs); a separate login whose policy
  spans tenants, so a tenant connection can never widen itself into it.

The roles are created by the tenancy migration. Their passwords are derived from the owner's
credentials (HMAC), so a deployment needs no extra secret; `gx db migrate` sets them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy.engine import URL

from gxcore.db.engine import async_url, libpq_url
from gxcore.db.server import connect

APP_ROLE = "gx_app"
SYSTEM_ROLE = "gx_system"
ROLES = (APP_ROLE, SYSTEM_ROLE)


def role_password(owner_url: str | URL, role: str) -> str:
    owner = async_url(owner_url)
    key = (owner.password or "").encode()
    message = f"gxcore:{role}:{owner.username}@{owner.host}:{owner.port}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def role_url(owner_url: str | URL, role: str) -> str:
    """The owner's address, logged in as `role`."""
    url = async_url(owner_url).set(username=role, password=role_password(owner_url, role))
    return libpq_url(url)


async def sync_passwords(owner_url: str | URL) -> None:
    """Give the roles the passwords this owner derives (after the migration created them)."""
    async with connect(owner_url) as conn:
        existing = {r[0] for r in await conn.fetch("SELECT rolname FROM pg_roles")}
        for role in ROLES:
            if role in existing:  # absent only below the tenancy revision
                # urlsafe base64 needs no quoting beyond the literal's quotes.
                password = role_password(owner_url, role)
                await conn.execute(f"ALTER ROLE {role} PASSWORD '{password}'")
