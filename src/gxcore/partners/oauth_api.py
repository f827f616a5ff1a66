"""POST /api/v1/oauth/token: OAuth 2.0 client credentials (RFC 6749 §4.4) for partners.

The body is `application/x-www-form-urlencoded` with `grant_type=client_credentials` and an
optional `scope` (a space-separated subset of the operations granted); the client authenticates
with HTTP Basic (preferred, §2.3.1) or `client_id`/`client_secret` form fields, never both.
Errors take RFC 6749's shape (§5.2), not problem+json, since OAuth clients parse it:
`{"error": "invalid_client"}` with 401 and `WWW-Authenticate: Basic` for an unknown client, a
wrong secret, a revoked credential, an expired or non-ACTIVE license, or a credential of
another tenant (not found in this one); 400 with `invalid_request`, `unsupported_grant_type`
or `invalid_scope` otherwise.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gxcore.errors import PartnerAccessRevoked
from gxcore.http import WHILE_PAUSED, Session, app_context, tenant_id
from gxcore.partners import credentials, service
from gxcore.partners.schemas import TokenResponse

router = APIRouter(prefix="/oauth", tags=["partners"])

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FIELD = 500
_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    },
}

#: RFC 6749 §5.2's error body, in place of problem+json for this endpoint's 400 and 401.
_OAUTH_ERROR: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            }
        }
    }
}
OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "RFC 6749 §5.2: invalid_request, unsupported_grant_type, invalid_scope",
          **_OAUTH_ERROR},
    401: {"description": "RFC 6749 §5.2: invalid_client", **_OAUTH_ERROR},
}  # fmt: skip


class _Refused(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error, self.description, self.status = error, description, status


def _refusal(e: _Refused) -> JSONResponse:
    headers = dict(NO_STORE)
    if e.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="gxcore", charset="UTF-8"'
    body = {"error": e.error, "error_description": e.description}
    return JSONResponse(body, status_code=e.status, headers=headers)


def _form(raw: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as e:
        raise _Refused("invalid_request", "the body is not a form") from e
    if any(len(v) > 1 for v in fields.values()):
        raise _Refused("invalid_request", "a parameter is repeated")  # §3.2
    form = {k: v[0] for k, v in fields.items()}
    if any(len(v) > MAX_FIELD or "\x00" in v for v in form.values()):
        raise _Refused("invalid_request", "a parameter is too long or not text")
    return form


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization")
    in_form = "client_id" in form or "client_secret" in form
    if header is not None:
        if in_form:
            raise _Refused("invalid_request", "authenticate one way: Basic or form, not both")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise _Refused("invalid_client", "use HTTP Basic client authentication", 401)
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise _Refused("invalid_client", "malformed Basic credentials", 401) from e
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise _Refused("invalid_client", "malformed Basic credentials", 401)
        # §2.3.1: both are form-encoded before Basic encoding.
        client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
        if any(len(v) > MAX_FIELD or "\x00" in v for v in (client_id, secret)):
            raise _Refused("invalid_client", "malformed Basic credentials", 401)
        return client_id, secret
    if not form.get("client_id") or "client_secret" not in form:
        raise _Refused("invalid_client", "client authentication is required", 401)
    return form["client_id"], form["client_secret"]


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=OAUTH_ERRORS,
    openapi_extra={**WHILE_PAUSED, **_FORM_SCHEMA},
)
async def token(
    request: Request, session: Session, tenant: Annotated[str, Depends(tenant_id)]
) -> JSONResponse:
    """Exchange a partner's client credentials for a short-lived access token."""
    try:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != FORM:
            raise _Refused("invalid_request", f"send the parameters as {FORM}")
        form = _form(await request.body())
        client_id, secret = _client(request, form)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _Refused("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise _Refused("unsupported_grant_type", "only client_credentials is served")
        gx = app_context(request)
        now = gx.clock()
        try:
            standing, matched = await service.authenticate(
                client_id, secret, session=session, key=gx.jwt_key, now=now
            )
        except PartnerAccessRevoked as e:
            raise _Refused("invalid_client", e.args[0] if e.args else "access revoked", 401) from e
        if not matched:
            raise _Refused("invalid_client", "unknown client or wrong secret", 401)
        granted = set(standing.operations)
        wanted = set(form["scope"].split()) if form.get("scope") else granted
        if not wanted <= granted:
            raise _Refused("invalid_scope", "a requested scope is not granted to this client")
        access, ttl = credentials.issue_token(
            gx.jwt_key,
            app_id=standing.app_id,
            tenant_id=tenant,
            credential_id=standing.credential_id,
            operations=sorted(wanted),
            now=now,
        )
    except _Refused as e:
        return _refusal(e)
    answer = TokenResponse(access_token=access, expires_in=ttl, scope=" ".join(sorted(wanted)))
    return JSONResponse(answer.model_dump(), headers=NO_STORE)
