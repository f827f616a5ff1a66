"""No index that another index of its table already serves, checked in the migrated catalog.

A plain B-tree index whose key columns (with their operator classes, collations and orderings)
are the leading columns of another B-tree index of the same table answers no scan the longer
one cannot, and costs every write that touches it. A unique index is redundant only beside an
identical unique one (the primary key included): a unique prefix enforces more than the longer
key does. Partial and expression indexes are left out of the check (their predicate or
expression is what they are for). The check reads `pg_catalog` only, so a table added later is
held to it without anyone listing it here.
"""

from __future__ import annotations

import asyncpg

_INDEXES = """
WITH ix AS (
    SELECT x.indrelid AS table_oid, x.indexrelid AS index_oid, i.relname AS name,
           x.indisunique AS is_unique, x.indisprimary AS is_primary,
           (x.indkey::int2[])[0:x.indnkeyatts - 1] AS keys,
           (x.indclass::oid[])[0:x.indnkeyatts - 1] AS classes,
           (x.indcollation::oid[])[0:x.indnkeyatts - 1] AS collations,
           (x.indoption::int2[])[0:x.indnkeyatts - 1] AS options
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_am am ON am.oid = i.relam
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = $1 AND am.amname = 'btree'
      AND x.indexprs IS NULL AND x.indpred IS NULL AND x.indisvalid
)
SELECT DISTINCT ON (a.index_oid) a.table_oid::regclass::text AS table_name,
       a.name AS redundant, b.name AS served_by
FROM ix a JOIN ix b ON b.table_oid = a.table_oid AND b.index_oid <> a.index_oid
WHERE NOT a.is_primary
  AND cardinality(a.keys) <= cardinality(b.keys)
  AND a.keys = b.keys[1:cardinality(a.keys)]
  AND a.classes = b.classes[1:cardinality(a.keys)]
  AND a.collations = b.collations[1:cardinality(a.keys)]
  AND a.options = b.options[1:cardinality(a.keys)]
  -- a unique index is redundant only beside an identical unique one
  AND (NOT a.is_unique OR (b.is_unique AND a.keys = b.keys))
  -- of two identical indexes, report the weaker one, or the later one of two alike
  AND (a.keys <> b.keys OR b.is_primary OR (b.is_unique AND NOT a.is_unique)
       OR (a.is_unique = b.is_unique AND a.index_oid > b.index_oid))
ORDER BY a.index_oid, b.is_primary DESC, b.name
"""


async def redundant_indexes(conn: asyncpg.Connection, schema: str = "public") -> list[str]:
    """Each redundant index of `schema`, with an index that serves its scans (empty: none)."""
    rows = await conn.fetch(_INDEXES, schema)
    return sorted(f"{r['table_name']}: {r['redundant']} (served by {r['served_by']})" for r in rows)


async def test_no_index_repeats_the_start_of_another(migrated_url: str) -> None:
    conn = await asyncpg.connect(migrated_url)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'") > 150
        )  # the check ran over the schema, not over nothing
        assert await redundant_indexes(conn) == []
    finally:
        await conn.close()


async def test_the_check_reports_each_redundant_index_and_only_those(migrated_url: str) -> None:
    conn = await asyncpg.connect(migrated_url)
    tx = conn.transaction()  # rolled back: the stray schema never outlives the test
    await tx.start()
    try:
        await conn.execute(
            """
            CREATE SCHEMA stray;
            CREATE TABLE stray."T" ("tenantId" text, id text, code text, at timestamptz,
                PRIMARY KEY ("tenantId", id));
            -- redundant:
            CREATE INDEX "T_tenantId_idx" ON stray."T" ("tenantId");
            CREATE UNIQUE INDEX "T_tenantId_id_key" ON stray."T" ("tenantId", id);
            CREATE INDEX "T_tenantId_code_at_idx" ON stray."T" ("tenantId", code, at);
            CREATE INDEX "T_tenantId_code_idx" ON stray."T" ("tenantId", code);
            CREATE INDEX "T_twin_a_idx" ON stray."T" (at, code);
            CREATE INDEX "T_twin_b_idx" ON stray."T" (at, code);
            -- not redundant: unique prefix, other order, other opclass, partial, expression
            CREATE UNIQUE INDEX "T_tenantId_code_key" ON stray."T" ("tenantId", code);
            CREATE INDEX "T_code_desc_idx" ON stray."T" (code DESC);
            CREATE INDEX "T_code_idx" ON stray."T" (code text_pattern_ops, at);
            CREATE INDEX "T_code_asc_idx" ON stray."T" (code);
            CREATE INDEX "T_open_idx" ON stray."T" ("tenantId") WHERE at IS NULL;
            CREATE INDEX "T_lower_idx" ON stray."T" (lower(code));
            """
        )
        found = await redundant_indexes(conn, "stray")
    finally:
        await tx.rollback()
        await conn.close()
    assert found == [
        'stray."T": T_tenantId_code_idx (served by T_tenantId_code_at_idx)',
        'stray."T": T_tenantId_id_key (served by T_pkey)',
        'stray."T": T_tenantId_idx (served by T_pkey)',
        'stray."T": T_twin_b_idx (served by T_twin_a_idx)',
    ]
