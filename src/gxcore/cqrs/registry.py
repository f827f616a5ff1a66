"""The projector's one table: event name -> what projecting it does (see `Projection`).

Every event of `gxcore.ledger.events` has an entry. An empty `Projection()` means the event has
no read model here (admin appointments) and is only logged in `EventLog`.
"""

from __future__ import annotations

from collections.abc import Mapping

from gxcore.admin import handlers as admin
from gxcore.business import handlers as business
from gxcore.cqrs.projection import Batch, Projection
from gxcore.db import models  # noqa: F401  (every model mapped: relationships resolve by name)
from gxcore.governance import handlers as governance
from gxcore.identity import handlers as identity
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.loans import handlers as loans
from gxcore.tax import handlers as tax
from gxcore.wallet import handlers as wallet


# A frozen account is an organization's (business's read model) or else a user's (identity's).
async def _wallet_frozen(batch: Batch, event: LedgerEvent, p: ev.WalletFrozen) -> None:
    if not await business.set_organization_frozen(batch, event, p.account_id, True):
        await identity.wallet_frozen(batch, event, p)


async def _wallet_unfrozen(batch: Batch, event: LedgerEvent, p: ev.WalletUnfrozen) -> None:
    if not await business.set_organization_frozen(batch, event, p.account_id, False):
        await identity.wallet_unfrozen(batch, event, p)


PROJECTIONS: Mapping[str, Projection] = {
    # admin
    "SystemBootstrapped": Projection(handler=admin.bootstrapped),
    "CountryDataInitialized": Projection(handler=admin.countries_initialized),
    "SystemParameterUpdated": Projection(handler=admin.parameter_updated),
    "SystemPaused": Projection(handler=admin.paused),
    "SystemResumed": Projection(handler=admin.resumed),
    "AdminAppointed": Projection(),
    "TreasuryActivated": Projection(handler=wallet.treasury_activated),
    # identity and tokenomics
    "UserCreated": Projection(bulk=identity.users_created),
    "GenesisDistributed": Projection(postings=wallet.genesis_postings),
    "TransferCompleted": Projection(postings=wallet.transfer_postings),
    "WalletFrozen": Projection(handler=_wallet_frozen),
    "WalletUnfrozen": Projection(handler=_wallet_unfrozen),
    "VelocityTaxApplied": Projection(
        handler=tax.velocity_tax_applied, postings=tax.velocity_tax_postings
    ),
    # organizations and multisig
    "OrganizationProposed": Projection(handler=business.organization_proposed),
    "MembershipEndorsed": Projection(handler=business.membership_endorsed),
    "OrganizationActivated": Projection(handler=business.organization_activated),
    "AuthRuleDefined": Projection(handler=business.auth_rule_defined),
    "MultiSigTxInitiated": Projection(handler=business.multisig_initiated),
    "MultiSigTxApproved": Projection(handler=business.multisig_approved),
    "MultiSigTxExecuted": Projection(
        handler=business.multisig_executed, postings=business.multisig_postings
    ),
    # loans
    "LoanApplicationReceived": Projection(handler=loans.application_received),
    "LoanApproved": Projection(handler=loans.approved, postings=loans.disbursement_postings),
    # governance
    "ProposalSubmitted": Projection(handler=governance.submitted),
    "VoteCast": Projection(handler=governance.vote_cast),
    "ProposalExecuted": Projection(handler=governance.executed),
}
