"""`/livez`, `/readyz`, `/health` and `/metrics`: on the API, and on a port of their own for
`gx relay` and `gx projector run` (`--metrics-port`).

- `/livez`: the process answers (nothing else is touched), 200;
- `/readyz` (and `/health`, the name load balancers often expect): 200 with every check when
  ready, else 503 problem+json `NOT_READY` naming the failed checks (gxcore.cqrs.health);
- `/metrics`: Prometheus text (gxcore.cqrs.metrics).
They sit outside `/api/v1` and outside the OpenAPI document, and take no tenant: they
describe the process, not an account.
The probe is read from `app.state.probe` (None: readiness checks nothing but liveness).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from http import HTTPStatus

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gxcore.cqrs.health import Probe, Readiness
from gxcore.cqrs.metrics import CONTENT_TYPE, exposition
from gxcore.errors import ConfigurationError

log = logging.getLogger(__name__)

NOT_READY = "NOT_READY"
PROBLEM_JSON = "application/problem+json"

# Left out of /openapi.json: they take no input, describe the process rather than the API, and
# answer none of the API's errors (docs/operations.md, "Health, metrics and logs", documents them).
router = APIRouter(tags=["operations"], include_in_schema=False)


def _probe(request: Request) -> Probe | None:
    return getattr(request.app.state, "probe", None)


@router.get(
    "/livez",
    summary="Liveness: the process answers",
)
async def livez() -> JSONResponse:
    return JSONResponse({"status": "ok", "checks": []})


async def _readiness(request: Request) -> JSONResponse:
    probe = _probe(request)
    found = await probe.readiness() if probe is not None else Readiness([])
    checks = [c.as_json() for c in found.checks]
    if found.ready:
        return JSONResponse({"status": "ready", "checks": checks})
    failed = "; ".join(f"{c.name}: {c.detail}" for c in found.failed)
    body = {
        "type": f"urn:gx:problem:{NOT_READY}",
        "title": HTTPStatus.SERVICE_UNAVAILABLE.phrase,
        "status": 503,
        "detail": f"not ready: {failed}",
        "code": NOT_READY,
        "checks": checks,
    }
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)


@router.get("/readyz", summary="Readiness: database, migrations, projector lag")
async def readyz(request: Request) -> JSONResponse:
    return await _readiness(request)


@router.get("/health", summary="Readiness, under the name load balancers expect")
async def health(request: Request) -> JSONResponse:
    return await _readiness(request)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    return Response(await exposition(_probe(request)), media_type=CONTENT_TYPE)


def ops_app(probe: Probe) -> FastAPI:
    """The four routes alone, for a worker process (no OpenAPI page)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    app.state.probe = probe
    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a worker's event loop: the worker owns SIGTERM/SIGINT, not uvicorn."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving_ops(
    probe: Probe, *, port: int | None, host: str = "127.0.0.1"
) -> AsyncIterator[None]:
    """Serve the ops routes on `port` while the block runs (no port: serve nothing)."""
    if port is None:
        yield
        return
    config = uvicorn.Config(
        ops_app(probe), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():  # uvicorn exits when it cannot bind
            with suppress(BaseException):
                task.result()
            raise ConfigurationError(f"cannot serve health and metrics on {host}:{port}")
        await asyncio.sleep(0.01)
    log.info("health and metrics on http://%s:%d", host, port)
    try:
        yield
    finally:
        server.should_exit = True
        await task
