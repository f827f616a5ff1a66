"""What every HTTP request passes through before any router: its id, its log context, its
latency, the body size limit and CORS (gxcore.app installs them, outermost first).

- `X-Request-Id`: taken from the request when it is a sane token (1-128 of `A-Za-z0-9._:-`),
  else generated; echoed on the response, and on every log line of the request;
- one access log line per request (logger `gxcore.access`), and the latency histogram labelled by
  the route's template (`/api/v1/wallets/{profile_id}/balance`, or `unmatched`), never the raw
  path, so the label set stays bounded;
- with tracing on, a server span per request (`GET /api/v1/...` by the route's template), child
  of the caller's W3C `traceparent` when it sends one; its trace id is echoed as
  `X-Trace-Id`, and the command the request enqueued is on it as `gx.command_id`;
- the body limit (`GX_MAX_BODY_BYTES`): a declared `Content-Length` above it is refused before
  anything is read; a body without one is counted while it streams and refused once it passes
  the limit. Either way a 413 problem+json `REQUEST_TOO_LARGE`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gxcore import logs, tracing
from gxcore.config import Settings
from gxcore.cqrs.metrics import HTTP_LATENCY
from gxcore.errors import RequestTooLarge
from gxcore.http import EXTRA_HEADERS, TENANT_HEADER, error_response

access_log = logging.getLogger("gxcore.access")

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _SANE_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


_suffixes: dict[str, re.Pattern[str]] = {}


def route_template(scope: Scope) -> str:
    """The matched route's full template (the prefix it was included under, then its own path),
    or `unmatched`. The prefix is a literal part of the path, so the label set stays bounded."""
    route = scope.get("route")
    own = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not own or regex is None:
        return UNMATCHED
    suffix = _suffixes.setdefault(regex.pattern, re.compile(regex.pattern.removeprefix("^")))
    path = scope["path"]
    found = next((m for m in suffix.finditer(path) if m.end() == len(path)), None)
    return path[: found.start()] + own if found else own


class RequestContext:
    """Request id, log context, access line and latency of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        if tracing.enabled():
            await self._traced(scope, receive, send, request_id)
        else:
            await self._serve(scope, receive, send, request_id, {})

    async def _traced(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in (b"traceparent", b"tracestate")
        }
        method = scope["method"]
        span = tracing.tracer().start_span(
            method,
            context=tracing.context_of_carrier(headers),
            kind=tracing.SpanKind.SERVER,
            attributes={"http.request.method": method, "gx.request_id": request_id},
        )
        trace_id = format(span.get_span_context().trace_id, "032x").encode()

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-trace-id", trace_id)]
                message = {**message, "headers": headers}
            await send(message)

        fields: dict[str, Any] = {}
        with tracing.span_in(span):
            try:
                await self._serve(scope, receive, send_with_trace, request_id, fields)
            finally:
                template = fields.get("route", UNMATCHED)
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
                if (status := fields.get("status")) is not None:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(tracing.StatusCode.ERROR)
                for name, key in (("command_id", tracing.COMMAND_ID), ("tenant", tracing.TENANT)):
                    if (value := fields.get(name)) is not None:
                        span.set_attribute(key, value)
                span.end()

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, seen: dict[str, Any]
    ) -> None:
        """Serve the request in its log context; `seen` gets the context's last fields."""
        status = 500  # what the client gets if the app dies before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(scope.get("state", {}).get(EXTRA_HEADERS, ()))
                message = {**message, "headers": headers}
            await send(message)

        with logs.context(request_id=request_id) as context:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                template = route_template(scope)
                method = scope["method"]
                HTTP_LATENCY.labels(method=method, route=template, status=str(status)).observe(
                    elapsed
                )
                context.update(method=method, route=template, status=status)
                duration_ms = round(elapsed * 1000, 1)
                access_log.info(
                    "%s %s %d", method, template, status, extra={"duration_ms": duration_ms}
                )
                seen.update(context)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` while the body streams. An HTTPException, so that FastAPI's body
    reading passes it on instead of calling the body malformed; answered by its own handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413)
        self.limit = limit


def _too_large(limit: int) -> JSONResponse:
    return error_response(
        RequestTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install_edge(app: FastAPI, settings: Settings) -> None:
    """The middleware of every request, in the order a request meets it."""

    @app.exception_handler(_BodyTooLarge)
    async def _body_too_large(request: Request, error: _BodyTooLarge) -> JSONResponse:
        return _too_large(error.limit)

    # Starlette runs the last added first: the request context sees everything (413s and CORS
    # refusals too), then CORS answers preflights before any body is counted.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                TENANT_HEADER,
                REQUEST_ID_HEADER,
                "Idempotency-Key",
            ],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContext)
