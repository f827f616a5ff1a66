"""Multi-host URLs, and telling a database that is away from a query that is wrong."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from gxcore.db.engine import async_url, create_engine, hosts_of, libpq_url, on_server
from gxcore.db.reconnect import Reconnect, is_disconnect
from gxcore.db.roles import role_url
from gxcore.errors import DatabaseUnavailable, LedgerUnavailable, ValidationFailed

HA = "postgresql://gx@10.0.0.1:5432,10.0.0.2:5433/gx?target_session_attrs=read-write"


def test_a_multi_host_url_keeps_every_server_in_order_for_asyncpg_and_libpq() -> None:
    url = async_url(HA)
    assert hosts_of(url) == ["10.0.0.1:5432", "10.0.0.2:5433"]
    assert libpq_url(url) == HA
    args = create_engine(HA).dialect.create_connect_args(url)[1]
    assert (args["host"], args["port"]) == (["10.0.0.1", "10.0.0.2"], [5432, 5433])
    assert args["target_session_attrs"] == "read-write"
    # A role's login on it keeps the list and the attribute.
    login = role_url(HA, "gx_app", key=b"k" * 32)
    assert login.startswith("postgresql://gx_app:") and login.endswith(HA.split("@")[1])


def test_a_replica_login_takes_the_replicas_server_and_drops_read_write() -> None:
    moved = on_server(HA, "postgresql://10.0.0.9:6432")
    assert hosts_of(moved) == ["10.0.0.9:6432"]
    assert moved.database == "gx" and "target_session_attrs" not in moved.query


@pytest.mark.parametrize(
    ("error", "away"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (OSError(113, "No route to host"), True),
        (FileNotFoundError(2, "no such file"), False),  # a bug, not an outage
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
        (LedgerUnavailable("no ledger"), False),  # an injected fault: not the database
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        (ValidationFailed("bad"), False),
        (DatabaseUnavailable("away"), True),
    ],
)
def test_only_a_server_that_is_away_counts_as_a_disconnect(error: Exception, away: bool) -> None:
    assert is_disconnect(error) is away
    wrapped = DBAPIError("SELECT 1", {}, error, connection_invalidated=False)
    assert is_disconnect(wrapped) is away


def test_a_ledger_error_caused_by_a_lost_connection_is_a_disconnect() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as e:
            raise LedgerUnavailable("cannot read the ledger's events") from e
    except LedgerUnavailable as e:
        assert is_disconnect(e)


async def test_reconnecting_gives_up_after_its_bound() -> None:
    waits = Reconnect("test", attempts=2, base=0.001, cap=0.001)
    error = ConnectionRefusedError(111, "refused")
    await waits.wait(error)
    await waits.wait(error)
    with pytest.raises(DatabaseUnavailable, match="stayed away for 2 tries"):
        await waits.wait(error)
    waits.reset()
    await waits.wait(error)  # a success in between starts the count again
