"""Payload schemas of the 25 commands: what a service puts in `Command.payload`.

Keys are camelCase (snake_case is accepted too); unknown keys are ignored. Amounts are Decimal,
int or str with at most 9 places (floats are refused). A payload that does not fit its schema
is rejected with INVALID_PAYLOAD, or INVALID_AMOUNT when an amount is the problem. Ids of new
organizations, multisig transactions, loans and proposals may be given by the caller; without
one the ledger derives it from the tx id (deterministic).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from gxcore.db.types import to_money
from gxcore.enums import CommandType
from gxcore.errors import InvalidAmount
from gxcore.ledger.contract import Code, Rejected


def _amount(value: Any) -> Decimal:
    try:
        return to_money(value)
    except InvalidAmount as e:
        raise PydanticCustomError("invalid_amount", e.message) from e


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Payload(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class BootstrapSystem(Payload):
    genesis_supply: Amount | None = None  # default contract.DEFAULT_GENESIS_SUPPLY
    loan_pool_supply: Amount | None = None  # default contract.DEFAULT_LOAN_POOL_SUPPLY
    parameters: dict[str, str | int] = {}  # overrides of the ledger.md defaults


class CountryIn(Payload):
    code: CountryCode
    name: Annotated[str, Field(min_length=1)]
    population_share: Annotated[Decimal, Field(ge=0, le=1)]


class InitializeCountryData(Payload):
    countries: Annotated[list[CountryIn], Field(min_length=1)]


class UpdateSystemParameter(Payload):
    key: Id
    value: str


class PauseSystem(Payload):
    reason: str | None = None


class ResumeSystem(Payload):
    pass


class AppointAdmin(Payload):
    account_id: Id


class ActivateTreasury(Payload):
    country_code: CountryCode


class CreateUser(Payload):
    user_id: Id
    profile_id: str | None = None
    biometric_hash: Id
    nationality: CountryCode
    age: Annotated[int, Field(ge=0, le=200)]


class DistributeGenesis(Payload):
    user_id: Id


class TransferTokens(Payload):
    sender_id: Id
    receiver_id: Id
    amount: Amount
    remark: str | None = None


class FreezeWallet(Payload):
    account_id: Id
    reason: str | None = None


class UnfreezeWallet(Payload):
    account_id: Id


class ProposeOrganization(Payload):
    organization_id: Id | None = None
    organization_name: Annotated[str, Field(min_length=1)]
    stakeholders: list[str]
    country: CountryCode | None = None


class EndorseMembership(Payload):
    organization_id: Id
    stakeholder_id: Id


class ActivateOrganization(Payload):
    organization_id: Id


class DefineAuthRule(Payload):
    organization_id: Id
    threshold: Any  # checked by contract.check_auth_rule (INVALID_RULE)
    required_approvers: int
    approvers: list[str]


class InitiateMultisigTx(Payload):
    multisig_tx_id: Id | None = None
    organization_id: Id
    initiator_id: Id
    receiver_id: Id
    amount: Amount


class ApproveMultisigTx(Payload):
    multisig_tx_id: Id
    approver_id: Id


class ExecuteMultisigTx(Payload):
    multisig_tx_id: Id


class ApplyForLoan(Payload):
    loan_id: Id | None = None
    borrower_id: Id
    amount: Amount
    collateral_hash: str | None = None
    purpose: str | None = None


class ApproveLoan(Payload):
    loan_id: Id
    approver_id: str | None = None


class SubmitProposal(Payload):
    proposal_id: Id | None = None
    proposer_id: Id
    parameter_key: Id
    new_value: str
    title: str | None = None


class CastVote(Payload):
    proposal_id: Id
    voter_id: Id
    support: bool


class ExecuteProposal(Payload):
    proposal_id: Id


class ApplyVelocityTax(Payload):
    account_id: Id


COMMAND_SCHEMAS: dict[CommandType, type[Payload]] = {
    CommandType.BOOTSTRAP_SYSTEM: BootstrapSystem,
    CommandType.INITIALIZE_COUNTRY_DATA: InitializeCountryData,
    CommandType.UPDATE_SYSTEM_PARAMETER: UpdateSystemParameter,
    CommandType.PAUSE_SYSTEM: PauseSystem,
    CommandType.RESUME_SYSTEM: ResumeSystem,
    CommandType.APPOINT_ADMIN: AppointAdmin,
    CommandType.ACTIVATE_TREASURY: ActivateTreasury,
    CommandType.CREATE_USER: CreateUser,
    CommandType.DISTRIBUTE_GENESIS: DistributeGenesis,
    CommandType.TRANSFER_TOKENS: TransferTokens,
    CommandType.FREEZE_WALLET: FreezeWallet,
    CommandType.UNFREEZE_WALLET: UnfreezeWallet,
    CommandType.PROPOSE_ORGANIZATION: ProposeOrganization,
    CommandType.ENDORSE_MEMBERSHIP: EndorseMembership,
    CommandType.ACTIVATE_ORGANIZATION: ActivateOrganization,
    CommandType.DEFINE_AUTH_RULE: DefineAuthRule,
    CommandType.INITIATE_MULTISIG_TX: InitiateMultisigTx,
    CommandType.APPROVE_MULTISIG_TX: ApproveMultisigTx,
    CommandType.EXECUTE_MULTISIG_TX: ExecuteMultisigTx,
    CommandType.APPLY_FOR_LOAN: ApplyForLoan,
    CommandType.APPROVE_LOAN: ApproveLoan,
    CommandType.SUBMIT_PROPOSAL: SubmitProposal,
    CommandType.CAST_VOTE: CastVote,
    CommandType.EXECUTE_PROPOSAL: ExecuteProposal,
    CommandType.APPLY_VELOCITY_TAX: ApplyVelocityTax,
}


def parse_payload(command_type: CommandType, payload: Any) -> Payload:
    """The payload as its model, or Rejected(INVALID_AMOUNT / INVALID_PAYLOAD)."""
    try:
        return COMMAND_SCHEMAS[command_type].model_validate(payload)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        code = (
            Code.INVALID_AMOUNT
            if any(err["type"] == "invalid_amount" for err in errors)
            else Code.INVALID_PAYLOAD
        )
        where = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'payload'}: {err['msg']}" for err in errors[:3]
        )
        raise Rejected(code, f"{command_type}: {where}") from None
