"""Removing a value from a PostgreSQL enum type, which PostgreSQL cannot do in place.

`ALTER TYPE ... ADD VALUE` is cheap and online. Taking a value out means replacing the type:
rename it aside, create it again without the value, move every column to the new type
(`USING col::text::"Type"`), drop the old one. Moving a column rewrites its table under an
ACCESS EXCLUSIVE lock, so this belongs to a contract step, run when the value has been unused
for a release; docs/migrations.md gives the whole procedure. The statements are plain SQL, so a
revision can run them with `op.execute` and a test can run them on a scratch database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EnumColumn:
    table: str
    column: str
    #: The column's default as an enum label, set again on the new type (None: no default).
    default: str | None = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def remove_value_statements(
    type_name: str,
    value: str,
    *,
    keep: Sequence[str],
    columns: Sequence[EnumColumn],
    replace_with: str | None = None,
) -> list[str]:
    """The statements that leave `type_name` with exactly `keep` (in that order), without `value`.

    Rows still holding `value` are moved to `replace_with`; without one, the first statement
    refuses (raises) while any row holds it, and nothing changes.
    """
    if value in keep:
        raise ValueError(f"{value!r} is to be removed but is listed in keep")
    if replace_with is not None and replace_with not in keep:
        raise ValueError(f"replacement {replace_with!r} is not one of the kept values")
    old = f"{type_name}_old"
    statements: list[str] = []
    for col in columns:
        holding = f"{_q(col.table)} WHERE {_q(col.column)}::text = {_lit(value)}"
        if replace_with is None:
            statements.append(
                f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM {holding}) THEN RAISE EXCEPTION "
                f"'%.% still holds %: move those rows first', {_lit(col.table)}, "
                f"{_lit(col.column)}, {_lit(value)}; END IF; END $$"
            )
        else:
            statements.append(
                f"UPDATE {_q(col.table)} SET {_q(col.column)} = {_lit(replace_with)} "
                f"WHERE {_q(col.column)}::text = {_lit(value)}"
            )
    statements.append(f"ALTER TYPE {_q(type_name)} RENAME TO {_q(old)}")
    statements.append(f"CREATE TYPE {_q(type_name)} AS ENUM ({', '.join(map(_lit, keep))})")
    for col in columns:
        table, column = _q(col.table), _q(col.column)
        if col.default is not None:
            statements.append(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
        statements.append(
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {_q(type_name)} "
            f"USING {column}::text::{_q(type_name)}"
        )
        if col.default is not None:
            statements.append(
                f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {_lit(col.default)}"
            )
    statements.append(f"DROP TYPE {_q(old)}")
    return statements
