"""The API app a test talks to: one per test process for each edge configuration.

FastAPI prepares a router's routes (their dependencies and field models) on the first request an
app sends through that router: about 0.1 s a router, and every router for a path none of them
serves. A new app per test paid that again in every test. `per_test` builds the test's app as
usual and hands back the process's app for the same edge settings, its state (database,
settings, clock, keys, vault, probe) replaced by the new app's. Tests run one at a time in a
process, so no two tests share it at once. A test that changes its app (adds a route) or needs
two apps side by side builds its own with `create_app`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gxcore.app import create_app
from gxcore.config import Settings

_SHARED: dict[tuple[object, ...], FastAPI] = {}


def _edge(settings: Settings) -> tuple[object, ...]:
    """What `gxcore.edge.install_edge` builds the middleware from."""
    return (settings.max_body_bytes, tuple(settings.cors_origins))


def per_test(*, settings: Settings, **kwargs: Any) -> FastAPI:
    fresh = create_app(settings=settings, **kwargs)
    shared = _SHARED.setdefault(_edge(settings), fresh)
    # A route an earlier test added would answer in this one: such a test needs its own app.
    assert len(shared.routes) == len(fresh.routes), "a test added routes to the shared app"
    shared.state = fresh.state
    return shared
