"""Alembic environment for gxcore; driven by `gxcore.db.migrate`, never by a stray alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gxcore.db.migrate import TIMEOUTS, compare_options

config = context.config

# Migrations must never wait behind a long lock and block every query queued after them
# (set for the whole run; each revision sets lock_timeout again, see gxcore.db.lint_rules).


def run_offline() -> None:
    context.configure(url="postgresql://", literal_binds=True, **compare_options())
    with context.begin_transaction():
        for statement in TIMEOUTS:
            context.execute(statement)
        context.run_migrations()


def run_online(connection: Connection) -> None:
    context.configure(connection=connection, **compare_options())
    with context.begin_transaction():
        for statement in TIMEOUTS:
            context.execute(statement)
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    # gxcore.db.migrate opens the connection and lends it here (Alembic's connection sharing).
    run_online(config.attributes["connection"])
