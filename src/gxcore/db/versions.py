"""Optimistic locking's request side: a write made only if the row is at a version the caller
has seen (HTTP `If-Match`). The check on the row as read, under its lock, and the ORM's own
`WHERE version = ...` at flush make it safe against writers that come in between."""

from __future__ import annotations

from collections.abc import Collection

from gxcore.db.base import Versioned
from gxcore.errors import PreconditionFailed


def require(row: Versioned, expected: Collection[int] | None, *, what: str) -> None:
    """PRECONDITION_FAILED (with `currentVersion`) unless `row` is at one of the `expected`
    versions; None (no `If-Match`, or `*`) accepts any."""
    if expected is None or row.version in expected:
        return
    seen = ", ".join(str(v) for v in sorted(expected)) or "none"
    raise PreconditionFailed(
        f"{what} is at version {row.version}, not {seen}: read it again and retry",
        currentVersion=row.version,
    )
