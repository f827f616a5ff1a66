"""Failed logins, limited per account and per client address, across processes; and
registrations started, limited per client address.

Every attempt is already a USER_LOGIN entry in the audit log (its outcome and the time on the
app's clock in `metadata`), so the limits are read from there: no counter table to keep in step.
- per account: when the newest `loginMaxFailures` attempts on an account all failed, within
  `loginLockoutMinutes`, further attempts are refused until the oldest of them is that old.
  Attempts are filed under a keyed hash of the address tried (resourceType `LoginAccount`),
  whether an account has it or not, so the lockout reveals nothing about which addresses are
  registered;
- per client address: ADDRESS_FACTOR x `loginMaxFailures` failures within the same window,
  whatever accounts they tried.
A refused attempt is answered without checking the password and is not logged: a flood costs
neither a hash nor a write. Attempts on one account take a transaction-scoped advisory lock, so
concurrent guesses are counted one after another.

Registrations are read from their own rows the same way: `PendingRegistration` keeps the client
address and creation time (on the app's clock) of each. A start that would create a row beyond
`registrationStartsPerAddressHourly` rows from the address within the hour is refused; a
repeated start for one address reuses its row (gxcore.identity.registration), so what a flood
can add to the table is bounded by the limit.

Other sensitive actions are limited the same way, from the audit entries they already write
(`check_actions` with an `Actions`): transfers (TRANSACTION_INITIATED) per account and per
client address, within a minute; registration changes (codes checked, codes resent, steps
taken: the PendingRegistration updates) per client address, within the hour. These take no
lock (transfers of one account already queue on its wallet's lock): concurrent requests may
overshoot a limit by the few in flight at once, never by more.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints
from gxcore.audit import service as audit
from gxcore.audit.models import AuditLog
from gxcore.db.scope import scope_of
from gxcore.enums import AuditEventType
from gxcore.errors import (
    LoginThrottled,
    RegistrationChangesThrottled,
    RegistrationThrottled,
    TooManyRequests,
    TransfersThrottled,
)
from gxcore.identity.models import PendingRegistration

#: Failures allowed per client address, as a multiple of the per-account limit: one address may
#: be a whole office behind NAT.
ADDRESS_FACTOR = 4
ACCOUNT_RESOURCE = "LoginAccount"
SUCCESS, FAILURE, REFUSED = "SUCCESS", "FAILURE", "REFUSED"

# Advisory locks are one namespace per database; this first key keeps the login locks apart.
_LOCK_CLASS = 0x6C6F6769  # "logi"
_START_LOCK_CLASS = 0x72656769  # "regi"
_LOCK = text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:key))")
#: The window of the per-address limit on registrations started.
START_WINDOW = timedelta(hours=1)


def account_tag(key: bytes, email: str) -> str:
    """A keyed, non-reversible name for the address a login tried (known or not)."""
    return hmac.new(key, f"gx-login:{email}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    session: AsyncSession
    tag: str  # account_tag() of the address tried
    address: str | None  # the client's IP address
    now: datetime


async def check(attempt: Attempt, *, max_failures: int, window: timedelta) -> None:
    """Take the account's lock, then raise LoginThrottled if the account or address is blocked."""
    await attempt.session.execute(_LOCK, {"lock_class": _LOCK_CLASS, "key": attempt.tag})
    # The newest attempts on this account, whatever their outcome: blocked when all failed.
    account = await _newest(
        attempt,
        max_failures,
        window,
        AuditLog.resource_type == ACCOUNT_RESOURCE,
        AuditLog.resource_id == attempt.tag,
    )
    _refuse_if_blocked(attempt, account, max_failures, window, "this account")
    if attempt.address is not None:
        limit = max_failures * ADDRESS_FACTOR
        address = await _newest(
            attempt,
            limit,
            window,
            AuditLog.event_type == AuditEventType.USER_LOGIN,
            AuditLog.ip_address == attempt.address,
            AuditLog.meta["outcome"].astext == FAILURE,
        )
        _refuse_if_blocked(attempt, address, limit, window, "this address")


async def record(attempt: Attempt, profile_id: str | None, outcome: str, **details: object) -> None:
    """The attempt's USER_LOGIN entry, in the caller's transaction."""
    await audit.record(
        attempt.session,
        event_type=AuditEventType.USER_LOGIN,
        resource_type=ACCOUNT_RESOURCE,
        resource_id=attempt.tag,
        target_profile_id=profile_id,
        metadata={"outcome": outcome, "at": attempt.now.isoformat(), **details},
    )


async def _newest(
    attempt: Attempt, limit: int, window: timedelta, *criteria: ColumnElement[bool]
) -> list[dict[str, str]]:
    """The metadata of the newest `limit` login entries matching `criteria`, newest first."""
    # `timestamp` is the wall clock's time of writing: it bounds the scan to the window (an
    # index range). The decision uses each attempt's `at`, the time on the app's clock.
    written_since = datetime.now(UTC) - window
    rows = await attempt.session.scalars(
        select(AuditLog.meta)
        .where(AuditLog.timestamp >= written_since, *criteria)
        .order_by(AuditLog.append_seq.desc().nulls_last())
        .limit(limit)
    )
    return [meta for meta in rows if meta is not None]


def _refuse_if_blocked(
    attempt: Attempt, newest: list[dict[str, str]], limit: int, window: timedelta, what: str
) -> None:
    if len(newest) < limit or any(a.get("outcome") != FAILURE for a in newest):
        return
    until = datetime.fromisoformat(newest[-1]["at"]) + window
    if attempt.now < until:
        raise LoginThrottled(
            f"too many failed logins for {what}; try again later",
            retry_after=_seconds_until(until, attempt.now),
        )


def _seconds_until(until: datetime, now: datetime) -> int:
    """A Retry-After: whole seconds from `now` to `until`, at least 1."""
    return max(1, math.ceil((until - now).total_seconds()))


async def check_start(session: AsyncSession, *, now: datetime, limit: int) -> None:
    """Take the client address's lock, then raise RegistrationThrottled if it has started
    `limit` registrations in this tenant within START_WINDOW (0: no limit, as for the other
    per-address limits)."""
    scope = scope_of(session.sync_session)
    address = scope.request.ip_address if scope is not None and scope.request else None
    if address is None or limit <= 0:
        return
    await session.execute(_LOCK, {"lock_class": _START_LOCK_CLASS, "key": address})
    newest = list(
        await session.scalars(
            select(PendingRegistration.created_at)
            .where(
                PendingRegistration.ip_address == address,
                PendingRegistration.created_at > now - START_WINDOW,
            )
            .order_by(PendingRegistration.created_at.desc())
            .limit(limit)
        )
    )
    if len(newest) < limit:
        return
    raise RegistrationThrottled(
        "too many registrations started from this address; try again later",
        retry_after=_seconds_until(newest[-1] + START_WINDOW, now),
    )


# --------------------------------------------------------------------------------------------
# Audited actions, per account and per client address
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actions:
    """A kind of audited action, limited within `window` per account and per client address."""

    name: str
    events: tuple[AuditEventType, ...]
    resource_type: str
    window: timedelta
    error: type[TooManyRequests]
    per_account_key: str | None  # the SystemParameter holding each limit
    per_address_key: str | None
    #: A key the entry's new value has, when the event type and resource are not enough (a
    #: transfer's TRANSACTION_INITIATED names its receiver `to`; a genesis one does not).
    marked_by: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The SystemParameters holding its limits."""
        return tuple(k for k in (self.per_account_key, self.per_address_key) if k)


TRANSFERS = Actions(
    "transfers",
    (AuditEventType.TRANSACTION_INITIATED,),
    "OutboxCommand",
    timedelta(minutes=1),
    TransfersThrottled,
    per_account_key="transfersPerAccountMinute",
    per_address_key="transfersPerAddressMinute",
    marked_by="to",
)
REGISTRATION_CHANGES = Actions(
    "registration changes",
    (AuditEventType.RECORD_UPDATED,),
    "PendingRegistration",
    timedelta(hours=1),
    RegistrationChangesThrottled,
    per_account_key=None,  # a registration's own codes are limited on its row (gxcore.identity.otp)
    per_address_key="registrationChangesPerAddressHourly",
)


async def check_actions(
    session: AsyncSession,
    actions: Actions,
    *,
    account: str | None = None,
    values: Mapping[str, str] | None = None,
) -> None:
    """Raise `actions.error` (429, with Retry-After) when the account, or the client address of
    the session's request, has reached its limit of `actions` within the window. Its limits
    are read from `values` when given (`admin.parameter_values` holding `actions.keys`)."""
    scope = scope_of(session.sync_session)
    address = scope.request.ip_address if scope is not None and scope.request else None
    limits = await read_ints(session, actions.keys, values)
    # Audit timestamps are the wall clock's: the window is measured on it too.
    now = datetime.now(UTC)
    checks = (
        (AuditLog.actor_profile_id, account, actions.per_account_key, "this account"),
        (AuditLog.ip_address, address, actions.per_address_key, "this address"),
    )
    counted = []
    for column, value, key, who in checks:
        if value is None or key is None or limits[key] <= 0:
            continue
        query = select(AuditLog.timestamp).where(
            column == value,
            AuditLog.timestamp > now - actions.window,
            AuditLog.event_type.in_(actions.events),
            AuditLog.resource_type == actions.resource_type,
        )
        if actions.marked_by is not None:
            query = query.where(AuditLog.new_value.has_key(actions.marked_by))
        # Only the limit-th newest matters (its age is when a slot frees): one row, not `limit`.
        nth = query.order_by(AuditLog.timestamp.desc()).offset(limits[key] - 1).limit(1)
        counted.append((who, nth.scalar_subquery()))
    if not counted:
        return
    # Both windows in one round trip; the account's is answered first.
    found = (await session.execute(select(*(nth for _, nth in counted)))).one()
    for (who, _), nth in zip(counted, found, strict=True):
        if nth is not None:
            raise actions.error(
                f"too many {actions.name} from {who}; try again later",
                retry_after=_seconds_until(nth + actions.window, now),
            )
