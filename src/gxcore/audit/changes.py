"""What a flush changed, as audit entries to write: one `Change` per tenant row.

Read inside `after_flush`, where `session.new/dirty/deleted` and attribute history still show
what the flush wrote. Values come from each instance's own state, never from attribute access,
which could emit a lazy load in the middle of the flush. Values are keyed by physical column
names (`walletName`), as the audit log shows them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from gxcore.audit.models import AuditLog
from gxcore.db.base import TenantScoped
from gxcore.enums import AuditEventType as Event


@dataclass(frozen=True)
class Change:
    """What one audit entry says happened; who did it, and from where, come from the scope."""

    event_type: Event
    resource_type: str | None = None
    resource_id: str | None = None
    target_profile_id: str | None = None
    previous: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None


# Row changes the reference has a name for; the rest are RECORD_CREATED/UPDATED/DELETED.
_SPECIFIC = {
    ("UserProfile", Event.RECORD_CREATED): Event.USER_REGISTERED,
    ("UserProfile", Event.RECORD_UPDATED): Event.PROFILE_UPDATED,
    ("Wallet", Event.RECORD_CREATED): Event.WALLET_CREATED,
    ("Beneficiary", Event.RECORD_CREATED): Event.BENEFICIARY_ADDED,
    ("Beneficiary", Event.RECORD_DELETED): Event.BENEFICIARY_REMOVED,
}
# The profile a row is about: UserProfile's own id, a Wallet's owner, a Beneficiary's owner...
_PROFILE_KEYS = ("profile_id", "owner_profile_id", "user_profile_id")


def _event_type(table: str, generic: Event, new: Mapping[str, Any]) -> Event:
    if (table, generic) == ("UserProfile", Event.RECORD_UPDATED) and "passwordHash" in new:
        return Event.PASSWORD_CHANGED
    return _SPECIFIC.get((table, generic), generic)


def _columns(obj: object) -> Iterator[tuple[str, Column[Any]]]:
    """(attribute key, column) of each column of the object's table."""
    mapper = sa_inspect(obj).mapper
    for column in mapper.local_table.columns:
        yield mapper.get_property_by_column(column).key, column


def _inserted(obj: object) -> dict[str, Any]:
    # The state holds what was set and the defaults the INSERT returned (RETURNING); a column
    # with neither was left NULL.
    state = sa_inspect(obj).dict
    return {
        column.name: state.get(key)
        for key, column in _columns(obj)
        if key in state or (column.default is None and column.server_default is None)
    }


def _deleted(obj: object) -> dict[str, Any]:
    # Values never loaded (deferred, expired) are left out rather than fetched or guessed.
    state = sa_inspect(obj).dict
    return {column.name: state[key] for key, column in _columns(obj) if key in state}


def _updated(obj: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Old and new values of the columns the flush changed; an old value that was never loaded
    is left out of the old values rather than guessed."""
    attrs = sa_inspect(obj).attrs
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, column in _columns(obj):
        history = attrs[key].history
        after = history.added[0] if history.added else None
        if not history.has_changes() or (history.deleted and history.deleted[0] == after):
            continue  # untouched, or set to the value it had
        if history.deleted:
            old[column.name] = history.deleted[0]
        new[column.name] = after
    return old, new


def _change(obj: object, generic: Event) -> Change | None:
    state = sa_inspect(obj)
    table = state.mapper.local_table.name
    previous: dict[str, Any] | None
    new: dict[str, Any] | None
    if generic is Event.RECORD_CREATED:
        previous, new = None, _inserted(obj)
    elif generic is Event.RECORD_UPDATED:
        previous, new = _updated(obj)
        if not new:
            return None  # only relationships changed, or values set to what they were
    else:
        previous, new = _deleted(obj), None
    key = state.mapper.primary_key_from_instance(obj)
    profile = next((state.dict[k] for k in _PROFILE_KEYS if state.dict.get(k) is not None), None)
    return Change(
        event_type=_event_type(table, generic, new or {}),
        resource_type=table,
        resource_id=":".join(str(part) for part in key),
        target_profile_id=profile,
        previous=previous,
        new=new,
    )


def _audited(obj: object) -> bool:
    return isinstance(obj, TenantScoped) and not isinstance(obj, AuditLog)


def flushed_changes(session: Session) -> list[Change]:
    """The changes of the flush in progress: inserts, then updates, then deletes."""
    found = [
        *(_change(o, Event.RECORD_CREATED) for o in session.new if _audited(o)),
        *(
            _change(o, Event.RECORD_UPDATED)
            for o in session.dirty
            if _audited(o) and session.is_modified(o)
        ),
        *(_change(o, Event.RECORD_DELETED) for o in session.deleted if _audited(o)),
    ]
    return [c for c in found if c is not None]
