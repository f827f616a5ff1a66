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


class DatabaseBusy(DatabaseUnavailable):
    """No pooled connection came free in time, or a statement ran past the statement timeout."""

    code = "DATABASE_BUSY"


class EmbeddedServerError(DatabaseError):
    code = "EMBEDDED_SERVER_ERROR"


class ServerAlreadyRunning(EmbeddedServerError):
    code = "SERVER_ALREADY_RUNNING"


class MigrationError(DatabaseError):
    code = "MIGRATION_ERROR"


class UnknownRevision(MigrationError):
    """The database was migrated by a newer gxcore than this one."""

    code = "UNKNOWN_REVISION"


class UnknownBackfill(MigrationError):
    """`gx db backfill` was given a job name no feature registered."""

    code = "UNKNOWN_BACKFILL"


class PendingMigrations(MigrationError):
    code = "PENDING_MIGRATIONS"


class ProductionGuard(DatabaseError):
    """A destructive command was refused on a database marked as production."""

    code = "PRODUCTION_DATABASE"


class ConfirmationRequired(GxError):
    code = "CONFIRMATION_REQUIRED"


class LedgerError(GxError):
    """The ledger could not take a submission (not a rule rejection: those are outcomes)."""

    code = "LEDGER_ERROR"


class LedgerUnavailable(LedgerError):
    """The ledger cannot be reached or did not commit; nothing of the batch committed, retry it."""

    code = "LEDGER_UNAVAILABLE"
    transient = True


class InvalidTransition(GxError):
    """A status change its lifecycle does not allow (see gxcore.db.lifecycle)."""

    code = "INVALID_TRANSITION"


class IdempotencyConflict(GxError):
    """The same idempotency key was used again with a different request."""

    code = "IDEMPOTENCY_CONFLICT"


# --------------------------------------------------------------------------------------------
# Requests (HTTP maps each family to one status in gxcore.http)
# --------------------------------------------------------------------------------------------


class NotFound(GxError):
    code = "NOT_FOUND"


class Conflict(GxError):
    """The request is well formed but the resource's state does not allow it."""

    code = "CONFLICT"


class ConcurrentModification(Conflict):
    """The row changed since it was read: another writer's update won. `currentVersion` is the
    row's version now (absent if the row is gone); read it again and retry from there."""

    code = "CONCURRENT_MODIFICATION"


class PreconditionFailed(ConcurrentModification):
    """`If-Match` named a version the resource no longer has; `currentVersion` is the one it has."""

    code = "PRECONDITION_FAILED"


class Gone(GxError):
    code = "GONE"


class TooLarge(GxError):
    """A request body, or a file in it, over its size limit."""

    code = "TOO_LARGE"


class RequestTooLarge(TooLarge):
    """A request body larger than `GX_MAX_BODY_BYTES` (refused before it is all read)."""

    code = "REQUEST_TOO_LARGE"


class TooManyRequests(GxError):
    """Refused for now; `retry_after` says how many seconds to wait, when known."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after: int | None = None, **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class DeliveryFailed(GxError):
    """An email or SMS could not be handed to its carrier."""

    code = "DELIVERY_FAILED"
    transient = True


class PushTokenInvalid(GxError):
    """The push service no longer knows the token (app uninstalled, token rotated)."""

    code = "PUSH_TOKEN_INVALID"


# --------------------------------------------------------------------------------------------
# Tenants (gxcore.admin)
# --------------------------------------------------------------------------------------------


class TenantNotFound(NotFound):
    """The tenant named is not in the registry: `gx tenant create` makes tenants."""

    code = "TENANT_NOT_FOUND"


class TenantExists(Conflict):
    code = "TENANT_EXISTS"


# --------------------------------------------------------------------------------------------
# Registration and OTPs (gxcore.identity)
# --------------------------------------------------------------------------------------------


class RegistrationNotFound(NotFound):
    code = "REGISTRATION_NOT_FOUND"


class RegistrationExpired(Gone):
    code = "REGISTRATION_EXPIRED"


class StepOutOfOrder(Conflict):
    """A registration step asked for from the wrong step; `current_step` says where it stands."""

    code = "STEP_OUT_OF_ORDER"

    def __init__(self, message: str, *, current_step: str) -> None:
        super().__init__(message, currentStep=current_step)
        self.current_step = current_step


class AlreadyRegistered(Conflict):
    """Only raised to someone who proved they own the address: it reveals nothing new."""

    code = "ALREADY_REGISTERED"


class OtpError(GxError):
    code = "OTP_ERROR"


class OtpInvalid(OtpError):
    code = "OTP_INVALID"


class OtpExpired(OtpError):
    code = "OTP_EXPIRED"


class OtpLocked(TooManyRequests):
    """Too many wrong guesses: this code is dead, even the right one is refused."""

    code = "OTP_LOCKED"


class ResendTooSoon(TooManyRequests):
    code = "RESEND_TOO_SOON"


class ResendCapReached(TooManyRequests):
    code = "RESEND_CAP_REACHED"


class RegistrationThrottled(TooManyRequests):
    """Too many registrations started from this client address; wait `retry_after`."""

    code = "REGISTRATION_THROTTLED"


# --------------------------------------------------------------------------------------------
# Authentication and authorisation (gxcore.identity)
# --------------------------------------------------------------------------------------------


class Unauthorized(GxError):
    """No valid credentials: sign in (again)."""

    code = "UNAUTHORIZED"


class InvalidCredentials(Unauthorized):
    """Unknown email or wrong password; the same answer for both."""

    code = "INVALID_CREDENTIALS"


class TokenInvalid(Unauthorized):
    code = "TOKEN_INVALID"


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"


class TokenTenantMismatch(Unauthorized):
    """A token issued in one tenant presented with another tenant's header."""

    code = "TOKEN_TENANT_MISMATCH"


class SessionRevoked(Unauthorized):
    """The session behind the token was logged out, revoked or has expired."""

    code = "SESSION_REVOKED"


class RefreshTokenReused(Unauthorized):
    """A rotated refresh token came back: its session is revoked, whoever holds it."""

    code = "REFRESH_TOKEN_REUSED"


class Forbidden(GxError):
    """Signed in, but not allowed to do this."""

    code = "FORBIDDEN"


class AccountLocked(Forbidden):
    code = "ACCOUNT_LOCKED"


class AccountInactive(Forbidden):
    """The profile's status (DENIED, SUSPENDED, CLOSED) does not allow signing in."""

    code = "ACCOUNT_INACTIVE"


class AccountFrozen(AccountInactive):
    """An administrator froze the account (and its wallet): no sign-in until it is unfrozen."""

    code = "ACCOUNT_FROZEN"


class TransfersThrottled(TooManyRequests):
    """Too many transfers requested by this account or from this address; wait `retry_after`."""

    code = "TRANSFERS_THROTTLED"


class RegistrationChangesThrottled(TooManyRequests):
    """Too many codes checked or resent (registration changes) from this address."""

    code = "REGISTRATION_CHANGES_THROTTLED"


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address; wait `retry_after`."""

    code = "LOGIN_THROTTLED"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class DeviceNotFound(NotFound):
    code = "DEVICE_NOT_FOUND"


class ProfileIncomplete(Conflict):
    """The profile lacks what the ledger needs (birth date, nationality) to be approved."""

    code = "PROFILE_INCOMPLETE"


# --------------------------------------------------------------------------------------------
# The projector (gxcore.cqrs.projector)
# --------------------------------------------------------------------------------------------


class ProjectionRejected(GxError):
    """An event a read model cannot take (unknown profile, illegal status move): it goes to the
    DLQ with `reason` and the projector moves on. Replayable once the cause is fixed."""

    code = "PROJECTION_REJECTED"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class ProjectorStopped(GxError):
    """An event could not be applied after retries; the projector stopped before it."""

    code = "PROJECTOR_STOPPED"


class ProjectorTenantOwned(GxError):
    """A projector was started for a tenant another live projector process already feeds."""

    code = "PROJECTOR_TENANT_OWNED"


class ProjectorLeaseLost(GxError):
    """A projector's claim on a tenant expired and another process took it over."""

    code = "PROJECTOR_LEASE_LOST"


class DlqEntryNotFound(NotFound):
    code = "DLQ_ENTRY_NOT_FOUND"


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------


class WalletNotFound(NotFound):
    """No wallet for that profile in this tenant, or one the caller may not see."""

    code = "WALLET_NOT_FOUND"


class CountryNotInitialized(Conflict):
    """The tenant's ledger holds no data for that country yet (INITIALIZE_COUNTRY_DATA)."""

    code = "COUNTRY_NOT_INITIALIZED"


class NotificationNotFound(NotFound):
    """No such notification for the signed-in user (another user's is not found either)."""

    code = "NOTIFICATION_NOT_FOUND"


class PushTokenNotFound(NotFound):
    """No active push token of that id for the signed-in user."""

    code = "PUSH_TOKEN_NOT_FOUND"


class TreasuryNotFound(NotFound):
    """The tenant has no active treasury for that country."""

    code = "TREASURY_NOT_FOUND"


class TransferNotFound(NotFound):
    code = "TRANSFER_NOT_FOUND"


class TransferNotHeld(Conflict):
    """Only a transfer held for review can be released or rejected; this one is not (any more)."""

    code = "TRANSFER_NOT_HELD"


class InsufficientFunds(Conflict):
    """The sender's available balance (balance less holds) does not cover amount and fee."""

    code = "INSUFFICIENT_FUNDS"


class WalletFrozen(Conflict):
    code = "WALLET_FROZEN"


class SelfTransfer(ValidationFailed):
    code = "SELF_TRANSFER"


class LimitNotFound(NotFound):
    code = "LIMIT_NOT_FOUND"


class LimitExceeded(ValidationFailed):
    """A transaction limit (`TransactionLimit`) would be broken; details name it and what remains."""

    code = "LIMIT_EXCEEDED"


class BeneficiaryNotFound(NotFound):
    code = "BENEFICIARY_NOT_FOUND"


class ContactNotFound(NotFound):
    code = "CONTACT_NOT_FOUND"


class AlreadyExists(Conflict):
    """The row this would create exists already (a beneficiary or contact named twice)."""

    code = "ALREADY_EXISTS"


class ContactBlocked(Conflict):
    """The receiver has blocked the sender."""

    code = "CONTACT_BLOCKED"


# --------------------------------------------------------------------------------------------
# Governance and the loan pool (gxcore.governance, gxcore.loans)
# --------------------------------------------------------------------------------------------


class NoLedgerAccount(Conflict):
    """The caller has no ledger account yet (not approved, or its opening not yet projected)."""

    code = "NO_LEDGER_ACCOUNT"


class UnknownParameter(ValidationFailed):
    code = "UNKNOWN_PARAMETER"


class InvalidParameterValue(ValidationFailed):
    code = "INVALID_VALUE"


class ProposalNotFound(NotFound):
    code = "PROPOSAL_NOT_FOUND"


class ProposalPending(Conflict):
    """The proposal was submitted but the ledger's answer is not projected yet."""

    code = "PROPOSAL_PENDING"


class ProposalClosed(Conflict):
    code = "PROPOSAL_CLOSED"


# --------------------------------------------------------------------------------------------
# Business accounts: organization profiles, signatories, rules and off-ledger approvals.


class OrganizationProfileNotFound(NotFound):
    code = "ORGANIZATION_PROFILE_NOT_FOUND"


class BusinessAccountNotFound(NotFound):
    code = "BUSINESS_ACCOUNT_NOT_FOUND"


class SignatoryNotFound(NotFound):
    code = "SIGNATORY_NOT_FOUND"


class SignatoryRuleNotFound(NotFound):
    code = "SIGNATORY_RULE_NOT_FOUND"


class ApprovalNotFound(NotFound):
    code = "APPROVAL_NOT_FOUND"


class NotPermitted(Forbidden):
    """A member or signatory whose role or rights do not cover this action."""

    code = "NOT_PERMITTED"


class OrganizationNotVerified(Conflict):
    code = "ORGANIZATION_NOT_VERIFIED"


class LedgerOrganizationNotReady(Conflict):
    """The ledger organization named is not active, or its account has no wallet here yet."""

    code = "LEDGER_ORGANIZATION_NOT_READY"


class RuleOverlap(Conflict):
    code = "RULE_OVERLAP"


class AlreadyVoted(Conflict):
    code = "ALREADY_VOTED"


class ProposalNotPassed(Conflict):
    """Voting is still open, or votes for do not exceed votes against."""

    code = "PROPOSAL_NOT_PASSED"


class ProposalExecuted(Conflict):
    code = "ALREADY_EXECUTED"


class LoanNotFound(NotFound):
    code = "LOAN_NOT_FOUND"


class LoanPending(Conflict):
    """The application was sent but the ledger's answer is not projected yet."""

    code = "LOAN_APPLICATION_PENDING"


class LoanNotPending(Conflict):
    code = "LOAN_NOT_PENDING"


# --------------------------------------------------------------------------------------------
# KYC (gxcore.kyc)
# --------------------------------------------------------------------------------------------


class KycNotFound(NotFound):
    code = "KYC_NOT_FOUND"


class DocumentNotFound(NotFound):
    """No such document for this caller; also a download link whose signature does not hold
    (it names nothing the caller may have)."""

    code = "DOCUMENT_NOT_FOUND"


class DocumentTooLarge(TooLarge):
    code = "DOCUMENT_TOO_LARGE"


class DocumentRejected(ValidationFailed):
    """An uploaded file refused for what it is: a type not allowed, or bytes that disagree with
    the type the client declared."""

    code = "DOCUMENT_TYPE_NOT_ALLOWED"


class DocumentTypeMismatch(DocumentRejected):
    code = "DOCUMENT_TYPE_MISMATCH"


class DocumentLinkExpired(Gone):
    code = "DOCUMENT_LINK_EXPIRED"


class DocumentUnavailable(Conflict):
    """A document that may not be served: infected, or not scanned clean yet."""

    code = "DOCUMENT_UNAVAILABLE"


class DocumentInfected(DocumentUnavailable):
    code = "DOCUMENT_INFECTED"


class DocumentIntegrityFailed(Conflict):
    """The stored bytes no longer match the document's `fileHash` (or its seal): not served."""

    code = "DOCUMENT_INTEGRITY_FAILED"


class DocumentLocked(Conflict):
    """A document of a verification already submitted or decided: kept as evidence."""

    code = "DOCUMENT_LOCKED"


class KycNotReady(Conflict):
    """A verification that cannot be submitted or approved as it is (see the message)."""

    code = "KYC_NOT_READY"


class NationalIdInvalid(ValidationFailed):
    code = "NATIONAL_ID_INVALID"


class NationalIdInUse(Conflict):
    code = "NATIONAL_ID_IN_USE"


class ScannerUnavailable(GxError):
    """The virus scanner did not answer; the document stays `pending`."""

    code = "SCANNER_UNAVAILABLE"
    transient = True


# --------------------------------------------------------------------------------------------
# Relationships and the trust score (gxcore.trust)
# --------------------------------------------------------------------------------------------


class RelationshipNotFound(NotFound):
    code = "RELATIONSHIP_NOT_FOUND"


class SelfRelationship(ValidationFailed):
    code = "SELF_RELATIONSHIP"


class NotInvitedSide(Forbidden):
    """Only the invited side confirms or rejects an invitation."""

    code = "NOT_INVITED_SIDE"


class RelationshipExists(Conflict):
    """The pair already has a relationship of this type (or the user a marking of it)."""

    code = "RELATIONSHIP_EXISTS"


class RelationSlotTaken(Conflict):
    """A second confirmed FATHER, MOTHER or current SPOUSE for one user."""

    code = "RELATION_SLOT_TAKEN"


class ReinviteTooSoon(TooManyRequests):
    """The invited person rejected this inviter recently (`relationshipReinviteCooldownDays`)."""

    code = "REINVITE_TOO_SOON"


# --------------------------------------------------------------------------------------------
class ApprovalClosed(Conflict):
    """The approval is decided (approved, rejected) or past its expiry."""

    code = "APPROVAL_CLOSED"


class OrganizationNotFound(NotFound):
    """A ledger organization (`Organization`) unknown here, or not the caller's."""

    code = "ORGANIZATION_NOT_FOUND"


class MultisigNotFound(NotFound):
    code = "MULTISIG_NOT_FOUND"


class CommandNotFound(NotFound):
    code = "COMMAND_NOT_FOUND"


class OrganizationStateConflict(Conflict):
    """The ledger organization (or its transaction) is not in the state this needs."""

    code = "ORGANIZATION_STATE"


# --------------------------------------------------------------------------------------------
# System administration (gxcore.admin)
# --------------------------------------------------------------------------------------------


class SystemPaused(GxError):
    """The tenant's system is paused: writes are refused until an administrator resumes it."""

    code = "SYSTEM_PAUSED"
    transient = True


class AlreadyPaused(Conflict):
    code = "ALREADY_PAUSED"


class NotPaused(Conflict):
    code = "NOT_PAUSED"


class AlreadyBootstrapped(Conflict):
    code = "ALREADY_BOOTSTRAPPED"


class NotBootstrapped(Conflict):
    """The tenant's ledger has not been bootstrapped yet (`POST /admin/bootstrap`)."""

    code = "NOT_BOOTSTRAPPED"


class ParameterNotFound(NotFound):
    code = "PARAMETER_NOT_FOUND"


class CountryNotFound(NotFound):
    """No data for that country on this tenant's ledger."""

    code = "COUNTRY_NOT_FOUND"


# --------------------------------------------------------------------------------------------
# Licensed partners
# --------------------------------------------------------------------------------------------


class PartnerNotFound(NotFound):
    """No such licensed partner, application, license or credential in this tenant."""

    code = "PARTNER_NOT_FOUND"


class PartnerExists(Conflict):
    """A partner of that company name, or an application of that name, exists in this tenant."""

    code = "PARTNER_EXISTS"


class PartnerNotGranted(Forbidden):
    """A partner application called an operation its grants do not open to it."""

    code = "PARTNER_NOT_GRANTED"


class PartnerAccessRevoked(Unauthorized):
    """The partner's credential is revoked, or its license expired or is no longer ACTIVE."""

    code = "PARTNER_ACCESS_REVOKED"


# --------------------------------------------------------------------------------------------
# Referrals (gxcore.referrals)
# --------------------------------------------------------------------------------------------


class ReferralNotFound(NotFound):
    """No such referral of the caller's (or, for an administrator, of the tenant's)."""

    code = "REFERRAL_NOT_FOUND"


class SelfReferral(ValidationFailed):
    code = "SELF_REFERRAL"


class ReferralDuplicate(Conflict):
    """The caller already invited this address."""

    code = "REFERRAL_DUPLICATE"


class ReferralLimitReached(Conflict):
    """The referrer has `referralMaxPerReferrer` referrals already."""

    code = "REFERRAL_LIMIT_REACHED"


class InvalidCursor(GxError):
    """A page cursor that is not one the list returned: changed, forged, or another list's."""

    code = "INVALID_CURSOR"
