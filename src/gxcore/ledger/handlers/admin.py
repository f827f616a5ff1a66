"""Admin commands: bootstrap, countries, parameters, pause/resume, admins, treasuries."""

from __future__ import annotations

from decimal import localcontext

from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import (
    DEFAULT_GENESIS_SUPPLY,
    DEFAULT_LOAN_POOL_SUPPLY,
    PARAMETER_RULES,
    WIDE_PRECISION,
    Code,
    Kind,
    Rejected,
    check_parameters,
    default_parameters,
    money,
    parameter_value,
)
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import (
    FEE_POOL,
    GENESIS_POOL,
    LOAN_POOL,
    REDISTRIBUTION_POOL,
    Account,
    Chain,
    Country,
    treasury_id,
)
from gxcore.ledger.state import Tx


async def _chain(tx: Tx) -> Chain:
    chain = await tx.get(Chain)
    assert chain is not None  # check_allowed ran first
    return chain


@handles(C.BOOTSTRAP_SYSTEM)
async def bootstrap(tx: Tx, p: cmd.BootstrapSystem) -> None:
    values = default_parameters()
    for key, raw in p.parameters.items():
        values[key] = parameter_value(key, raw)
    check_parameters(values)
    genesis = money(p.genesis_supply if p.genesis_supply is not None else DEFAULT_GENESIS_SUPPLY)
    loans = money(
        p.loan_pool_supply if p.loan_pool_supply is not None else DEFAULT_LOAN_POOL_SUPPLY
    )
    if genesis < 0 or loans < 0:
        raise Rejected(Code.INVALID_AMOUNT, "supplies must not be negative")
    with localcontext(prec=WIDE_PRECISION):
        money(genesis + loans)  # the whole supply must fit one account's numeric(36,9)

    tx.add(Chain(tx.tenant_id, genesis_supply=genesis, loan_pool_supply=loans))
    for key, value in values.items():
        tx.state.set_parameter(tx.tenant_id, key, value)
    for account_id, balance in (
        (GENESIS_POOL, genesis),
        (FEE_POOL, None),
        (REDISTRIBUTION_POOL, None),
        (LOAN_POOL, loans),
    ):
        account = tx.add(Account(tx.tenant_id, account_id, Kind.SYSTEM))
        if balance is not None:
            account.balance = balance
    tx.emit(
        ev.SystemBootstrapped(
            genesis_pool_id=GENESIS_POOL,
            fee_pool_id=FEE_POOL,
            redistribution_pool_id=REDISTRIBUTION_POOL,
            loan_pool_id=LOAN_POOL,
            genesis_supply=genesis,
            loan_pool_supply=loans,
            parameters=values,
        )
    )


@handles(C.INITIALIZE_COUNTRY_DATA)
async def initialize_countries(tx: Tx, p: cmd.InitializeCountryData) -> None:
    codes = [c.code for c in p.countries]
    if len(set(codes)) != len(codes):
        raise Rejected(Code.INVALID_PAYLOAD, "a country code is listed twice")
    for c in p.countries:
        country = await tx.get(Country, c.code)
        if country is None:
            tx.add(Country(tx.tenant_id, c.code, c.name, c.population_share))
        else:
            tx.change(country)
            country.name, country.population_share = c.name, c.population_share
    tx.emit(
        ev.CountryDataInitialized(
            countries=[
                ev.CountryData(code=c.code, name=c.name, population_share=c.population_share)
                for c in p.countries
            ]
        )
    )


@handles(C.UPDATE_SYSTEM_PARAMETER)
async def update_parameter(tx: Tx, p: cmd.UpdateSystemParameter) -> None:
    new = parameter_value(p.key, p.value)
    old = set_checked_parameter(tx, p.key, new)
    tx.emit(ev.SystemParameterUpdated(key=p.key, old_value=old, new_value=new))


def set_checked_parameter(tx: Tx, key: str, value: str) -> str:
    """Set a validated value after checking it against the other parameters; the old value."""
    state = tx.state
    values = {k: state.parameter_value(tx.tenant_id, k) for k in PARAMETER_RULES}
    old = values[key]
    check_parameters({**values, key: value})
    state.set_parameter(tx.tenant_id, key, value)
    return old


@handles(C.PAUSE_SYSTEM)
async def pause(tx: Tx, p: cmd.PauseSystem) -> None:
    chain = await _chain(tx)
    if chain.paused:
        raise Rejected(Code.ALREADY_PAUSED, "the system is already paused")
    tx.change(chain).paused = True
    tx.emit(ev.SystemPaused(reason=p.reason))


@handles(C.RESUME_SYSTEM)
async def resume(tx: Tx, p: cmd.ResumeSystem) -> None:
    chain = await _chain(tx)
    if not chain.paused:
        raise Rejected(Code.NOT_PAUSED, "the system is not paused")
    tx.change(chain).paused = False
    tx.emit(ev.SystemResumed())


@handles(C.APPOINT_ADMIN, accounts=lambda p: (p.account_id,))
async def appoint_admin(tx: Tx, p: cmd.AppointAdmin) -> None:
    account = await tx.require(p.account_id, Kind.USER)
    if account.is_admin:
        raise Rejected(Code.ALREADY_ADMIN, f"{p.account_id!r} is already an admin")
    tx.change(account).is_admin = True
    tx.emit(ev.AdminAppointed(account_id=p.account_id))


@handles(C.ACTIVATE_TREASURY, accounts=lambda p: (treasury_id(p.country_code),))
async def activate_treasury(tx: Tx, p: cmd.ActivateTreasury) -> None:
    country = await tx.get(Country, p.country_code)
    if country is None:
        raise Rejected(Code.COUNTRY_NOT_FOUND, f"country {p.country_code} is not initialized")
    account_id = treasury_id(p.country_code)
    if country.treasury_active or await tx.account(account_id) is not None:
        raise Rejected(Code.ALREADY_ACTIVE, f"the treasury of {p.country_code} is already active")
    tx.change(country).treasury_active = True
    tx.add(Account(tx.tenant_id, account_id, Kind.TREASURY, country=p.country_code))
    tx.emit(ev.TreasuryActivated(country_code=p.country_code, account_id=account_id))
