"""FastAPI assembly: routers under /api/v1, problem+json errors, everything injected.

    app = create_app(database=db, settings=settings)        # tests, embedding
    app = create_served_app(settings)                       # `gx api`: connects in the lifespan

Nothing connects at import time; the routers reach the database, clock and keys through
`app.state.gx` (gxcore.http.AppContext). Requests only queue messages: `gx api` runs a message
worker in its lifespan to deliver them; with `create_app` the caller runs one if it wants them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from gxcore.audit.linker import AuditLinker
from gxcore.config import Settings
from gxcore.cqrs.health import Probe
from gxcore.cqrs.projector import EventSource
from gxcore.db.pages import Cursors
from gxcore.db.tenancy import Database
from gxcore.edge import install_edge
from gxcore.http import ERROR_RESPONSES, AppContext, install_error_handlers
from gxcore.identity.otp import otp_key
from gxcore.identity.tokens import jwt_key
from gxcore.kyc.vault import Vault
from gxcore.notifications.senders import default_senders
from gxcore.notifications.worker import MessageWorker

API_PREFIX = "/api/v1"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _build(settings: Settings, **fastapi_kwargs: object) -> FastAPI:
    from gxcore.admin.api import router as admin_system
    from gxcore.business.api import router as business
    from gxcore.business.organizations_api import router as ledger_organizations
    from gxcore.console.pages import router as console
    from gxcore.cqrs.ops_api import router as operations
    from gxcore.governance.api import router as governance
    from gxcore.identity.admin_api import batches as admin_batches
    from gxcore.identity.admin_api import router as admin_users
    from gxcore.identity.api import router as registration
    from gxcore.identity.auth_api import router as auth
    from gxcore.identity.users_api import router as users
    from gxcore.kyc.admin_api import router as kyc_review
    from gxcore.kyc.api import router as kyc
    from gxcore.loans.api import router as loans
    from gxcore.notifications.api import router as inbox
    from gxcore.notifications.api import tokens as push_tokens
    from gxcore.partners.admin_api import router as partners_admin
    from gxcore.partners.oauth_api import router as partner_oauth
    from gxcore.referrals.api import admin as referrals_admin
    from gxcore.referrals.api import router as referrals
    from gxcore.tax.api import router as tax
    from gxcore.trust.api import admin as trust_admin
    from gxcore.trust.api import router as relationships
    from gxcore.wallet.api import router as money
    from gxcore.wallet.contacts_api import router as address_book
    from gxcore.wallet.review_api import router as transfer_review

    app = FastAPI(
        title="gxcore",
        summary="GX Coin Protocol services",
        version="0.1.0",
        openapi_url="/openapi.json",
        **fastapi_kwargs,  # type: ignore[arg-type]
    )
    install_error_handlers(app)
    install_edge(app, settings)  # request id and log context, latency, body limit, CORS
    routers = (
        registration, auth, users, admin_users, money, address_book, transfer_review, inbox,
        push_tokens, governance, loans, kyc, kyc_review, relationships, trust_admin, business,
        ledger_organizations, admin_system, admin_batches, tax, partners_admin, partner_oauth,
        referrals, referrals_admin,
    )  # fmt: skip
    for router in routers:
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(operations)  # /livez, /readyz, /health, /metrics: outside the API
    app.include_router(console)  # /console: HTML pages, outside the API and its OpenAPI
    return app


def _context(
    database: Database, settings: Settings, clock: Callable[[], datetime] | None
) -> AppContext:
    settings.require_production_settings()  # fails here, at start, naming what is missing
    return AppContext(
        database=database,
        settings=settings,
        clock=clock or utc_now,
        otp_key=otp_key(settings),  # fails here too when a key is weak
        jwt_key=(jwt := jwt_key(settings)),
        cursors=Cursors.from_secret(jwt),
    )


def create_app(
    *,
    database: Database,
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    owner_url: str | None = None,
    ledger: EventSource | None = None,
) -> FastAPI:
    """The API over an open `database`; the caller owns (and disposes of) it. Readiness checks
    the migrations with `owner_url` and the projector's lag with `ledger`, when given."""
    app = _build(settings)
    app.state.gx = _context(database, settings, clock)
    app.state.kyc = Vault.from_settings(settings)
    app.state.probe = Probe(database, settings, owner_url=owner_url, ledger=ledger)
    return app


def create_served_app(settings: Settings) -> FastAPI:
    """The API as `gx api` serves it: the database is found and connected in the lifespan.

    DATABASE_URL when set, else the embedded server (the running one, or one started for the
    life of the process), as `gx db` commands find it. It must be migrated to head. A message
    worker delivers what requests queue, and an audit linker chains what they log, for as long
    as the app runs; at shutdown each finishes the work in hand.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from gxcore.db import migrate
        from gxcore.db.cli import open_database
        from gxcore.errors import PendingMigrations
        from gxcore.ledger import open_ledger

        async with open_database(settings) as url:
            if not (await migrate.status(url)).up_to_date:
                raise PendingMigrations("the database is not at head; run `gx db migrate`")
            database = Database.for_settings(url, settings)
            ledger = None
            try:
                app.state.gx = _context(database, settings, None)
                app.state.kyc = Vault.from_settings(settings)
                ledger = await open_ledger(url, settings)  # read by readiness and /metrics only
                app.state.probe = Probe(database, settings, owner_url=url, ledger=ledger)
                worker = MessageWorker(database, default_senders(settings))
                linker = AuditLinker(database)
                background = [asyncio.create_task(worker.run()), asyncio.create_task(linker.run())]
                try:
                    yield
                finally:
                    worker.stop()
                    linker.stop()
                    await asyncio.gather(*background)
            finally:
                if ledger is not None:
                    await ledger.close()
                await database.dispose()

    return _build(settings, lifespan=lifespan)
