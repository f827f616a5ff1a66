"""Client credentials and partner access tokens.

A client secret is 256 random bits, shown once when issued. The row keeps
`hmac-sha256$<hex>`: an HMAC-SHA256 of the client id and secret under the server key
(GX_JWT_SECRET), not argon2. A slow hash protects what people choose; a 256-bit random secret
cannot be guessed whatever the hash, and the token endpoint is called by machines, often, so an
argon2 check (0.1-0.2 s and 64 MiB each, gxcore.identity.passwords) would only hand anyone
with a client id a way to load the server. Keyed, a leaked table yields nothing checkable
without the key; binding the client id stops a hash being moved to another row.

A partner access token is an HS256 JWT under the same key, audience `gx-partner`, carrying
`sub` (the application), `tenant`, `cid` (the credential), `scope` (the operations granted when
issued, space-separated as RFC 6749 has it), `iat`, `exp`, `jti`. The audience keeps the two
kinds apart: a user token has none, and PyJWT refuses a token with an audience when none is
expected, so a partner token never passes as a user's, nor a user's as a partner's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from gxcore.errors import TokenExpired, TokenInvalid
from gxcore.identity.tokens import ALGORITHM

AUDIENCE = "gx-partner"
CLAIMS = ("sub", "tenant", "cid", "scope", "iat", "exp", "jti", "aud")
TOKEN_TTL = timedelta(minutes=10)
_SCHEME = "hmac-sha256$"


def new_client_id() -> str:
    return f"gxc_{secrets.token_hex(12)}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(key: bytes, client_id: str, secret: str) -> str:
    # The "gx-client-secret:" prefix keeps these MACs apart from others under the same key.
    message = f"gx-client-secret:{client_id}:{secret}".encode()
    return _SCHEME + hmac.new(key, message, hashlib.sha256).hexdigest()


def secret_matches(key: bytes, stored: str | None, client_id: str, secret: str) -> bool:
    """Constant-time; with no stored hash (no such client) the MAC is computed all the same."""
    computed = secret_hash(key, client_id, secret)
    return hmac.compare_digest(computed.encode(), (stored or "").encode()) and stored is not None


@dataclass(frozen=True)
class PartnerClaims:
    sub: str  # the application
    tenant: str
    cid: str  # the credential
    scope: str
    exp: int


def issue_token(
    key: bytes,
    *,
    app_id: str,
    tenant_id: str,
    credential_id: str,
    operations: list[str],
    now: datetime,
) -> tuple[str, int]:
    """A signed partner token and its lifetime in seconds."""
    issued = int(now.timestamp())
    ttl = int(TOKEN_TTL.total_seconds())
    claims = {
        "sub": app_id,
        "tenant": tenant_id,
        "cid": credential_id,
        "scope": " ".join(sorted(operations)),
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), ttl


def is_partner_token(token: str) -> bool:
    """Whether a bearer token claims to be a partner's (unverified: it only picks the check)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return False
    return isinstance(claims, dict) and claims.get("aud") == AUDIENCE


def read_token(key: bytes, token: str, *, now: datetime) -> PartnerClaims:
    """The claims of a partner token this server signed that has not expired at `now`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "require": list(CLAIMS)},
        )
        parsed = PartnerClaims(
            **{name: claims[name] for name in ("sub", "tenant", "cid", "scope", "exp")}
        )
    except (jwt.InvalidTokenError, TypeError) as e:
        raise TokenInvalid("invalid access token") from e
    if not all(isinstance(getattr(parsed, n), str) for n in ("sub", "tenant", "cid", "scope")):
        raise TokenInvalid("invalid access token")
    if not isinstance(parsed.exp, int) or now.timestamp() >= parsed.exp:
        raise TokenExpired("the access token has expired; ask /oauth/token for another")
    return parsed
