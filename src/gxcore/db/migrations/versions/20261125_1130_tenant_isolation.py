"""Tenant isolation in the database: roles, grants, and forced row-level security.

Every tenant table gets RLS enabled and FORCEd, with two policies: `tenant_isolation` lets
`gx_app` see and write only rows whose tenantId equals the transaction's `app.tenant_id` (none
at all when it is unset), and `system_scope` lets `gx_system` span tenants. The roles are
cluster-wide and other databases may use them, so the downgrade revokes and keeps them.

Revision ID: c7a1e2d3f4b5
Revises: 8dcccea7e7ea
Create Date: 2026-11-25 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c7a1e2d3f4b5"
down_revision: str | None = "8dcccea7e7ea"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

ROLES = ("gx_app", "gx_system")

# Every table with a tenantId column, as of this revision (all but Country).
TENANT_TABLES = (
    "Address", "Application", "ApprovalVote", "AuditLog", "Beneficiary", "BusinessAccount",
    "BusinessSignatory", "Collateral", "Contact", "Credential", "EventDLQ", "EventLog",
    "FamilyRelationship", "HoardingTaxSnapshot", "HttpIdempotency", "KYCDocument",
    "KYCVerification", "LegalTenderStatus", "License", "LicensedPartner", "Loan",
    "MultiSigTransaction", "Notification", "Organization", "OrganizationProfile",
    "OutboxCommand", "PartnerGrant", "PendingRegistration", "ProjectorState", "Proposal",
    "PushToken", "SignatoryRule", "SystemParameter", "Transaction", "TransactionApproval",
    "TransactionLimit", "TransactionRiskScore", "TrustScore", "TrustedDevice", "UserOrganizationLink",
    "UserProfile", "UserSession", "Wallet",
)  # fmt: skip

TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"


def upgrade() -> None:
    for role in ROLES:
        op.execute(
            f"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
              END IF;
            END $$
            """
        )
    grantees = ", ".join(ROLES)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {grantees}")
    op.execute(f'GRANT SELECT ON "Country" TO {grantees}')
    op.execute('GRANT INSERT, UPDATE, DELETE ON "Country" TO gx_system')
    for table in TENANT_TABLES:
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO {grantees}')
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        op.execute(
            f'CREATE POLICY tenant_isolation ON "{table}" TO gx_app '
            f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
        )
        op.execute(
            f'CREATE POLICY system_scope ON "{table}" TO gx_system USING (true) WITH CHECK (true)'
        )


def downgrade() -> None:
    grantees = ", ".join(ROLES)
    for table in TENANT_TABLES:
        op.execute(f'DROP POLICY IF EXISTS system_scope ON "{table}"')
        op.execute(f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
        op.execute(f'REVOKE ALL ON "{table}" FROM {grantees}')
    op.execute(f'REVOKE ALL ON "Country" FROM {grantees}')
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {grantees}")
