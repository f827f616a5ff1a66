"""The state a block works on: rows loaded once, changed in memory, written back at the end.

`BlockState` caches every row the block reads (absent rows too) and keeps a journal per
command: a rejected command's changes are undone in memory before the next command runs, so a
block writes only what its committed commands did. `Tx` is the view one command's handler gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any, TypeVar

import asyncpg

from gxcore.ledger import store
from gxcore.ledger.contract import (
    PARAMETER_RULES,
    WIDE_PRECISION,
    Code,
    Params,
    Rejected,
    threshold_since,
)
from gxcore.ledger.events import Built, EventPayload
from gxcore.ledger.rows import (
    ROW_TYPES,
    SYSTEM_ACCOUNTS,
    TAXABLE,
    Account,
    Chain,
    Parameter,
    Row,
)

R = TypeVar("R", bound=Row)


def tx_id_of(tenant_id: str, request_id: str) -> str:
    """Deterministic tx id (64 hex characters, like Fabric's): the same command, the same id."""
    return hashlib.sha256(f"{tenant_id}\x1f{request_id}".encode()).hexdigest()


#: `created_block` of a row added by the running block, until `flush` gives it the block's
#: number (drawn only when the block is appended: see gxcore.ledger.block).
UNNUMBERED = -1


class BlockState:
    def __init__(self, conn: asyncpg.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.today: date = now.date()
        self._rows: dict[tuple[type[Row], tuple[str, ...]], Row | None] = {}
        self._dirty: dict[int, Row] = {}
        #: Undo steps of the running command: callables, or a changed row's snapshot.
        self._journal: list[Callable[[], None] | tuple[Row, dict[str, Any], bool]] = []
        self._snapshotted: set[int] = set()
        self._params: dict[str, Params] = {}
        self.biometrics: set[tuple[str, str]] = set()

    # --- loading ------------------------------------------------------------------------------

    async def load_tenants(self, tenants: Iterable[str]) -> None:
        """Chains and parameters of every tenant in the block: two statements."""
        tenants = sorted(set(tenants))
        found = {c.tenant_id: c for c in await store.select_tenant_rows(self.conn, Chain, tenants)}
        for tenant in tenants:
            self._rows[(Chain, (tenant,))] = found.get(tenant)
        for p in await store.select_tenant_rows(self.conn, Parameter, tenants):
            self._rows[(Parameter, p.primary_key)] = p

    async def load_accounts(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load the accounts the block will touch (one statement)."""
        wanted = sorted({k for k in keys if (Account, k) not in self._rows})
        for k in wanted:
            self._rows[(Account, k)] = None
        for account in await store.select_rows(self.conn, Account, wanted):
            self._rows[(Account, account.primary_key)] = account

    async def load_biometrics(self, keys: Iterable[tuple[str, str]]) -> None:
        self.biometrics |= await store.taken_biometrics(self.conn, sorted(set(keys)))

    async def get(self, cls: type[R], *key: str) -> R | None:
        """The row with this key (cached; cold rows cost one statement each)."""
        try:
            return self._rows[(cls, key)]  # type: ignore[return-value]
        except KeyError:
            pass
        found = await store.select_rows(self.conn, cls, [key])
        row = found[0] if found else None
        self._rows[(cls, key)] = row
        return row

    def cached(self, cls: type[R], *key: str) -> R | None:
        return self._rows.get((cls, key))  # type: ignore[return-value]

    # --- changing -----------------------------------------------------------------------------

    def add(self, row: R) -> R:
        slot = (type(row), row.primary_key)
        previous = self._rows.get(slot)
        row.created_block = row.updated_block = UNNUMBERED
        self._rows[slot] = row
        self._dirty[id(row)] = row

        def undo() -> None:
            self._rows[slot] = previous
            self._dirty.pop(id(row), None)

        self._journal.append(undo)
        return row

    def change(self, row: R) -> R:
        """Call before changing `row`: the first change per command snapshots it."""
        key = id(row)
        if key not in self._snapshotted:
            self._snapshotted.add(key)
            # (row, snapshot, was dirty): a tuple, not a closure, on this hot path.
            self._journal.append((row, dict(row.__dict__), key in self._dirty))
        self._dirty[key] = row
        return row

    def on_undo(self, action: Callable[[], None]) -> None:
        self._journal.append(action)

    def end_command(self, *, committed: bool) -> None:
        if not committed:
            for undo in reversed(self._journal):
                if isinstance(undo, tuple):
                    row, snapshot, was_dirty = undo
                    row.__dict__.clear()
                    row.__dict__.update(snapshot)
                    if not was_dirty:
                        self._dirty.pop(id(row), None)
                else:
                    undo()
        self._journal.clear()
        self._snapshotted.clear()

    # --- parameters ---------------------------------------------------------------------------

    def params(self, tenant_id: str) -> Params:
        if tenant_id not in self._params:
            values = {
                key[1]: row.value  # type: ignore[attr-defined]  # a Parameter, by the filter
                for (cls, key), row in self._rows.items()
                if cls is Parameter and key[0] == tenant_id and row is not None
            }
            self._params[tenant_id] = Params.of(values)
        return self._params[tenant_id]

    def parameter_value(self, tenant_id: str, key: str) -> str:
        row = self.cached(Parameter, tenant_id, key)
        return row.value if row is not None else PARAMETER_RULES[key].default

    def set_parameter(self, tenant_id: str, key: str, value: str) -> None:
        row = self.cached(Parameter, tenant_id, key)
        if row is None:
            self.add(Parameter(tenant_id, key, value))
        else:
            self.change(row).value = value
        # The typed view is rebuilt on next use, after this change and after its undo alike.
        self._drop_params(tenant_id)
        self.on_undo(lambda: self._drop_params(tenant_id))

    def _drop_params(self, tenant_id: str) -> None:
        self._params.pop(tenant_id, None)

    # --- writing ------------------------------------------------------------------------------

    async def flush(self, block_number: int) -> None:
        """Write every new or changed row, stamped with `block_number`: a statement or two per
        table touched."""
        by_type: dict[type[Row], list[Row]] = {}
        for row in self._dirty.values():
            if row.created_block == UNNUMBERED:
                row.created_block = block_number
            row.updated_block = block_number
            by_type.setdefault(type(row), []).append(row)
        for cls in ROW_TYPES:
            await store.write_rows(self.conn, cls, by_type.get(cls, []), block_number)


@dataclass
class Tx:
    """One command's view of the block: its tenant, tx id and the events it emits."""

    state: BlockState
    tenant_id: str
    tx_id: str
    events: list[EventPayload | Built] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.state.now

    @property
    def params(self) -> Params:
        return self.state.params(self.tenant_id)

    def emit(self, event: EventPayload | Built) -> None:
        self.events.append(event)

    def derived_id(self, prefix: str) -> str:
        return f"{prefix}-{self.tx_id[:24]}"

    async def account(self, account_id: str) -> Account | None:
        return await self.state.get(Account, self.tenant_id, account_id)

    async def require(self, account_id: str, *kinds: str) -> Account:
        """The account, or ACCOUNT_NOT_FOUND (also when it is not of one of `kinds`)."""
        account = await self.account(account_id)
        if account is None or (kinds and account.kind not in kinds):
            kind = "/".join(kinds) + " " if kinds else ""
            raise Rejected(Code.ACCOUNT_NOT_FOUND, f"no {kind}account {account_id!r}")
        return account

    async def system(self, account_id: str) -> Account:
        assert account_id in SYSTEM_ACCOUNTS
        account = await self.account(account_id)
        assert account is not None, f"system account {account_id} missing on a bootstrapped chain"
        return account

    def credit(self, account: Account, amount: Decimal) -> None:
        with localcontext(prec=WIDE_PRECISION):
            self.set_balance(account, account.balance + amount)

    def debit(self, account: Account, amount: Decimal) -> None:
        with localcontext(prec=WIDE_PRECISION):
            self.set_balance(account, account.balance - amount)

    def set_balance(self, account: Account, balance: Decimal) -> None:
        """Change a balance, keeping the velocity-tax timer (date it rose above the threshold)."""
        self.state.change(account)
        account.balance = balance
        if account.kind in TAXABLE:
            account.above_threshold_since = threshold_since(
                account.above_threshold_since,
                balance,
                self.params.velocity_tax_threshold,
                self.state.today,
            )

    def add(self, row: R) -> R:
        return self.state.add(row)

    def change(self, row: R) -> R:
        return self.state.change(row)

    async def get(self, cls: type[R], *key: str) -> R | None:
        return await self.state.get(cls, self.tenant_id, *key)
