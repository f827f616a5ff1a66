"""The audit log's writers and its verifier.

- `record_flush(session)`: called from a tenant session's `after_flush`; makes one entry per
  inserted, updated or deleted tenant row (`gxcore.audit.changes`). Entries are inserted when
  the unit of work commits, in one statement, in its transaction.
- `record(session, event_type=...)`: an explicit event (a login, a frozen account, ...).
- `verify_chain(session)`: walks the linked chains and reports where each first breaks.

Writers only insert: an entry commits unlinked (no `chainSeq`, no `previousHash`, its
`eventHash` over the unlinked entry), so writers of one tenant never wait for each other. The
linker (`gxcore.audit.linker`) chains committed entries afterwards, in the order it finds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, null, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from gxcore.audit.chain import ChainVerifier, Verdict, entry_hash, now_ms, to_json
from gxcore.audit.changes import Change, flushed_changes
from gxcore.audit.models import AuditLog
from gxcore.db.base import new_uuid
from gxcore.db.scope import RequestMeta, Scope, scope_of, valid_tenant_id
from gxcore.db.tenancy import GuardedSession, record_flushes_with
from gxcore.enums import AuditEventType
from gxcore.errors import TenantScopeRequired

REDACTED = "[REDACTED]"
# The schema's secret columns, by physical name.
SECRET_COLUMNS = frozenset(
    {
        "passwordHash",
        "emailOtpHash",
        "phoneOtpHash",
        "refreshToken",
        "refreshTokenHash",
        "clientSecretHash",
        "encryptionKey",
        "biometricHash",
        "token",  # PushToken.token: a device's push credential
    }
)
# Columns added later are caught by their names. Deliberately narrow: `tokenId`, `emailOtpAttempts`
# and `documentHash` (an integrity hash of a document, not a secret) stay readable.
_SECRET_NAME = re.compile(
    r"password|secret|passphrase|private_?key|api_?key|otp_?hash|otp_?code|token(_?hash)?$",
    re.IGNORECASE,
)

_TABLE = cast(Table, AuditLog.__table__)
_KEY = {column.name: column.key for column in _TABLE.columns}  # "tenantId" -> "tenant_id"
_JSON_COLUMNS = ("previousValue", "newValue", "metadata")


def is_secret(name: str) -> bool:
    return name in SECRET_COLUMNS or _SECRET_NAME.search(name) is not None


def redact(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with every secret's value replaced by "[REDACTED]", nested mappings included.

    A NULL secret stays NULL: that there is none is not a secret.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and is_secret(key):
            out[key] = REDACTED
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Appending to a tenant's chain
# --------------------------------------------------------------------------------------------


def _stored(values: Mapping[str, Any] | None) -> Any:
    return None if values is None else to_json(redact(values))


def _append(session: Session, scope: Scope, changes: Sequence[Change]) -> None:
    tenant_id = scope.tenant_id
    assert tenant_id is not None
    request = scope.request or RequestMeta()
    timestamp = now_ms()  # what timestamptz(3) stores, so the hash survives the round trip
    rows = []
    for change in changes:
        fields = {
            "auditId": new_uuid(),
            "tenantId": tenant_id,
            "chainSeq": None,
            "eventType": change.event_type,
            "actorProfileId": scope.actor_profile_id,
            "targetProfileId": change.target_profile_id,
            "resourceType": change.resource_type,
            "resourceId": change.resource_id,
            "ipAddress": request.ip_address,
            "userAgent": request.user_agent,
            "deviceId": request.device_id,
            "sessionId": request.session_id,
            "previousValue": _stored(change.previous),
            "newValue": _stored(change.new),
            "metadata": _stored(change.metadata),
            "timestamp": timestamp,
        }
        row = {**fields, "previousHash": None, "eventHash": entry_hash(fields, None)}
        for name in _JSON_COLUMNS:  # SQL NULL, not a JSON null
            if row[name] is None:
                row[name] = null()
        rows.append({_KEY[name]: value for name, value in row.items()})
    if not (
        isinstance(session, GuardedSession)
        or event.contains(session, "before_commit", _insert_pending)
    ):  # fail closed: entries that no commit would insert must not be made
        raise TenantScopeRequired("audit entries need a session that inserts them as it commits")
    session.info.setdefault(_PENDING, []).extend(rows)


# A unit of work's entries wait in its session and are inserted in one statement as it commits
# (their appendSeq in the order they were made), rather than a statement per flush. A savepoint
# rolled back takes the entries made since it began with it.
_PENDING = "gx_audit_pending"
_MARKS = "gx_audit_marks"  # savepoint -> how many entries were pending when it began


def _insert_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: its entries wait for the root
        return
    session.flush()  # the last changes' entries join the others first
    rows = session.info.pop(_PENDING, None)
    if rows:
        # Core insert: session.add() would start another flush from inside the commit.
        session.execute(insert(_TABLE), rows)


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING, ()))


def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    mark = session.info.get(_MARKS, {}).pop(transaction, 0) if transaction.nested else 0
    del session.info.get(_PENDING, [])[mark:]


def insert_on_commit(target: type[Session] | Session) -> None:
    """Make `target` (a session class, or one session) insert its pending entries as it commits
    and drop them with a rollback. Guarded sessions have it; `record_flush` needs it."""
    event.listen(target, "before_commit", _insert_pending)
    event.listen(target, "after_transaction_create", _mark_savepoint)
    event.listen(target, "after_soft_rollback", _drop_rolled_back)


insert_on_commit(GuardedSession)


def record_flush(session: Session) -> None:
    """Append an entry for each tenant row the flush inserted, changed or deleted.

    Meant for `after_flush`. System-scope sessions are skipped: their work is logged by its caller.
    """
    scope = scope_of(session)
    if scope is None or scope.system or scope.tenant_id is None:
        return
    changes = flushed_changes(session)
    if changes:
        _append(session, scope, changes)


record_flushes_with(record_flush)


async def record(
    session: AsyncSession,
    *,
    event_type: AuditEventType,
    resource_type: str | None = None,
    resource_id: str | None = None,
    target_profile_id: str | None = None,
    previous: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Append an explicit event to the session's tenant chain, in the session's transaction."""
    scope = scope_of(session.sync_session)
    if scope is None or scope.system or scope.tenant_id is None:
        raise TenantScopeRequired("audit events are recorded in a tenant scope")
    # Pending row changes happened first; flushing now keeps the chain in that order.
    await session.flush()
    change = Change(
        event_type, resource_type, resource_id, target_profile_id, previous, new, metadata
    )
    await session.run_sync(_append, scope, [change])


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantVerdict:
    tenant_id: str
    verdict: Verdict
    #: Entries committed but not linked yet: not part of the chain that was checked.
    unlinked: int = 0

    def __str__(self) -> str:
        waiting = f" ({self.unlinked} not linked yet)" if self.unlinked else ""
        return f"{self.tenant_id}: {self.verdict}{waiting}"


#: Every column as (physical name, attribute): entries as the chain's functions take them.
STORED = [
    (prop.columns[0].name, getattr(AuditLog, prop.key))
    for prop in sa_inspect(AuditLog).column_attrs
]


async def verify_chain(
    session: AsyncSession, tenant_id: str | None = None, *, batch_size: int = 1000
) -> list[TenantVerdict]:
    """Verdicts per tenant (or for `tenant_id` alone) over the linked entries, streamed
    `batch_size` at a time, with the count of entries still waiting for the linker.

    Reading every tenant needs a session that sees them all (the system scope, or the owner).
    """
    only = [] if tenant_id is None else [AuditLog.tenant_id == valid_tenant_id(tenant_id)]
    counted = await session.execute(
        select(AuditLog.tenant_id, func.count())
        .where(AuditLog.chain_seq.is_(None), *only)
        .group_by(AuditLog.tenant_id)
    )
    unlinked = {tenant: count for tenant, count in counted.all()}
    names = [name for name, _ in STORED]
    stmt = (
        select(*(attr for _, attr in STORED))
        .where(AuditLog.chain_seq.is_not(None), *only)
        .order_by(AuditLog.tenant_id, AuditLog.chain_seq, AuditLog.audit_id)
        .execution_options(yield_per=batch_size)
    )
    verdicts: dict[str, Verdict] = {}
    current: str | None = None
    verifier = ChainVerifier()
    result = await session.stream(stmt)
    async for row in result:
        entry = dict(zip(names, row, strict=True))
        if entry["tenantId"] != current:
            if current is not None:
                verdicts[current] = verifier.result()
            current, verifier = entry["tenantId"], ChainVerifier()
        verifier.add(entry)
    if current is not None:
        verdicts[current] = verifier.result()
    tenants = sorted(verdicts.keys() | unlinked.keys() | ({tenant_id} if tenant_id else set()))
    return [TenantVerdict(t, verdicts.get(t, Verdict(0)), unlinked.get(t, 0)) for t in tenants]
