"""System-scope writes reach rows through their (tenantId, id) keys.

A tenant table's primary key is `("tenantId", <id>)` (tests/test_tenant_keys.py). In a tenant
scope, row-level security adds `tenantId` to every statement; in the system scope (the relay,
the projector, the jobs) nothing does, so an UPDATE or DELETE naming a row by its id alone
cannot use the key and reads the whole table. The set-based statements name `tenantId` by
hand; an ORM flush names it because it writes by the table's primary key, although the mapper
identifies rows by id alone (`gxcore.db.base.TenantScoped`). This runs the money loop end to
end (approval, activation, genesis, a transfer, a freeze and its lifting: set-based writes and
a flushed profile) and checks every UPDATE and DELETE the system scope sent to a tenant table.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event

from gxcore.db.models import metadata

# ruff: noqa: F811  (the test takes the `loop` fixture imported below)
from tests.test_money_api import Loop, loop  # noqa: F401

TENANT_TABLES = {t.name for t in metadata.sorted_tables if "tenantId" in {c.name for c in t.c}}
_TARGET = re.compile(
    r'^\s*(?:WITH\b.*?\)\s*)?(UPDATE|DELETE FROM)\s+"(\w+)"', re.DOTALL | re.IGNORECASE
)


def _unkeyed(statement: str) -> str | None:
    """The table an UPDATE/DELETE of a tenant table writes without naming tenantId, if so."""
    found = _TARGET.match(statement)
    if found is None or found.group(2) not in TENANT_TABLES:
        return None
    where = statement[found.end() :].upper().split("WHERE", 1)
    return None if len(where) == 2 and '"TENANTID"' in where[1] else found.group(2)


def test_the_check_tells_a_keyed_write_from_an_unkeyed_one() -> None:
    assert _unkeyed('UPDATE "UserProfile" SET status=$1 WHERE "UserProfile"."profileId" = $2')
    assert _unkeyed('DELETE FROM "TransferHold" WHERE "commandId" = $1') == "TransferHold"
    keyed = 'UPDATE "Wallet" AS w SET x = 1 FROM u WHERE w."tenantId" = u.t AND w."walletId" = u.i'
    assert _unkeyed(keyed) is None
    assert _unkeyed('UPDATE "Country" SET "countryName" = $1 WHERE "countryCode" = $2') is None


async def test_the_system_scope_names_the_tenant_in_every_write(loop: Loop) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = loop.db.system_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        alice, bob = await loop.user(), await loop.user()
        assert (await loop.send(alice, bob, "10")).status_code == 202
        await loop.settle()
        wallet = (await loop.balance(bob))["walletId"]
        for action in ("freeze", "unfreeze"):
            done = await loop.client.post(
                f"/wallets/{wallet}/{action}", json={"reason": "check"}, headers=loop.admin
            )
            assert done.status_code == 202, done.text
            await loop.settle()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    writes = [s for s in seen if _TARGET.match(s)]
    assert len(writes) >= 5, "the loop wrote read models through the system scope"
    unkeyed = {table: s for s in writes if (table := _unkeyed(s))}
    assert unkeyed == {}, "\n\n".join(unkeyed.values())
