"""The OpenAPI document `gx api` serves, built once per test process (building it takes seconds,
and three modules read it at collection). Read it; never change it."""

from __future__ import annotations

from functools import cache
from typing import Any

from gxcore.app import create_served_app
from gxcore.config import Settings


@cache
def served_document() -> dict[str, Any]:
    # Building the app connects nothing; only its lifespan would.
    return create_served_app(Settings(environment="test")).openapi()
