"""Access tokens (signed JWTs) and refresh tokens (opaque, rotating, stored only as a hash).

An access token is an HS256 JWT under the server key (`GX_JWT_SECRET`), carrying `sub` (the
profile), `tenant`, `sid` (the session), `role`, `iat`, `exp` and `jti`. Expiry is checked
against the caller's clock, not the machine's, so it follows the app's injected clock.

A refresh token is `<sessionId>.<generation>.<secret>`, the secret an HMAC-SHA256 of the public
handle `<sessionId>.<generation>` under the server key: so a token of any generation, the current
one or one rotated away, can be checked as really issued, and a leaked table yields no token.
The session row keeps the handle of the current token in `refreshToken` (not a credential) and
the SHA-256 of the whole token in `refreshTokenHash` (the reference schema's column, no secret).
Each refresh moves the session to the next generation, so a genuine token of an earlier
generation is recognised as a replay (gxcore.identity.auth); a forged one is only invalid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from gxcore.config import Settings
from gxcore.errors import TokenExpired, TokenInvalid
from gxcore.keys import server_key

ALGORITHM = "HS256"
CLAIMS = ("sub", "tenant", "sid", "role", "iat", "exp", "jti")
DEV_SECRET_FILE = "jwt_secret"
MAX_REFRESH_TOKEN_LENGTH = 200


def jwt_key(settings: Settings) -> bytes:
    """GX_JWT_SECRET, or outside production a generated key kept in `<data_dir>/jwt_secret`."""
    return server_key(settings, settings.jwt_secret, variable="GX_JWT_SECRET", file=DEV_SECRET_FILE)


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    tenant: str
    sid: str
    role: str
    iat: int
    exp: int
    jti: str


def issue_access(
    key: bytes,
    *,
    profile_id: str,
    tenant_id: str,
    session_id: str,
    role: str,
    now: datetime,
    ttl: timedelta,
) -> tuple[str, datetime]:
    """A signed access token and the moment it expires."""
    issued = int(now.timestamp())
    expires = issued + int(ttl.total_seconds())
    claims = {
        "sub": profile_id,
        "tenant": tenant_id,
        "sid": session_id,
        "role": role,
        "iat": issued,
        "exp": expires,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), datetime.fromtimestamp(expires, UTC)


def read_access(key: bytes, token: str, *, now: datetime) -> AccessClaims:
    """The claims of a token this server signed that has not expired at `now`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": list(CLAIMS)},
        )
        parsed = AccessClaims(**{name: claims[name] for name in CLAIMS})
    except (jwt.InvalidTokenError, TypeError) as e:
        raise TokenInvalid("invalid access token") from e
    if not all(isinstance(getattr(parsed, n), str) for n in ("sub", "tenant", "sid", "role")):
        raise TokenInvalid("invalid access token")
    if not isinstance(parsed.exp, int) or now.timestamp() >= parsed.exp:
        raise TokenExpired("the access token has expired; refresh it")
    return parsed


# --------------------------------------------------------------------------------------------
# Refresh tokens
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshToken:
    token: str  # handed to the client once, never stored
    handle: str  # `<sessionId>.<generation>`: what the session row keeps in `refreshToken`
    digest: str  # SHA-256 of `token`: what it keeps in `refreshTokenHash`


def new_refresh(key: bytes, session_id: str, generation: int) -> RefreshToken:
    handle = f"{session_id}.{generation}"
    token = f"{handle}.{_secret(key, handle)}"
    return RefreshToken(token=token, handle=handle, digest=refresh_digest(token))


def _secret(key: bytes, handle: str) -> str:
    # The "gx-refresh:" prefix keeps these MACs apart from the JWT signatures under the same key.
    mac = hmac.new(key, f"gx-refresh:{handle}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def refresh_digest(token: str) -> str:
    # 256 bits no one can compute without the key need no slow hash.
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, int]:
    """(session id, generation) of a refresh token's public part; TokenInvalid when malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or not (parts[1].isascii() and parts[1].isdigit()):
        raise TokenInvalid("invalid refresh token")
    return parts[0], int(parts[1])


def generation_of(handle: str) -> int:
    """The generation a stored handle (`<sessionId>.<generation>`) names."""
    return int(handle.rsplit(".", 1)[1])


def issued(key: bytes, token: str) -> bool:
    """Whether this server issued `token` (of whichever generation), compared in constant time."""
    handle, _, secret = token.rpartition(".")
    return hmac.compare_digest(secret.encode(), _secret(key, handle).encode())
