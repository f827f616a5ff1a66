"""Opaque keyset cursors over `(instant, id)`: what a page's last row was, for the next page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from gxcore.db.types import storable
from gxcore.errors import ValidationFailed

T = TypeVar("T")


def page_of(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[datetime, str]]
) -> tuple[Sequence[T], str | None]:
    """A page from `rows` fetched with `limit + 1`: its first `limit`, and the cursor to the
    next page (the last row's `key`) when there is more."""
    items = rows[:limit]
    return items, encode(*key(items[-1])) if len(rows) > limit else None


def encode(moment: datetime, key: str) -> str:
    raw = json.dumps([moment.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """The `(instant, id)` a cursor of `encode` holds; VALIDATION_FAILED for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, key = json.loads(raw)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None or not isinstance(key, str):
            raise ValueError("not a cursor")
        storable(key)  # it goes into the query
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as e:
        raise ValidationFailed("not a cursor this endpoint returned", field="cursor") from e
    return moment, key
