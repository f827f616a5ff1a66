"""HTTP plumbing every router shares: errors as problem+json, and the per-request unit of work.

This is the only module that knows HTTP status codes. A GxError's status comes from the first
class in its MRO listed in `_STATUS` (so a new error joins its family's status without a line
here); anything unlisted a caller caused is a 400. The body is RFC 9457 problem+json, with the
error's stable `code`, its details as extension members, and `errors` naming the fields of a
validation failure.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from gxcore import logs
from gxcore.admin.service import tenant_paused
from gxcore.audit.chain import truncate_ms
from gxcore.config import Settings
from gxcore.db import pages
from gxcore.db.reconnect import is_disconnect
from gxcore.db.scope import RequestMeta, valid_tenant_id
from gxcore.db.tenancy import READ_FROM, Database
from gxcore.errors import (
    Conflict,
    CrossTenant,
    DatabaseError,
    DatabaseUnavailable,
    DeliveryFailed,
    Forbidden,
    Gone,
    GxError,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    SystemPaused,
    TenantScopeRequired,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TENANT_HEADER = "X-Tenant-Id"
DEFAULT_TENANT = "default"

# Success statuses other than 200, named here so routers carry no numbers.
CREATED = 201
ACCEPTED = 202
NO_CONTENT = 204

_STATUS: dict[type[GxError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    IdempotencyConflict: 409,
    Gone: 410,
    PreconditionFailed: 412,
    TooLarge: 413,
    TooManyRequests: 429,
    # Another tenant's row is, for this caller, a row that does not exist.
    CrossTenant: 404,
    TenantScopeRequired: 403,
    DeliveryFailed: 503,
    SystemPaused: 503,
    DatabaseUnavailable: 503,
    DatabaseError: 500,
}
CALLER_ERROR = 400
SERVER_ERROR = 500
UNAVAILABLE = 503
UNPROCESSABLE = 422


# RFC 9457 body of every error answer; extension members (`currentStep`, `retryAfter`, ...) vary.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable; what clients branch on"},
        "errors": {
            "type": "array",
            "description": "the fields of a validation failure",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


# The error answers any operation may give, documented once for every router (see gxcore.app).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Bad request (e.g. `INVALID_CURSOR`: not a cursor this list returned)"),
    401: _problem_response("Missing, invalid or revoked access token"),
    403: _problem_response("Not allowed for this caller or account state"),
    404: _problem_response("No such resource in this tenant"),
    409: _problem_response("The resource's state does not allow the call"),
    410: _problem_response("Expired"),
    413: _problem_response("A request body, or a file in it, over its size limit"),
    422: _problem_response("Invalid input; `errors` names each field"),
    429: _problem_response("Too many attempts; see `Retry-After`"),
    503: _problem_response(
        "The tenant's system is paused (SYSTEM_PAUSED), or a dependency is down"
    ),
}


# Optimistic locking over HTTP: a versioned resource answers its version as a strong ETag, and
# an update that sends it back in If-Match is made only if the resource is still at it.
ETAG = "ETag"
IF_MATCH = "If-Match"
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')

ETAG_HEADER: dict[str, Any] = {
    ETAG: {
        "description": 'the resource\'s version, quoted (`"3"`): send it back in `If-Match`',
        "schema": {"type": "string"},
    }
}
#: `responses=` of a route answering a versioned resource.
VERSIONED: dict[int | str, dict[str, Any]] = {200: {"description": "OK", "headers": ETAG_HEADER}}
#: `responses=` of a route updating one, under `If-Match`.
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    **VERSIONED,
    409: _problem_response(
        "The resource's state does not allow the call, or it changed while this update ran "
        "(CONCURRENT_MODIFICATION, with `currentVersion`)"
    ),
    412: _problem_response(
        "If-Match names a version the resource no longer has (PRECONDITION_FAILED, with "
        "`currentVersion`)"
    ),
}


def etag(version: int) -> str:
    return f'"{version}"'


def _expected_versions(
    if_match: Annotated[
        str | None,
        Header(
            alias=IF_MATCH,
            description='the ETag read (`"3"`; several comma-separated, or `*`): the update is '
            "made only if the resource is still at that version, else 412",
        ),
    ] = None,
) -> frozenset[int] | None:
    """The versions `If-Match` accepts; None for any (no header, or `*`). Weak tags never
    match (If-Match compares strongly, RFC 9110 13.1.1); a malformed header is a 422."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions: set[int] = set()
    for tag in if_match.split(","):
        found = _ENTITY_TAG.fullmatch(tag)
        if found is None:
            raise ValidationFailed(
                'If-Match must be "*" or quoted entity tags such as "3"', field=IF_MATCH
            )
        weak, opaque = found.groups()
        if not weak and opaque.isascii() and opaque.isdigit() and len(opaque) <= 10:
            versions.add(int(opaque))
    return frozenset(versions)


#: The versions an update's `If-Match` accepts (None: any), for `gxcore.db.versions.require`.
IfMatch = Annotated[frozenset[int] | None, Depends(_expected_versions)]


def status_for(error: GxError) -> int:
    status = next((_STATUS[c] for c in type(error).__mro__ if c in _STATUS), CALLER_ERROR)
    return UNAVAILABLE if error.transient and status == SERVER_ERROR else status


def problem(
    status: int, *, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:gx:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_response(error: GxError) -> JSONResponse:
    extra = dict(error.details)
    if (field := extra.pop("field", None)) is not None:
        extra["errors"] = [{"field": field, "message": error.message}]
    headers = None
    if isinstance(error, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    if isinstance(error, TooManyRequests) and error.retry_after is not None:
        headers = {"Retry-After": str(error.retry_after)}
        extra["retryAfter"] = error.retry_after
    return problem(
        status_for(error), code=error.code, detail=error.message, headers=headers, **extra
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = loc[1:] if loc and loc[0] == "body" and len(loc) > 1 else loc
    return ".".join(str(p) for p in parts)


JSON_INVALID = "json_invalid"


def _not_json(message: str) -> JSONResponse:
    errors = [{"field": "body", "message": message, "type": JSON_INVALID}]
    return problem(UNPROCESSABLE, code=ValidationFailed.code, detail=message, errors=errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GxError)
    async def _gx_error(request: Request, error: GxError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        found = error.errors()
        if bad_json := next((e for e in found if e["type"] == JSON_INVALID), None):
            # Its loc is ("body", <character offset>): where parsing stopped, not a field.
            why = bad_json.get("ctx", {}).get("error", bad_json["msg"])
            return _not_json(
                f"the body is not valid JSON: {why} at character {bad_json['loc'][-1]}"
            )
        errors = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in found
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(
            UNPROCESSABLE, code=ValidationFailed.code, detail=f"invalid: {fields}", errors=errors
        )

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == CALLER_ERROR and error.__cause__ is not None:
            # FastAPI could not read the body (not UTF-8): invalid input like malformed JSON.
            return _not_json("the body is not valid JSON: it is not UTF-8 text")
        code = HTTPStatus(error.status_code).name
        return problem(error.status_code, code=code, detail=str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        if is_disconnect(error):  # outside a unit of work (a middleware, a probe): still a 503
            log.warning("database away on %s %s: %s", request.method, request.url.path, error)
            return error_response(DatabaseUnavailable(f"the database is not reachable: {error}"))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(SERVER_ERROR, code="INTERNAL_ERROR", detail="internal error")


# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppContext:
    """Everything a request may need, built once per app (see gxcore.app) and injected."""

    database: Database
    settings: Settings
    clock: Callable[[], datetime]
    otp_key: bytes
    jwt_key: bytes
    cursors: pages.Cursors


def app_context(request: Request) -> AppContext:
    return request.app.state.gx


def tenant_id(x_tenant_id: Annotated[str, Header(alias=TENANT_HEADER)] = DEFAULT_TENANT) -> str:
    return valid_tenant_id(x_tenant_id)  # InvalidTenant -> 422


#: OpenAPI extension of the write operations still served while the tenant's system is paused:
#: signing in and out, and the administration the ledger accepts while paused (resume first).
ALLOWED_WHILE_PAUSED = "x-gx-allowed-while-paused"
#: `openapi_extra=WHILE_PAUSED` on a route marks it so.
WHILE_PAUSED: dict[str, Any] = {ALLOWED_WHILE_PAUSED: True}
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def served_while_paused(request: Request) -> bool:
    if request.method in _READS:
        return True
    route = request.scope.get("route")  # the matched APIRoute (FastAPI sets it when routing)
    return bool((getattr(route, "openapi_extra", None) or {}).get(ALLOWED_WHILE_PAUSED))


async def unit_of_work(
    request: Request, tenant: Annotated[str, Depends(tenant_id)]
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on any error.

    Its first statement checks that the tenant exists (TENANT_NOT_FOUND, 404, nothing written)
    and reads whether its system is paused, in the same round trip: while paused, every write
    but those marked `WHILE_PAUSED` is refused here (SYSTEM_PAUSED, 503), before any handler
    or body check runs; reads are served.
    A refused call that must keep one write (a counted OTP guess, a failed login) makes it in a
    transaction of its own (`Database.beside`), never by committing this one.
    """
    async with tenant_transaction(request, tenant) as session:
        yield session


@asynccontextmanager
async def tenant_transaction(request: Request, tenant: str) -> AsyncIterator[AsyncSession]:
    """The request's transaction as `unit_of_work` opens it, for a route that must open more
    than one (an upload reads its body between two, holding no connection meanwhile)."""
    gx = app_context(request)
    logs.note(tenant=tenant)
    meta = RequestMeta(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    database = gx.database
    replicated = database.replica_engine is not None
    reads = replicated and request.method in _READS
    unit: AbstractAsyncContextManager[AsyncSession] = (
        database.reading(tenant, request=meta, after_lsn=_seen_lsn(request))
        if reads
        else database.tenant(tenant, request=meta)
    )
    async with unit as session:
        if await tenant_paused(session, tenant) and not served_while_paused(request):
            raise SystemPaused(
                f"the system of tenant {tenant!r} is paused: writes are refused until an "
                "administrator resumes it; reads are served"
            )
        if reads:
            respond_with_header(request, READ_FROM_HEADER, session.info[READ_FROM])
        yield session
    if replicated and not reads:
        await _remember_write(request, database)


# --------------------------------------------------------------------------------------------
# Read replicas: where reads go is decided here and in Database.reading, for every route.
# --------------------------------------------------------------------------------------------

#: After a write: the primary's WAL position (bytes), as a response header and a short-lived
#: cookie. A read that brings it back (cookie or header) is served by the replica only once the
#: replica has replayed that far: the caller always sees its own writes.
LSN_HEADER = "X-GX-LSN"
LSN_COOKIE = "gx_lsn"
#: On each read when a replica is configured: `replica` or `primary`.
READ_FROM_HEADER = "X-GX-Read-From"
#: `request.state` key of the headers the request's unit of work adds to its response (sent by
#: gxcore.edge.RequestContext: by then FastAPI has built the response).
EXTRA_HEADERS = "gx_headers"
# Past this LSN nothing is served by a replica: what an unreadable token asks for.
_EVERYTHING = 2**64


def respond_with_header(request: Request, name: str, value: str) -> None:
    headers = request.scope.setdefault("state", {}).setdefault(EXTRA_HEADERS, [])
    headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))


def _seen_lsn(request: Request) -> int:
    seen = 0
    for token in (request.headers.get(LSN_HEADER), request.cookies.get(LSN_COOKIE)):
        if token is None:
            continue
        try:
            seen = max(seen, int(token))
        except ValueError:
            return _EVERYTHING  # garbled: the primary, to be sure the caller's writes show
    return seen


async def _remember_write(request: Request, database: Database) -> None:
    try:
        lsn = await database.primary_lsn()
    except Exception as e:  # noqa: BLE001  the write committed: its answer must not become a 503
        log.warning("no WAL position after a write (reads may miss it on a replica): %s", e)
        return
    # The cookie outlives no usable replica: one lagging more than the bound is skipped anyway.
    max_age = math.ceil(database.replica_max_lag) + 1
    respond_with_header(request, LSN_HEADER, str(lsn))
    cookie = f"{LSN_COOKIE}={lsn}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax"
    respond_with_header(request, "set-cookie", cookie)


# scope="function": the transaction ends before the response is sent, so a client never sees
# a success that then fails to commit.
Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def request_now(request: Request) -> datetime:
    """The app clock's now, cut to the milliseconds timestamptz(3) keeps: what a call returns
    is what a later read shows. One per request (FastAPI caches a dependency's value)."""
    return truncate_ms(app_context(request).clock())


Now = Annotated[datetime, Depends(request_now)]


def page_request(
    request: Request,
    tenant: Annotated[str, Depends(tenant_id)],
    limit: Annotated[
        int, Query(ge=1, le=pages.MAX_LIMIT, description="rows per page")
    ] = pages.DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=pages.MAX_CURSOR_LENGTH, description="the previous page's `nextCursor`"),
    ] = None,
    page: Annotated[
        int | None,
        Query(
            ge=1,
            le=pages.MAX_PAGE_NUMBER,
            description="a page number (offset pages); without it, pages go by `cursor`",
        ),
    ] = None,
) -> pages.PageRequest:
    """`limit`, `cursor` and `page` of a list endpoint. Its cursors are bound to the tenant and
    the path they were served on: another list's cursor, or this list's of another wallet or
    user, is INVALID_CURSOR."""
    binding = f"{tenant}\n{request.url.path}"
    return pages.PageRequest(
        app_context(request).cursors, binding, limit=limit, cursor=cursor, page=page
    )


Paging = Annotated[pages.PageRequest, Depends(page_request)]
