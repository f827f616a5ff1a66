"""Tenant scope: the one way application code gets a database session.

    db = Database.connect(owner_url, role_key=key)
    async with db.tenant("acme") as session:      # one transaction, committed on success
        ...
    async with db.system(reason="relay") as session:  # explicit, logged, spans tenants
        ...

Two layers keep tenants apart:
1. The ORM guard on `GuardedSession`: adds `tenantId = :scope` to every ORM select, `get`,
   relationship load, join and ORM bulk update/delete (`with_loader_criteria`), stamps new rows
   with the scope's tenant, and refuses (CROSS_TENANT) to write or attach another tenant's row.
   A session without a scope refuses to touch tenant tables at all. Every flush appends its
   changes to the tenant's audit chain in the same transaction: `gxcore.audit` registers itself
   with `record_flushes_with`, and a tenant flush with no recorder registered is refused. A
   versioned row (`Versioned`) written after another writer changed it fails the flush; the
   unit of work raises CONCURRENT_MODIFICATION with the row's current version (`_stale`).
2. Row-level security underneath: tenant sessions connect as `gx_app`, whose policy shows only
   rows of the tenant in `app.tenant_id`. That setting is transaction-local and travels in the
   same round trip as the transaction's BEGIN (see `ScopedConnection`), so it costs no extra
   round trip and a pooled connection never carries a tenant into the next transaction.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.exc import StaleDataError

from gxcore.config import Settings
from gxcore.db import roles
from gxcore.db.base import SoftDeletable, TenantScoped, Versioned
from gxcore.db.engine import PoolConfig, create_engine, libpq_url, on_server
from gxcore.db.reconnect import is_disconnect
from gxcore.db.roles import APP_ROLE, SYSTEM_ROLE, role_url
from gxcore.db.scope import SCOPE_KEY, RequestMeta, Scope, scope_of
from gxcore.errors import (
    ConcurrentModification,
    CrossTenant,
    DatabaseBusy,
    DatabaseUnavailable,
    TenantScopeRequired,
)

log = logging.getLogger(__name__)


class ScopedConnection(asyncpg.Connection):
    """asyncpg connection that appends a pending statement to the next BEGIN.

    SQLAlchemy starts each transaction with a simple-protocol `BEGIN`; sending
    `BEGIN; SELECT set_config('app.tenant_id', 'acme', true)` instead sets the tenant in the same
    round trip. The pending text is consumed by one BEGIN and cleared when the connection goes
    back to the pool, so it can never leak into another transaction.
    """

    _gx_on_begin: str | None = None
    #: Sent with every BEGIN of this connection (the statement timeout), set when it connects.
    _gx_every_begin: str | None = None

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if not args and query.startswith("BEGIN"):
            extra = [s for s in (self._gx_every_begin, self._gx_on_begin) if s]
            if extra:
                self._gx_on_begin = None
                query = "; ".join((query.rstrip(";"), *extra))
        return await super().execute(query, *args, timeout=timeout)


def _on_begin_sql(scope: Scope) -> str:
    # tenant_id was validated against a strict alphabet (scope.valid_tenant_id): no quoting needed.
    return f"SELECT set_config('app.tenant_id', '{scope.tenant_id or ''}', true)"


class GuardedSession(Session):
    """Session class whose events enforce the scope in `info[SCOPE_KEY]`."""


@event.listens_for(GuardedSession, "after_begin")
def _send_tenant_with_begin(session: Session, transaction: Any, connection: Any) -> None:
    scope = scope_of(session)
    if scope is None or scope.system:
        return
    driver = connection.connection.driver_connection
    if issubclass(type(driver), ScopedConnection):  # asyncpg overrides isinstance()
        driver._gx_on_begin = _on_begin_sql(scope)
    else:  # an engine not built by Database.connect: correct, one round trip dearer
        connection.exec_driver_sql(_on_begin_sql(scope))


# Built once (per tenant): constructing a lambda criteria option is the guard's main cost.
_HIDE_DELETED = with_loader_criteria(
    SoftDeletable, lambda cls: cls.deleted_at.is_(None), include_aliases=True
)


@functools.lru_cache(maxsize=4096)
def _tenant_criteria(tenant_id: str) -> Any:
    return with_loader_criteria(
        TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
    )


@event.listens_for(GuardedSession, "do_orm_execute")
def _filter_statement(state: ORMExecuteState) -> None:
    scope = scope_of(state.session)
    if scope is None:
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            raise TenantScopeRequired(
                "this session has no tenant scope; open it with Database.tenant() or .system()"
            )
        return
    if state.is_select and not state.execution_options.get("include_deleted", False):
        state.statement = state.statement.options(_HIDE_DELETED)
    if scope.system:
        return
    tenant_id = scope.tenant_id
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(_tenant_criteria(tenant_id))
    elif state.is_insert:
        _check_insert_values(state, tenant_id)


def _check_insert_values(state: ORMExecuteState, tenant_id: str | None) -> None:
    """ORM-enabled insert/upsert: every row must carry (or default to) the scope's tenant."""
    rows: list[Any] = []
    params = state.parameters
    if isinstance(params, list):
        rows.extend(params)
    elif params:
        rows.append(params)
    compiled_values = getattr(state.statement, "_multi_values", ()) or ()
    for batch in compiled_values:
        rows.extend(batch)
    single = getattr(state.statement, "_values", None)
    if single:
        rows.append({getattr(k, "key", k): v for k, v in single.items()})
    for row in rows:
        if not isinstance(row, dict):
            continue
        for key, value in row.items():
            name = getattr(key, "key", key)
            value = getattr(value, "value", value)  # a BindParameter from .values()
            if name in ("tenant_id", "tenantId") and value != tenant_id:
                raise CrossTenant(f"insert for tenant {value!r} refused in scope {tenant_id!r}")


@event.listens_for(GuardedSession, "before_attach")
def _refuse_foreign_rows(session: Session, obj: object) -> None:
    scope = scope_of(session)
    if scope is None or scope.system or not isinstance(obj, TenantScoped):
        return
    owner = getattr(obj, "tenant_id", None)
    if owner is not None and owner != scope.tenant_id:
        raise CrossTenant(f"{type(obj).__name__} of tenant {owner!r} in scope {scope.tenant_id!r}")


@event.listens_for(GuardedSession, "before_flush")
def _stamp_and_check(session: Session, flush_context: Any, instances: Any) -> None:
    scope = scope_of(session)
    touched = [
        o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, TenantScoped)
    ]
    if not touched:
        return
    if scope is None:
        raise TenantScopeRequired("writing tenant rows needs a tenant or system scope")
    for obj in touched:
        if obj in session.new and getattr(obj, "tenant_id", None) is None:
            if scope.system:
                raise CrossTenant(f"{type(obj).__name__}: the system scope must name the tenant")
            obj.tenant_id = scope.tenant_id
        if scope.system:
            continue
        if obj.tenant_id != scope.tenant_id:
            raise CrossTenant(
                f"{type(obj).__name__} of tenant {obj.tenant_id!r} "
                f"cannot be written in scope {scope.tenant_id!r}"
            )


#: session.info key: the versioned rows the current flush writes, with the version each was read at.
_WRITTEN_VERSIONS = "gx_written_versions"

WrittenVersion = tuple[type[Versioned], tuple[Any, ...], int]


@event.listens_for(GuardedSession, "before_flush")
def _note_versions(session: Session, flush_context: Any, instances: Any) -> None:
    # Kept so a stale flush can name the row that changed and its version now (`_stale`).
    session.info[_WRITTEN_VERSIONS] = [
        (type(obj), inspect(obj).identity, obj.version)
        for obj in (*session.dirty, *session.deleted)
        if isinstance(obj, Versioned) and inspect(obj).identity is not None
    ]


async def _stale(session: AsyncSession, error: StaleDataError) -> ConcurrentModification:
    """The CONCURRENT_MODIFICATION for a flush whose versioned UPDATE matched no row: the row
    whose version moved on, with that version, read in a fresh transaction (the failed one
    has been rolled back). The error itself names no row, only the statement's table."""
    written: list[WrittenVersion] = session.sync_session.info.pop(_WRITTEN_VERSIONS, [])
    try:
        async with session.begin():
            for cls, identity, read_at in written:
                keys = inspect(cls).primary_key
                now = await session.scalar(
                    select(cls.version)
                    .where(*(k == v for k, v in zip(keys, identity, strict=True)))
                    .execution_options(include_deleted=True)
                )
                if now != read_at:
                    table = cls.__table__.name  # type: ignore[attr-defined]
                    row_id = "/".join(str(v) for v in identity)
                    state = "was deleted" if now is None else f"is at version {now}"
                    details: dict[str, object] = {"resource": table, "resourceId": row_id}
                    if now is not None:
                        details["currentVersion"] = now
                    return ConcurrentModification(
                        f"{table} {row_id} was changed by another writer: it {state}, this "
                        f"write read version {read_at}; read it again and retry",
                        **details,
                    )
    except SQLAlchemyError:
        log.warning("could not read the current version after a stale write", exc_info=True)
    return ConcurrentModification(f"a row was changed by another writer: {error}")


FlushRecorder = Callable[[Session], None]
_flush_recorders: list[FlushRecorder] = []


def record_flushes_with(recorder: FlushRecorder) -> None:
    """Register what every flush of a guarded session must also write (the audit trail)."""
    if recorder not in _flush_recorders:
        _flush_recorders.append(recorder)


@event.listens_for(GuardedSession, "after_flush")
def _record_changes(session: Session, flush_context: Any) -> None:
    # Same transaction as the change itself: the entry and the row commit or vanish together.
    scope = scope_of(session)
    if not _flush_recorders and scope is not None and not scope.system:
        # Fail closed: a tenant write that no audit trail sees must not commit.
        raise TenantScopeRequired("no audit trail is registered: import gxcore.audit.service")
    for recorder in _flush_recorders:
        recorder(session)


# SQLSTATE of a statement cancelled by statement_timeout (or pg_cancel_backend).
QUERY_CANCELED = "57014"

# A transaction is given an id by its first write or row lock, not before.
_HAS_XID = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")


#: `session.info` key of where `Database.reading` served from: REPLICA or PRIMARY.
READ_FROM = "gx_read_from"
REPLICA, PRIMARY = "replica", "primary"

# Whether a standby, how far it has replayed (bytes), and how many seconds the newest WAL it
# has received but not replayed waits (0 when it has replayed all it has).
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery(), COALESCE(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, 0), "
    "CASE WHEN pg_last_wal_receive_lsn() IS NULL "
    "OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity') END"
)
_CURRENT_LSN = text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")


def _is_rls_violation(error: DBAPIError) -> bool:
    return "row-level security" in str(error.orig)


def _limit_statements(dbapi_connection: Any, record: Any, *, ms: int) -> None:
    dbapi_connection.driver_connection._gx_every_begin = (
        f"SELECT set_config('statement_timeout', '{int(ms)}', true)"
    )


def _forget_pending(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
    # Back in the pool: a BEGIN not sent carries no tenant into the connection's next user.
    dbapi_connection.driver_connection._gx_on_begin = None


class Database:
    """The application's engines: one per role. Build it once (app lifespan, CLI) and inject it.

    Tenant work has two pools of `gx_app` connections: the units of work's, and the one `beside`
    draws from. A unit of work waiting for a second connection from its own pool could wait on
    units of work that wait the same way, a pool's worth of refused calls stalling each other.
    """

    def __init__(
        self,
        app_engine: AsyncEngine,
        system_engine: AsyncEngine,
        apart_engine: AsyncEngine,
        *,
        listen_url: str | None = None,
        replica_engine: AsyncEngine | None = None,
        replica_max_lag: float = 5.0,
    ) -> None:
        self.app_engine = app_engine
        self.system_engine = system_engine
        self.apart_engine = apart_engine
        #: `gx_app` on a streaming replica, for `reading()`; None: every read on the primary.
        self.replica_engine = replica_engine
        self.replica_max_lag = replica_max_lag
        #: `gx_system` on the server itself, never through a pooler: for LISTEN, which a
        #: transaction-mode pooler cannot carry.
        self.listen_url = listen_url or libpq_url(system_engine.url)

    @classmethod
    def connect(
        cls,
        owner_url: str | URL,
        *,
        role_key: bytes,
        pool: PoolConfig | None = None,
        replica_url: str | URL | None = None,
        replica_max_lag: float = 5.0,
        **engine_kwargs: Any,
    ) -> Database:
        """Engines logged in as the roles, with the passwords `role_key` derives (roles.role_key),
        pooled as `pool` says (defaults otherwise); `engine_kwargs` override it. With
        `replica_url`, reads may go to that streaming replica (see `reading`)."""
        pool = pool or PoolConfig()
        kwargs = pool.engine_kwargs() | engine_kwargs
        kwargs["connect_args"] = {
            **pool.engine_kwargs().get("connect_args", {}),
            **engine_kwargs.get("connect_args", {}),
            "connection_class": ScopedConnection,
        }
        app_url = pool.route(role_url(owner_url, APP_ROLE, key=role_key))
        system_url = role_url(owner_url, SYSTEM_ROLE, key=role_key)
        app, apart = (create_engine(app_url, **kwargs) for _ in range(2))
        system = create_engine(pool.route(system_url), **kwargs)
        replica = None
        if replica_url is not None:  # a physical replica: the same roles, the same passwords
            direct_app_url = role_url(owner_url, APP_ROLE, key=role_key)
            replica = create_engine(on_server(direct_app_url, replica_url), **kwargs)
        tenant_engines = [e for e in (app, apart, replica) if e is not None]
        for engine in tenant_engines:
            event.listen(engine.sync_engine, "reset", _forget_pending)
        if pool.statement_timeout_ms:
            on_connect = functools.partial(_limit_statements, ms=pool.statement_timeout_ms)
            for engine in (*tenant_engines, system):
                event.listen(engine.sync_engine, "connect", on_connect)
        return cls(
            app,
            system,
            apart,
            listen_url=libpq_url(system_url),
            replica_engine=replica,
            replica_max_lag=replica_max_lag,
        )

    @classmethod
    def for_settings(cls, owner_url: str | URL, settings: Settings) -> Database:
        """`connect` with the role key and the pool `settings` give (what the `gx` commands use)."""
        return cls.connect(
            owner_url,
            role_key=roles.role_key(settings),
            pool=PoolConfig.from_settings(settings),
            replica_url=settings.read_replica_url,
            replica_max_lag=settings.read_replica_max_lag_seconds,
        )

    async def dispose(self) -> None:
        await self.app_engine.dispose()
        await self.system_engine.dispose()
        await self.apart_engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()

    def session(
        self, scope: Scope | None = None, *, apart: bool = False, replica: bool = False
    ) -> AsyncSession:
        """A guarded session, not yet in a transaction. Prefer `tenant()` / `system()`."""
        if scope is not None and scope.system:
            engine = self.system_engine
        elif replica and self.replica_engine is not None:
            engine = self.replica_engine
        else:
            engine = self.apart_engine if apart else self.app_engine
        session = AsyncSession(engine, sync_session_class=GuardedSession, expire_on_commit=False)
        if scope is not None:
            session.sync_session.info[SCOPE_KEY] = scope
        return session

    @asynccontextmanager
    async def tenant(
        self,
        tenant_id: str,
        *,
        actor_profile_id: str | None = None,
        request: RequestMeta | None = None,
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work for one tenant: commits when the block ends, rolls back on error."""
        scope = Scope.for_tenant(tenant_id, actor_profile_id=actor_profile_id, request=request)
        async with self._unit_of_work(scope) as session:
            yield session

    @asynccontextmanager
    async def reading(
        self, tenant_id: str, *, request: RequestMeta | None = None, after_lsn: int = 0
    ) -> AsyncIterator[AsyncSession]:
        """A unit of work for reads only: on the replica when it has replayed `after_lsn` (the
        caller's last write, from `primary_lsn`) and lags at most `replica_max_lag` seconds,
        else on the primary. `session.info[READ_FROM]` says which. The replica's transaction
        starts with the check, so what it reads is at least as new as what it checked."""
        scope = Scope.for_tenant(tenant_id, request=request)
        if self.replica_engine is not None:
            answered = False
            try:
                async with self._unit_of_work(scope, replica=True) as session:
                    if await self._replica_fresh(session, after_lsn):
                        session.info[READ_FROM] = REPLICA
                        answered = True
                        yield session
                        return
            except DatabaseUnavailable as e:
                if answered:
                    raise
                log.warning("read replica unreachable, reading from the primary: %s", e)
        async with self._unit_of_work(scope) as session:
            session.info[READ_FROM] = PRIMARY
            yield session

    async def _replica_fresh(self, session: AsyncSession, after_lsn: int) -> bool:
        standby, replayed, lag = (await session.execute(_REPLICA_STATE)).one()
        fresh = bool(standby) and int(replayed) >= after_lsn and float(lag) <= self.replica_max_lag
        if not fresh:
            log.debug("replica skipped: replayed %s < %s or lag %.1fs", replayed, after_lsn, lag)
        return fresh

    async def primary_lsn(self) -> int:
        """The primary's WAL insert position now, in bytes: after a commit, a replica that has
        replayed this far shows it. The insert position, not the write position: with
        `synchronous_commit = off` a commit returns before its record is written out, and the
        write position can still stand before it."""
        async with self.app_engine.connect() as conn:
            return int(await conn.scalar(_CURRENT_LSN) or 0)

    @asynccontextmanager
    async def system(self, reason: str) -> AsyncIterator[AsyncSession]:
        """Cross-tenant work (workers, jobs). Logged with its reason; rows must name their tenant."""
        scope = Scope.for_system(reason)
        log.info("system scope opened: %s", reason)
        async with self._unit_of_work(scope) as session:
            yield session

    @asynccontextmanager
    async def beside(self, session: AsyncSession) -> AsyncIterator[AsyncSession]:
        """A unit of work in `session`'s scope (tenant, actor, request) on a connection of its own,
        committed when the block ends whatever becomes of `session`'s transaction: for the one
        write a refused call must keep (a counted OTP guess, a failed login, a revoked session).

        Only before `session` has written or locked a row (checked: its transaction has no id
        yet): that transaction is still open, and waiting on its locks from here would wait
        forever (an audited write alone holds the tenant's audit chain).
        """
        scope = scope_of(session.sync_session)
        if scope is None:
            raise TenantScopeRequired("beside() needs a session opened in a scope")
        if await session.scalar(_HAS_XID):
            raise RuntimeError("beside() after the unit of work wrote or locked rows")
        async with self._unit_of_work(scope, apart=True) as own:
            yield own

    @asynccontextmanager
    async def _unit_of_work(
        self, scope: Scope, *, apart: bool = False, replica: bool = False
    ) -> AsyncIterator[AsyncSession]:
        async with self.session(scope, apart=apart, replica=replica) as session:
            try:
                async with session.begin():
                    yield session
            except DBAPIError as e:
                if _is_rls_violation(e):
                    raise CrossTenant(
                        f"row-level security refused a write outside tenant {scope.tenant_id!r}"
                    ) from e
                if getattr(e.orig, "sqlstate", None) == QUERY_CANCELED:
                    raise DatabaseBusy(f"a statement was cancelled: {e.orig}") from e
                if is_disconnect(e):
                    raise _away(e) from e
                raise
            except StaleDataError as e:
                raise await _stale(session, e) from e
            except PoolTimeout as e:
                raise DatabaseBusy("no database connection came free in time; retry") from e
            except (OSError, asyncpg.InterfaceError) as e:  # connecting failed, or mid-commit
                if is_disconnect(e):
                    raise _away(e) from e
                raise


def _away(error: BaseException) -> DatabaseUnavailable:
    # A commit cut off may or may not have landed: the caller retries with its idempotency key.
    return DatabaseUnavailable(
        f"the database is not reachable (the primary may be moving): {error}"
    )
