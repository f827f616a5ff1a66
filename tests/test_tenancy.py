"""Tenant isolation that cannot leak, generated over every tenant table.

Each test puts rows in two tenants, A and B, and shows that code scoped to A cannot read, count,
get, join to, load through a relationship, update, delete, upsert or attach B's rows, through
the ORM guard or through raw SQL on the application connection (row-level security).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import joinedload

from gxcore.admin import service as admin
from gxcore.db.base import Base, TenantScoped
from gxcore.db.engine import PoolConfig
from gxcore.db.models import metadata  # noqa: F401  (registers every model)
from gxcore.db.tenancy import Database
from gxcore.errors import CrossTenant, TenantScopeRequired
from tests.conftest import ROLE_KEY
from tests.factories import make, primary_key, register_tenant
from tests.test_grants import APP_PRIVILEGES, PROJECTED

TENANT_MODELS = sorted(
    (m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)),
    key=lambda c: c.__name__,
)
MODEL_IDS = [m.__name__ for m in TENANT_MODELS]


def _may(model: type[Base], *privileges: str) -> bool:
    """Whether the application role holds every one of `privileges` on `model`'s table."""
    return set(privileges) <= APP_PRIVILEGES[f"public.{model.__tablename__}"]


# What the application role may do decides what each test can try: the message queue is
# insert-only (never read: an OTP code), a projector's claims are the system role's alone.
READABLE_MODELS = [m for m in TENANT_MODELS if _may(m, "SELECT")]
READABLE_IDS = [m.__name__ for m in READABLE_MODELS]
# The audit log is append-only for the application role, and the read models the projector
# writes are read-only for it; their write tests are below.
WRITABLE_MODELS = [
    m
    for m in READABLE_MODELS
    if _may(m, "INSERT") and m.__tablename__ not in ("AuditLog", *PROJECTED)
]
WRITABLE_IDS = [m.__name__ for m in WRITABLE_MODELS]
# Rows the application rewrites. Transfer holds are placed and released, never edited, and
# velocity-tax snapshots are only added (tests/test_velocity_tax.py covers them); referrals are
# updated but never deleted, so the tests that delete take only the tables it may delete from.
UPDATABLE_MODELS = [m for m in WRITABLE_MODELS if _may(m, "UPDATE")]
UPDATABLE_IDS = [m.__name__ for m in UPDATABLE_MODELS]
DELETABLE_MODELS = [m for m in UPDATABLE_MODELS if _may(m, "DELETE")]
DELETABLE_IDS = [m.__name__ for m in DELETABLE_MODELS]
READ_ONLY_MODELS = [m for m in TENANT_MODELS if m.__tablename__ in PROJECTED]

# Many-to-one relationships between tenant models: (child model, relationship key).
RELATIONSHIPS = sorted(  # in a stable order: each xdist worker must collect the same tests
    (
        (m.class_, rel.key)
        for m in Base.registry.mappers
        if issubclass(m.class_, TenantScoped)
        for rel in m.relationships
        if rel.direction.name == "MANYTOONE" and issubclass(rel.mapper.class_, TenantScoped)
    ),
    key=lambda pair: (pair[0].__name__, pair[1]),
)


@pytest.fixture(scope="module", autouse=True)
async def countries(engine: AsyncEngine) -> None:
    """The shared countries, written as `gx db seed` writes them: by the database owner."""
    async with AsyncSession(engine) as session, session.begin():
        await admin.seed_countries(session)


def test_every_table_but_country_and_tenant_is_tenant_scoped() -> None:
    tables = {m.local_table.name for m in Base.registry.mappers}
    assert {m.__tablename__ for m in TENANT_MODELS} == tables - {"Country", "Tenant"}


async def _two_tenants(db: Database, model: type[Base]) -> tuple[str, Any, str, Any]:
    a, b = f"a-{uuid.uuid4().hex[:10]}", f"b-{uuid.uuid4().hex[:10]}"
    async with db.system(reason="test setup") as session:
        row_a = await make(session, model, a)
        row_b = await make(session, model, b)
    return a, row_a, b, row_b


def _pk_filter(model: type[Base], row: Any) -> Any:
    cols = inspect(model).primary_key
    return [c == v for c, v in zip(cols, primary_key(row), strict=True)]


async def _exists(db: Database, model: type[Base], row: Any) -> bool:
    async with db.system(reason="test check") as session:
        stmt = select(func.count()).select_from(model).where(*_pk_filter(model, row))
        return await session.scalar(stmt.execution_options(include_deleted=True)) == 1


@pytest.mark.parametrize("model", READABLE_MODELS, ids=READABLE_IDS)
async def test_reads_see_only_the_scope_tenant(db: Database, model: type[Base]) -> None:
    a, row_a, _, row_b = await _two_tenants(db, model)
    async with db.tenant(a) as session:
        rows = (await session.scalars(select(model))).all()
        assert [primary_key(r) for r in rows] == [primary_key(row_a)]
        assert await session.scalar(select(func.count()).select_from(model)) == 1
        assert await session.get(model, primary_key(row_b)) is None
        assert await session.get(model, primary_key(row_a)) is not None


@pytest.mark.parametrize("model", UPDATABLE_MODELS, ids=UPDATABLE_IDS)
async def test_raw_sql_on_the_app_connection_sees_only_the_scope_tenant(
    db: Database, model: type[Base]
) -> None:
    a, _, b, row_b = await _two_tenants(db, model)
    table = model.__tablename__
    async with db.tenant(a) as session:
        tenants = (await session.execute(text(f'SELECT DISTINCT "tenantId" FROM "{table}"'))).all()
        assert tenants == [(a,)]
        updated = await session.execute(text(f'UPDATE "{table}" SET "tenantId" = "tenantId"'))
        assert updated.rowcount == 1
        if _may(model, "DELETE"):
            deleted = await session.execute(
                text(f'DELETE FROM "{table}" WHERE "tenantId" = :b'), {"b": b}
            )
            assert deleted.rowcount == 0
    assert await _exists(db, model, row_b)


@pytest.mark.parametrize("model", DELETABLE_MODELS, ids=DELETABLE_IDS)
async def test_bulk_update_and_delete_touch_only_the_scope_tenant(
    db: Database, model: type[Base]
) -> None:
    a, row_a, _, row_b = await _two_tenants(db, model)
    async with db.tenant(a) as session:
        result = await session.execute(update(model).values(tenant_id=model.tenant_id))
        assert result.rowcount == 1
        result = await session.execute(delete(model).where(*_pk_filter(model, row_b)))
        assert result.rowcount == 0
    assert await _exists(db, model, row_b)
    async with db.tenant(a) as session:
        await session.execute(delete(model))
    assert await _exists(db, model, row_b) and not await _exists(db, model, row_a)


@pytest.mark.parametrize("model", UPDATABLE_MODELS, ids=UPDATABLE_IDS)
async def test_writing_another_tenants_row_is_cross_tenant(db: Database, model: type[Base]) -> None:
    a, _, b, row_b = await _two_tenants(db, model)
    # Attaching B's row (loaded elsewhere) to A's session is refused at once.
    with pytest.raises(CrossTenant):
        async with db.tenant(a) as session:
            session.add(row_b)
    # A new row that names tenant B is refused at flush; nothing is written.
    with pytest.raises(CrossTenant):
        async with db.tenant(a) as session:
            await make(session, model, b)
    # An ORM upsert carrying B's tenant is refused before it reaches the database.
    values = {
        attr.key: getattr(row_b, attr.key)
        for attr in inspect(model).column_attrs
        if getattr(row_b, attr.key) is not None
    }
    with pytest.raises(CrossTenant):
        async with db.tenant(a) as session:
            await session.execute(insert(model).values(**values))
    # Raw SQL cannot do it either: row-level security checks the new row.
    table, pk = model.__tablename__, inspect(model).primary_key[0].name
    with pytest.raises(CrossTenant):
        async with db.tenant(a) as session:
            await session.execute(
                text(f'UPDATE "{table}" SET "tenantId" = :a WHERE "tenantId" = :a'), {"a": a}
            )
            await session.execute(
                text(f'INSERT INTO "{table}" SELECT * FROM "{table}" WHERE "{pk}" IS NULL')
            )
            await session.execute(text(f'UPDATE "{table}" SET "tenantId" = :b'), {"b": b})


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=[m.__name__ for m in READ_ONLY_MODELS])
async def test_the_application_writes_no_read_model_of_its_own_tenant_or_another(
    db: Database, model: type[Base]
) -> None:
    a, row_a, b, row_b = await _two_tenants(db, model)
    table = model.__tablename__
    writes = [
        lambda s: make(s, model, a),
        lambda s: s.execute(update(model).values(tenant_id=model.tenant_id)),
        lambda s: s.execute(delete(model)),
        lambda s: s.execute(text(f'UPDATE "{table}" SET "tenantId" = :b'), {"b": b}),
        lambda s: s.execute(text(f'DELETE FROM "{table}"')),
    ]
    for write in writes:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.tenant(a) as session:
                await write(session)
    assert await _exists(db, model, row_a) and await _exists(db, model, row_b)


@pytest.mark.parametrize(
    ("model", "relation"), RELATIONSHIPS, ids=[f"{m.__name__}.{r}" for m, r in RELATIONSHIPS]
)
async def test_a_relationship_cannot_reach_another_tenants_row(
    db: Database, model: type[Base], relation: str
) -> None:
    """The database refuses a child in tenant A pointing at a parent in tenant B (the foreign
    key carries tenantId), even written in a system scope; within one tenant the relationship
    loads lazily, eagerly and in a join."""
    a, b = f"a-{uuid.uuid4().hex[:10]}", f"b-{uuid.uuid4().hex[:10]}"
    prop = inspect(model).relationships[relation]

    def pointing_at(parent: Any) -> dict[str, Any]:
        return {
            inspect(model).get_property_by_column(local).key: getattr(
                parent, prop.mapper.get_property_by_column(remote).key
            )
            for local, remote in prop.local_remote_pairs
        }

    with pytest.raises(IntegrityError, match="ForeignKeyViolation"):
        async with db.system(
            reason="test setup: a child in A pointing at a parent in B"
        ) as session:
            parent_b = await make(session, prop.mapper.class_, b)
            await make(session, model, a, **pointing_at(parent_b))
    async with db.system(reason="test setup: a child and its parent in A") as session:
        parent_a = await make(session, prop.mapper.class_, a)
        child = await make(session, model, a, **pointing_at(parent_a))
    async with db.tenant(a) as session:
        loaded = await session.get(model, primary_key(child))
        assert await session.run_sync(lambda _: getattr(loaded, relation)) is not None
        eager = await session.scalar(
            select(model)
            .options(joinedload(getattr(model, relation)))
            .where(*_pk_filter(model, child))
        )
        assert getattr(eager, relation) is not None
        joined = await session.scalars(
            select(model).join(getattr(model, relation)).where(*_pk_filter(model, child))
        )
        assert len(joined.all()) == 1


async def test_a_nested_write_reaching_another_tenants_row_is_refused(
    db: Database, tenant: str
) -> None:
    """A row written through a relationship is checked like a row added on its own: a new
    address linked to another tenant's profile attaches that profile by cascade, and is refused
    before anything is sent; a new address of the scope's own profile is stamped with it."""
    from gxcore.identity.models import Address, UserProfile

    other = await register_tenant(db, f"o-{uuid.uuid4().hex[:10]}")
    async with db.system(reason="test setup") as session:
        theirs = await make(session, UserProfile, other)
        mine = await make(session, UserProfile, tenant)

    def address(profile: UserProfile) -> Address:
        return Address(
            address_line1="1 Marina", city="Lagos", country_code="NG", user_profile=profile
        )

    with pytest.raises(CrossTenant):
        async with db.tenant(tenant) as session:
            session.add(address(theirs))
    async with db.tenant(tenant) as session:
        own = await session.get(UserProfile, mine.profile_id)
        assert own is not None
        session.add(address(own))
    async with db.system(reason="test check") as session:
        written = (await session.scalars(select(Address))).all()
        assert [(a.tenant_id, a.profile_id) for a in written if a.tenant_id in (tenant, other)] == [
            (tenant, mine.profile_id)
        ]


async def test_a_session_without_tenant_fails_closed(db: Database, tenant: str) -> None:
    from gxcore.wallet.models import Wallet

    async with db.system(reason="test setup") as session:
        await make(session, Wallet, tenant)
    async with db.session() as session:
        with pytest.raises(TenantScopeRequired):
            await session.execute(select(Wallet))
        with pytest.raises(TenantScopeRequired):
            session.add(
                Wallet(tenant_id=tenant, profile_id="p", primary_account_id="x", wallet_name="w")
            )
            await session.flush()
    async with db.session() as session:
        # Raw SQL with no tenant set: the application role sees no tenant rows at all.
        assert await session.scalar(text('SELECT count(*) FROM "Wallet"')) == 0
        assert await session.scalar(text('SELECT count(*) FROM "Country"')) > 200


async def test_a_pooled_connection_never_carries_a_tenant_over(
    migrated_url: str, tenant: str, pool: PoolConfig
) -> None:
    from gxcore.wallet.models import Wallet

    db = Database.connect(migrated_url, role_key=ROLE_KEY, pool=pool, pool_size=1, max_overflow=0)
    other = f"o-{uuid.uuid4().hex[:10]}"
    try:
        async with db.system(reason="test setup") as session:
            await make(session, Wallet, tenant)
            await make(session, Wallet, other)
        pids = set()
        for current in (tenant, other, tenant):
            async with db.tenant(current) as session:
                pids.add(await session.scalar(text("SELECT pg_backend_pid()")))
                seen = await session.scalars(text('SELECT "tenantId" FROM "Wallet"'))
                assert seen.all() == [current]
        assert len(pids) == 1, "the test needs one reused connection"
        async with db.app_engine.connect() as conn:
            setting = await conn.scalar(text("SELECT current_setting('app.tenant_id', true)"))
            assert not setting
            assert await conn.scalar(text('SELECT count(*) FROM "Wallet"')) == 0
    finally:
        await db.dispose()


async def test_the_app_role_owns_nothing_and_cannot_bypass_rls(db: Database) -> None:
    async with db.app_engine.connect() as conn:
        role = (
            await conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, current_user FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            )
        ).one()
        assert role == (False, False, "gx_app")
        owned = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
            )
        )
        assert owned == 0


async def test_every_tenant_table_forces_rls_with_both_policies(db: Database) -> None:
    async with db.app_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                    "array_agg(p.polname ORDER BY p.polname) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_policy p ON p.polrelid = c.oid "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r' "
                    "AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid "
                    "AND a.attname = 'tenantId') GROUP BY 1, 2, 3"
                )
            )
        ).all()
    assert len(rows) == len(TENANT_MODELS)
    bad = [r for r in rows if not (r[1] and r[2] and r[3] == ["system_scope", "tenant_isolation"])]
    assert bad == []


async def test_the_audit_log_is_append_only_for_the_application(db: Database, tenant: str) -> None:
    from gxcore.audit.models import AuditLog
    from gxcore.identity.models import UserProfile

    async with db.tenant(tenant) as session:
        await make(session, UserProfile, tenant)  # writes audit entries through the flush hook
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) > 0
    for statement in (update(AuditLog).values(resource_id="forged"), delete(AuditLog)):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.tenant(tenant) as session:
                await session.execute(statement)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with db.tenant(tenant) as session:
            await session.execute(text('UPDATE "AuditLog" SET "resourceId" = NULL'))


async def test_the_message_queue_is_insert_only_for_the_application(
    db: Database, tenant: str
) -> None:
    from gxcore.notifications import service as messages
    from gxcore.notifications.models import MessageOutbox

    now = datetime.now(UTC)
    async with db.tenant(tenant) as session:
        await messages.queue_email(session, to="a@example.com", subject="s", text="t", now=now)
    other = f"b-{uuid.uuid4().hex[:10]}"
    with pytest.raises(CrossTenant):  # the guard refuses another tenant's row
        async with db.tenant(tenant) as session:
            row = {"id": "x", "channel": "EMAIL", "recipient": "r", "body": "b"}
            await session.execute(insert(MessageOutbox).values(tenant_id=other, **row))
    with pytest.raises(CrossTenant):  # and row-level security, underneath
        async with db.tenant(tenant) as session:
            await session.execute(
                text(
                    'INSERT INTO "MessageOutbox" ("tenantId", id, channel, recipient, body) '
                    "VALUES (:other, 'y', 'EMAIL', 'r', 'b')"
                ),
                {"other": other},
            )
    for statement in (
        'SELECT body FROM "MessageOutbox"',
        """UPDATE "MessageOutbox" SET status = 'SENT'""",
        'DELETE FROM "MessageOutbox"',
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.tenant(tenant) as session:
                await session.execute(text(statement))
    async with db.system(reason="test check") as session:
        rows = await session.execute(
            select(MessageOutbox.tenant_id, MessageOutbox.body).where(
                MessageOutbox.tenant_id.in_([tenant, other])
            )
        )
        assert [tuple(r) for r in rows] == [(tenant, "t")]


async def test_transfer_holds_are_placed_and_released_in_their_tenant_only(db: Database) -> None:
    from gxcore.wallet.models import TransferHold

    a, row_a, b, row_b = await _two_tenants(db, TransferHold)
    async with db.tenant(a) as session:
        result = await session.execute(delete(TransferHold).where(*_pk_filter(TransferHold, row_b)))
        assert result.rowcount == 0
    with pytest.raises(CrossTenant):
        async with db.tenant(a) as session:
            await make(session, TransferHold, b)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with db.tenant(a) as session:
            await session.execute(text('UPDATE "TransferHold" SET "tenantId" = "tenantId"'))
    assert await _exists(db, TransferHold, row_b)
    async with db.tenant(a) as session:
        assert (await session.execute(delete(TransferHold))).rowcount == 1
    assert await _exists(db, TransferHold, row_b) and not await _exists(db, TransferHold, row_a)
