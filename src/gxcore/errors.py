"""The GxError tree: every failure a caller can cause has a type and a stable code.

Codes are part of the public contract (CLI output, HTTP problem+json `code`); never rename one.
Driver and library exceptions are translated into these where they enter gxcore (`raise ... from e`).
"""

from __future__ import annotations


class GxError(Exception):
    """Base of every error gxcore raises on purpose."""

    code = "GX_ERROR"
    #: True when retrying the same call later may succeed (network, lock, unavailable ledger).
    transient = False

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ValidationFailed(GxError):
    code = "VALIDATION_FAILED"


class InvalidAmount(ValidationFailed):
    """A money value that is not a finite decimal with at most 9 places inside numeric(36,9)."""

    code = "INVALID_AMOUNT"


class NaiveDatetime(ValidationFailed):
    code = "NAIVE_DATETIME"


class TenancyError(GxError):
    """A tenant boundary was about to be crossed."""


class CrossTenant(TenancyError):
    """Writing or attaching a row of another tenant than the session's scope."""

    code = "CROSS_TENANT"


class TenantScopeRequired(TenancyError):
    """A session without a tenant (or system) scope touched tenant data."""

    code = "TENANT_SCOPE_REQUIRED"


class ConfigurationError(GxError):
    code = "CONFIGURATION_ERROR"


class DatabaseError(GxError):
    """The database cannot be used as asked."""

    code = "DATABASE_ERROR"


class DatabaseUnavailable(DatabaseError):
    code = "DATABASE_UNAVAILABLE"
    transient = True


class EmbeddedServerError(DatabaseError):
    code = "EMBEDDED_SERVER_ERROR"


class ServerAlreadyRunning(EmbeddedServerError):
    code = "SERVER_ALREADY_RUNNING"


class MigrationError(DatabaseError):
    code = "MIGRATION_ERROR"


class UnknownRevision(MigrationError):
    """The database was migrated by a newer gxcore than this one."""

    code = "UNKNOWN_REVISION"


class PendingMigrations(MigrationError):
    code = "PENDING_MIGRATIONS"


class SchemaDrift(MigrationError):
    code = "SCHEMA_DRIFT"


class MigrationLintFailed(MigrationError):
    code = "MIGRATION_LINT_FAILED"


class ProductionGuard(DatabaseError):
    """A destructive command was refused on a database marked as production."""

    code = "PRODUCTION_DATABASE"


class ConfirmationRequired(GxError):
    code = "CONFIRMATION_REQUIRED"


class InvalidTransition(GxError):
    """A status change its lifecycle does not allow (see gxcore.db.lifecycle)."""

    code = "INVALID_TRANSITION"


class IdempotencyConflict(GxError):
    """The same idempotency key was used again with a different request."""

    code = "IDEMPOTENCY_CONFLICT"
