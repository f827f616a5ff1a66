"""Idempotency keys: a client's retry of a request gets the first answer back.

A request carrying an `Idempotency-Key` is answered once; its response is kept in
`HttpIdempotency` under (tenant, profile, method, path, key) with the request's hash, until
`ttlExpiresAt` (the tenant's `idempotencyKeyHours`). The same key with the same request gets the
kept response; with another request it is an `IdempotencyConflict`. An expired key is free
again: its request is a new one. A refused request (a 4xx) keeps nothing, so the client may fix
it and retry under the same key. `gx jobs cleanup` deletes expired keys.

Callers look a key up and remember the answer in the transaction that does the work, after a
lock that serializes the key's owner (the sender's wallet lock, for transfers), so two parallel
requests under one key cannot both do it; the primary key is the backstop.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import HttpIdempotency
from gxcore.db.scope import tenant_of
from gxcore.errors import IdempotencyConflict


@dataclass(frozen=True)
class Key:
    profile_id: str
    method: str
    path: str
    key: str


@dataclass(frozen=True)
class Kept:
    body: Any
    status_code: int


def request_hash(request: Any) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def recall(session: AsyncSession, key: Key, body_hash: str, now: datetime) -> Kept | None:
    """The response kept under `key` for this request; None when there is none (or it expired:
    then it is forgotten now). Another request under a live key is an IdempotencyConflict."""
    tenant = tenant_of(session, "idempotency keys belong to a tenant")
    row = await session.get(
        HttpIdempotency, (tenant, key.profile_id, key.method, key.path, key.key)
    )
    if row is None:
        return None
    if row.ttl_expires_at is not None and row.ttl_expires_at <= now:
        await session.delete(row)
        await session.flush()
        return None
    if row.body_hash != body_hash:
        raise IdempotencyConflict(
            f"Idempotency-Key {key.key!r} was used for another request", key=key.key
        )
    return Kept(row.response_body, row.status_code)


async def remember(
    session: AsyncSession,
    key: Key,
    body_hash: str,
    *,
    body: Any,
    status_code: int,
    now: datetime,
    ttl: timedelta,
) -> None:
    """Keep the response to the request under `key` until `now + ttl`."""
    session.add(
        HttpIdempotency(
            profile_id=key.profile_id,
            method=key.method,
            path=key.path,
            idempotency_key=key.key,
            body_hash=body_hash,
            response_body=body,
            status_code=status_code,
            created_at=now,
            ttl_expires_at=now + ttl,
        )
    )
    await session.flush()


async def delete_expired(*, session: AsyncSession, now: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` keys past `ttlExpiresAt`, in every tenant the session sees (the
    system scope); returns how many. Rows a request holds locked are skipped, not waited for."""
    due = (
        select(*_PRIMARY_KEY)
        .where(HttpIdempotency.ttl_expires_at <= now)
        .order_by(HttpIdempotency.ttl_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(HttpIdempotency)
        .where(tuple_(*_PRIMARY_KEY).in_(due))
        .returning(HttpIdempotency.idempotency_key)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


_PRIMARY_KEY = (
    HttpIdempotency.tenant_id,
    HttpIdempotency.profile_id,
    HttpIdempotency.method,
    HttpIdempotency.path,
    HttpIdempotency.idempotency_key,
)
