"""The SQL a transfer request costs: its round trips to PostgreSQL, counted, and capped.

Every statement is a round trip on the request's critical path (the wallet's advisory lock is
held meanwhile), so its count is what bounds transfers per second; a change that adds one
shows up here before it shows up in `bench/transfers.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

# ruff: noqa: F811  (the test takes the `loop` fixture imported below)
from tests.test_money_api import Loop, loop  # noqa: F401


@contextmanager
def statements(loop: Loop) -> Iterator[list[str]]:
    """The statements every engine of the app ran meanwhile, in order."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split())[:140])

    engines = {id(e): e for e in (loop.db.app_engine, loop.db.system_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_one_transfer_request_costs_a_bounded_number_of_round_trips(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    assert (await loop.send(alice, bob, "10")).status_code == 202  # warm: caches, pools
    with statements(loop) as seen:
        sent = await loop.send(alice, bob, "10")
    assert sent.status_code == 202, sent.text
    print(f"\n{len(seen)} statements:\n" + "\n".join(seen))
    assert len(seen) <= 16, seen
