"""What each role may do to each table, pinned: a new grant is a decision, not an accident.

The application role (`gx_app`, every HTTP request and service) reads the read models the
projector writes and never writes them (DESIGN.md: "Read models are the projector's"); it cannot
reach the ledger's schema at all.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.tenancy import Database

READ = frozenset({"SELECT"})
APPEND = frozenset({"SELECT", "INSERT"})
WRITE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
NONE: frozenset[str] = frozenset()

#: Read models: written by the projector (system scope) only.
PROJECTED = (
    "EventDLQ", "EventLog", "ProjectorState", "Wallet", "Transaction", "Organization",
    "MultiSigTransaction", "Loan", "Proposal", "TreasuryAccount", "SystemState",
)  # fmt: skip

LEDGER = (
    "accounts", "blocks", "chains", "countries", "events", "loans", "multisig_txs",
    "organizations", "parameters", "proposals", "tenant_heads", "transactions", "votes",
)  # fmt: skip

#: The application's own tables, under row-level security.
APP_WRITES = (
    "Address", "Application", "ApprovalVote", "Beneficiary", "BusinessAccount",
    "BusinessSignatory", "Collateral", "Contact", "Credential", "FamilyRelationship",
    "HttpIdempotency", "KYCDocument", "KYCVerification",
    "LegalTenderStatus", "License", "LicensedPartner", "Notification", "OrganizationProfile",
    "OutboxCommand", "PartnerGrant", "PartnerScope", "PendingRegistration", "PushToken", "SignatoryRule",
    "SystemParameter", "TransactionApproval", "TransactionLimit", "TransactionRiskScore",
    "TrustScore", "TrustedDevice", "UserOrganizationLink", "UserProfile", "UserSession",
)  # fmt: skip

#: Every table of every schema (but PostgreSQL's own) -> what gx_app may do to it.
APP_PRIVILEGES: dict[str, frozenset[str]] = {
    **{f"ledger.{t}": NONE for t in LEDGER},
    "public.alembic_version": NONE,
    "public.Country": READ,
    "public.Tenant": READ,  # the registry, changed by `gx tenant create` (the system role) only  # shared reference data, changed by `gx db seed` only
    "public.AuditLog": APPEND,  # a hash chain the application may extend, never rewrite
    "public.MessageOutbox": frozenset({"INSERT"}),  # queued by requests, read by the worker
    "public.TransferHold": frozenset({"SELECT", "INSERT", "DELETE"}),  # placed, never edited
    # Written by the velocity-tax run, marked paid by the projector only (revision ca853486a303).
    "public.HoardingTaxSnapshot": APPEND,
    "public.ProjectorClaim": NONE,  # which projector process feeds a tenant: the projector's own
    # A referral, once sent, stays; points only grow (revision 5c2ad9a00909).
    **{
        f"public.{t}": frozenset({"SELECT", "INSERT", "UPDATE"})
        for t in ("Referral", "ReferralPoints")
    },
    **{f"public.{t}": READ for t in PROJECTED},
    **{f"public.{t}": WRITE for t in APP_WRITES},
}

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

_TABLES = text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%'"
)


async def privileges(session: AsyncSession, role: str) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for (table,) in (await session.execute(_TABLES)).all():
        held = set()
        for privilege in PRIVILEGES:
            query = text("SELECT has_table_privilege(:role, CAST(:table AS regclass), :p)")
            quoted = ".".join(f'"{part}"' for part in table.split(".", 1))
            if await session.scalar(query, {"role": role, "table": quoted, "p": privilege}):
                held.add(privilege)
        found[table] = frozenset(held)
    return found


async def test_the_application_role_holds_exactly_the_listed_privileges(
    session: AsyncSession,
) -> None:
    found = await privileges(session, "gx_app")
    assert set(found) == set(APP_PRIVILEGES), "a table was added or removed: list it above"
    differ = {t: (sorted(found[t]), sorted(want)) for t, want in APP_PRIVILEGES.items()
              if found[t] != want}  # fmt: skip
    assert differ == {}, "table: (held, expected)"


async def test_the_system_scope_keeps_writing_the_read_models(session: AsyncSession) -> None:
    found = await privileges(session, "gx_system")
    assert {t: found[f"public.{t}"] for t in PROJECTED} == {t: WRITE for t in PROJECTED}


@pytest.mark.parametrize(
    "statement",
    [
        """INSERT INTO "EventDLQ" ("id", "tenantId", "reason", "rawPayload")
           VALUES ('forged', :t, 'x', '{}')""",
        'UPDATE "Wallet" SET "cachedBalance" = 1000000 WHERE "tenantId" = :t',
        'DELETE FROM "ProjectorState" WHERE "tenantId" = :t',
    ],
)
async def test_a_request_cannot_write_a_read_model(
    db: Database, tenant: str, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with db.tenant(tenant) as s:
            await s.execute(text(statement), {"t": tenant})
