"""Keys carry the tenant, checked in the migrated database's catalog for every table there is.

A tenant table is one with a `tenantId` column. Its primary key, each of its unique indexes and
each of its foreign keys to another tenant table must include `tenantId` (a foreign key pairing
it with the referenced table's `tenantId`), which is what distributing the schema by `tenantId`
(Citus) requires and what makes a cross-tenant reference impossible in the database itself.
`ON DELETE SET NULL` must not null `tenantId`. A table without `tenantId` (a reference table:
`Country`, `Tenant`) may not reference a tenant table. The check reads `pg_catalog` only, so a
table added later is held to the same rule without anyone listing it here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from gxcore.cqrs import projection, relay
from gxcore.db import migrate
from gxcore.db.arrays import packed
from gxcore.db.base import REFERENCE_TABLES
from gxcore.db.tenancy import Database
from tests.conftest import ROLE_KEY

TENANT = "tenantId"

# Every table of the schema, whether it holds tenantId, and at which attribute number.
_TABLES = """
SELECT c.oid, c.relname AS name,
       (SELECT a.attnum FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped) AS tenant_attnum
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
"""
# Unique indexes (primary keys included) with their key columns (INCLUDE columns left out).
_UNIQUES = """
SELECT x.indrelid AS table_oid, i.relname AS name, x.indisprimary AS is_primary,
       (x.indkey::int2[])[0:x.indnkeyatts - 1] AS keys
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indisunique AND x.indrelid = ANY($1::oid[])
"""
_FOREIGN_KEYS = """
SELECT k.conname AS name, k.conrelid AS table_oid, k.confrelid AS ref_oid,
       k.conkey AS keys, k.confkey AS ref_keys, k.confdeltype::text AS on_delete,
       k.confdelsetcols AS set_columns
FROM pg_constraint k
WHERE k.contype = 'f' AND k.conrelid = ANY($1::oid[])
"""


async def tenant_key_violations(conn: asyncpg.Connection, schema: str = "public") -> list[str]:
    """Every way the tables of `schema` break the rule, one line each (empty: none)."""
    tables = {r["oid"]: r for r in await conn.fetch(_TABLES, schema, TENANT)}
    oids = list(tables)
    found: list[str] = []
    has_primary = set()
    for r in await conn.fetch(_UNIQUES, oids):
        table = tables[r["table_oid"]]
        if r["is_primary"]:
            has_primary.add(r["table_oid"])
        if table["tenant_attnum"] is not None and table["tenant_attnum"] not in r["keys"]:
            what = "primary key" if r["is_primary"] else "unique index"
            found.append(f"{table['name']}: {what} {r['name']} lacks {TENANT}")
    for oid, table in tables.items():
        if table["tenant_attnum"] is not None and oid not in has_primary:
            found.append(f"{table['name']}: no primary key")
    for r in await conn.fetch(_FOREIGN_KEYS, oids):
        table, ref = tables[r["table_oid"]], tables.get(r["ref_oid"])
        if ref is None or ref["tenant_attnum"] is None:
            continue  # to a reference table (or outside the schema): any key will do
        if table["tenant_attnum"] is None:
            found.append(f"{table['name']}: foreign key {r['name']} from a reference table")
            continue
        pairs = list(zip(r["keys"], r["ref_keys"], strict=True))
        if (table["tenant_attnum"], ref["tenant_attnum"]) not in pairs:
            found.append(f"{table['name']}: foreign key {r['name']} does not pair {TENANT}")
        elif r["on_delete"] in ("n", "d") and (
            not r["set_columns"] or table["tenant_attnum"] in r["set_columns"]
        ):
            # ON DELETE SET NULL without a column list would null tenantId (NOT NULL: it fails)
            found.append(f"{table['name']}: foreign key {r['name']} sets {TENANT} on delete")
    return sorted(found)


async def test_every_tenant_table_keys_by_tenant(migrated_url: str) -> None:
    conn = await asyncpg.connect(migrated_url)
    try:
        tables = await conn.fetch(_TABLES, "public", TENANT)
        assert len([t for t in tables if t["tenant_attnum"] is not None]) >= 50
        reference = {t["name"] for t in tables if t["tenant_attnum"] is None}
        assert reference == REFERENCE_TABLES, "only the reference tables lack tenantId"
        assert await tenant_key_violations(conn) == []
    finally:
        await conn.close()


async def test_the_check_reports_each_table_that_breaks_the_rule(scratch_url: str) -> None:
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(
            """
            CREATE TABLE "StrayParent" ("tenantId" text NOT NULL, id text NOT NULL,
                code text, PRIMARY KEY (id));
            CREATE UNIQUE INDEX "StrayParent_code_key" ON "StrayParent" (code);
            CREATE UNIQUE INDEX "StrayParent_tenantId_id_key" ON "StrayParent" ("tenantId", id);
            CREATE TABLE "StrayChild" ("tenantId" text NOT NULL, id text NOT NULL,
                "parentId" text, "otherId" text, "keptId" text,
                PRIMARY KEY ("tenantId", id),
                CONSTRAINT "StrayChild_parentId_fkey" FOREIGN KEY ("parentId")
                    REFERENCES "StrayParent" (id),
                CONSTRAINT "StrayChild_crossed_fkey" FOREIGN KEY ("otherId", "tenantId")
                    REFERENCES "StrayParent" ("tenantId", id),
                CONSTRAINT "StrayChild_nulls_fkey" FOREIGN KEY ("tenantId", "keptId")
                    REFERENCES "StrayParent" ("tenantId", id) ON DELETE SET NULL,
                CONSTRAINT "StrayChild_country_fkey" FOREIGN KEY ("otherId")
                    REFERENCES "Country" ("countryCode"));
            CREATE TABLE "StrayHeap" ("tenantId" text NOT NULL, id text);
            CREATE TABLE "StrayReference" (id text PRIMARY KEY, "childTenant" text,
                "childId" text, CONSTRAINT "StrayRef_fkey" FOREIGN KEY ("childTenant", "childId")
                    REFERENCES "StrayChild" ("tenantId", id));
            """
        )
        found = await tenant_key_violations(conn)
    finally:
        await conn.close()
    assert found == [
        "StrayChild: foreign key StrayChild_crossed_fkey does not pair tenantId",
        "StrayChild: foreign key StrayChild_nulls_fkey sets tenantId on delete",
        "StrayChild: foreign key StrayChild_parentId_fkey does not pair tenantId",
        "StrayHeap: no primary key",
        "StrayParent: primary key StrayParent_pkey lacks tenantId",
        "StrayParent: unique index StrayParent_code_key lacks tenantId",
        "StrayReference: foreign key StrayRef_fkey from a reference table",
    ]


_PROFILE = (
    'INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", '
    '"biometricHash", "passwordHash", "nationalIdNumber", "updatedAt") '
    "VALUES ($1, $2, 'Ada', 'Byron', $1, 'x', $1, now())"
)
_POINTS = (
    'INSERT INTO "ReferralPoints" ("tenantId", "profileId", "updatedAt") VALUES ($1, $2, now())'
)


async def test_a_row_of_one_tenant_cannot_point_at_another_tenants_row(migrated_url: str) -> None:
    """As the owner (superuser), so neither the application nor row-level security stands in
    the way: the foreign key alone refuses tenant B's row naming tenant A's profile."""
    tenant_a, tenant_b = f"keys-a-{uuid.uuid4().hex[:8]}", f"keys-b-{uuid.uuid4().hex[:8]}"
    profile = str(uuid.uuid4())
    conn = await asyncpg.connect(migrated_url)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(_PROFILE, profile, tenant_a)
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                async with conn.transaction():  # a savepoint: the refusal leaves the rest
                    await conn.execute(_POINTS, tenant_b, profile)
            await conn.execute(_POINTS, tenant_a, profile)  # the same row in its own tenant
            assert (
                await conn.fetchval(
                    'SELECT count(*) FROM "ReferralPoints" WHERE "profileId" = $1', profile
                )
                == 1
            )
            # The same id may exist in two tenants: keys are per tenant now.
            await conn.execute(_PROFILE, profile, tenant_b)
            await conn.execute(_POINTS, tenant_b, profile)
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def test_deleting_a_profile_nulls_the_reference_and_keeps_the_tenant(
    migrated_url: str,
) -> None:
    """ON DELETE SET NULL on a composite key nulls the referencing column only."""
    tenant = f"keys-{uuid.uuid4().hex[:8]}"
    owner, invitee = str(uuid.uuid4()), str(uuid.uuid4())
    conn = await asyncpg.connect(migrated_url)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(_PROFILE, owner, tenant)
            await conn.execute(_PROFILE, invitee, tenant)
            await conn.execute(
                'INSERT INTO "Referral" ("referralId", "tenantId", "referrerProfileId", '
                '"inviteeEmail", "inviteeProfileId", "updatedAt") '
                "VALUES ($1, $2, $3, 'x@example.org', $4, now())",
                "r1",
                tenant,
                owner,
                invitee,
            )
            await conn.execute('DELETE FROM "UserProfile" WHERE "profileId" = $1', invitee)
            row = await conn.fetchrow(
                'SELECT "tenantId", "inviteeProfileId" FROM "Referral" WHERE "referralId" = $1',
                "r1",
            )
            assert (row["tenantId"], row["inviteeProfileId"]) == (tenant, None)
            await conn.execute('DELETE FROM "UserProfile" WHERE "profileId" = $1', owner)
            assert (
                await conn.fetchval('SELECT count(*) FROM "Referral" WHERE "tenantId" = $1', tenant)
                == 0
            )
        finally:
            await tx.rollback()
    finally:
        await conn.close()


BEFORE = "7376e5530022"  # the revision before keys carried the tenant
_KEYS = """
SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
WHERE conrelid = '"Contact"'::regclass AND contype IN ('p', 'f') ORDER BY conname
"""


async def test_the_migration_rekeys_a_database_with_rows_and_rolls_back(scratch_url: str) -> None:
    """Down to the one-column keys and up again with rows in place: every row survives both
    ways, the keys are the expected ones at each end, and the catalog check passes at head."""
    tenant = f"keys-{uuid.uuid4().hex[:8]}"
    owner, friend = str(uuid.uuid4()), str(uuid.uuid4())
    await migrate.downgrade(scratch_url, BEFORE)
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(_PROFILE, owner, tenant)
        await conn.execute(_PROFILE, friend, tenant)
        await conn.execute(
            'INSERT INTO "Contact" ("contactId", "tenantId", "ownerProfileId", '
            '"contactProfileId", "displayName", "updatedAt") VALUES ($1, $2, $3, $4, $5, now())',
            "c1",
            tenant,
            owner,
            friend,
            "Friend",
        )
        old = {r["conname"]: r["def"] for r in await conn.fetch(_KEYS)}
        assert old["Contact_pkey"] == 'PRIMARY KEY ("contactId")'
        assert "Contact_contactProfileId_fkey" in old
        assert await tenant_key_violations(conn) != []
    finally:
        await conn.close()

    await migrate.upgrade(scratch_url, role_key=ROLE_KEY)
    conn = await asyncpg.connect(scratch_url)
    try:
        new = {r["conname"]: r["def"] for r in await conn.fetch(_KEYS)}
        assert new == {
            "Contact_pkey": 'PRIMARY KEY ("tenantId", "contactId")',
            "Contact_tenantId_contactProfileId_fkey": 'FOREIGN KEY ("tenantId", '
            '"contactProfileId") REFERENCES "UserProfile"("tenantId", "profileId") '
            'ON UPDATE CASCADE ON DELETE SET NULL ("contactProfileId")',
            "Contact_tenantId_ownerProfileId_fkey": 'FOREIGN KEY ("tenantId", "ownerProfileId") '
            'REFERENCES "UserProfile"("tenantId", "profileId") ON UPDATE CASCADE '
            "ON DELETE CASCADE",
        }
        assert await tenant_key_violations(conn) == []
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND contype = 'f'"
        ), "every foreign key is validated"
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_pkey\\_new' "
            "OR relname LIKE '%\\_pkey\\_old'"
        ), "no index of the swap is left behind"
        assert await conn.fetchval('SELECT count(*) FROM "Contact" WHERE "tenantId" = $1', tenant)
    finally:
        await conn.close()

    await migrate.downgrade(scratch_url, BEFORE)
    conn = await asyncpg.connect(scratch_url)
    try:
        assert {r["conname"]: r["def"] for r in await conn.fetch(_KEYS)} == old
        assert await conn.fetchval('SELECT "contactProfileId" FROM "Contact"') == friend
    finally:
        await conn.close()
    await migrate.upgrade(scratch_url, role_key=ROLE_KEY)
    assert (await migrate.status(scratch_url)).up_to_date


def _plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _plan_nodes(child))]


async def test_the_relay_and_the_projector_reach_commands_through_the_tenant_key(
    scratch_url: str,
) -> None:
    """With ("tenantId", "id") as the key, a statement naming a command by id alone would scan
    the table; the relay's claim and record and the projector's COMMITTED marks (system scope,
    no row-level security to add the tenant) name both and read OutboxCommand by its key."""
    tenants = [f"plan-{i}" for i in range(4)]
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(
            'INSERT INTO "OutboxCommand" (id, "tenantId", service, "commandType", "requestId", '
            'payload, status, "updatedAt") '
            "SELECT 'c' || i, ($1::text[])[1 + i % 4], 'test', 'TRANSFER_TOKENS', 'r' || i, "
            "'{}', CASE WHEN i % 1000 = 0 THEN 'LOCKED' ELSE 'COMMITTED' END::\"OutboxStatus\", "
            "now() FROM generate_series(1, 40000) AS i",
            tenants,
        )
        await conn.execute('ANALYZE "OutboxCommand"')
    finally:
        await conn.close()
    ids = ["c1000", "c2000", "c3000"]
    statements = {
        "claim": (relay._CLAIM, {"worker": "w", "lease": 30, "limit": 10}),
        "record": (
            relay._RECORD,
            {
                "worker": "w",
                "submitted_at": datetime.now(UTC),
                "tenants": sorted({tenants[int(i[1:]) % 4] for i in ids}),
                **packed(
                    ids=ids,
                    statuses=["COMMITTED"] * 3,
                    tx_ids=["t"] * 3,
                    blocks=["1"] * 3,
                    codes=[None] * 3,
                    messages=[None] * 3,
                    submitted=["true"] * 3,
                    retry_in=[None] * 3,
                ),
            },
        ),
        "mark committed": (
            projection._MARK_COMMITTED,
            {
                "tenants": tenants,
                "st": ["LOCKED", "SUBMITTED"],
                **packed(ids=ids, txs=["t"] * 3, blocks=["1"] * 3),
            },
        ),
    }
    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    try:
        async with db.system(reason="test: plans of the relay's statements") as session:
            for what, (statement, params) in statements.items():
                explain = text(f"EXPLAIN (FORMAT JSON) {statement.text}")
                plan = (await session.execute(explain, params)).scalar_one()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                nodes = [
                    n
                    for n in _plan_nodes(plan[0]["Plan"])
                    if n.get("Relation Name") == "OutboxCommand"
                ]
                assert nodes and all(n["Node Type"] != "Seq Scan" for n in nodes), (what, nodes)
                assert any(n.get("Index Name") == "OutboxCommand_pkey" for n in nodes), (
                    what,
                    nodes,
                )
    finally:
        await db.dispose()
