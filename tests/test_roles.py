"""The application roles' passwords: derived under the role key, never under the owner's password."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import asyncpg
import pytest

from gxcore.config import Settings
from gxcore.db.engine import async_url, libpq_url
from gxcore.db.roles import ROLE_SECRET_FILE, ROLES, SYSTEM_ROLE, role_key, role_password, role_url
from gxcore.errors import ConfigurationError
from tests.conftest import ROLE_KEY

PEER_OWNER = "postgresql://owner@db.internal:5432/gx"  # peer, .pgpass or certificate auth


def empty_key_password(owner_url: str, role: str) -> str:
    """What anyone could compute when the key was the owner URL's (missing) password."""
    owner = async_url(owner_url)
    message = f"gxcore:{role}:{owner.username}@{owner.host}:{owner.port}".encode()
    digest = hmac.new(b"", message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.mark.parametrize("role", ROLES)
def test_an_owner_without_password_does_not_make_the_role_password_guessable(role: str) -> None:
    derived = role_password(ROLE_KEY, PEER_OWNER, role)
    assert derived != empty_key_password(PEER_OWNER, role)
    assert derived != role_password(b"another key of at least thirty-two chars", PEER_OWNER, role)
    assert derived == role_password(ROLE_KEY, PEER_OWNER, role)  # stable: every process agrees


def test_an_empty_role_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        role_password(b"", PEER_OWNER, SYSTEM_ROLE)
    with pytest.raises(ConfigurationError, match="empty"):
        role_url(PEER_OWNER, SYSTEM_ROLE, key=b"")


def test_the_role_key_comes_from_the_setting_or_a_per_data_dir_file(tmp_path: Path) -> None:
    secret = "a-role-secret-of-at-least-thirty-two-characters"
    assert role_key(Settings(data_dir=tmp_path, db_role_secret=secret)) == secret.encode()
    with pytest.raises(ConfigurationError, match="GX_DB_ROLE_SECRET"):
        role_key(Settings(data_dir=tmp_path, db_role_secret="short"))
    with pytest.raises(ConfigurationError, match="GX_DB_ROLE_SECRET"):
        role_key(Settings(data_dir=tmp_path, db_role_secret=None, environment="production"))
    dev = Settings(data_dir=tmp_path, db_role_secret=None)  # the run's key is in the environment
    assert role_key(dev) == role_key(dev) and len(role_key(dev)) >= 32
    assert (tmp_path / ROLE_SECRET_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / ROLE_SECRET_FILE).write_text("")  # a truncated key file
    with pytest.raises(ConfigurationError, match="empty"):
        role_password(role_key(dev), PEER_OWNER, SYSTEM_ROLE)


@pytest.mark.parametrize("role", ROLES)
async def test_the_roles_log_in_with_the_keyed_password_only(migrated_url: str, role: str) -> None:
    conn = await asyncpg.connect(role_url(migrated_url, role, key=ROLE_KEY))
    assert await conn.fetchval("SELECT current_user") == role
    await conn.close()
    guessed = async_url(migrated_url).set(username=role, password=empty_key_password(
        migrated_url, role
    ))  # fmt: skip
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(libpq_url(guessed))
