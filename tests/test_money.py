"""Money is exact: numeric(36,9) edges survive a round trip; extra precision is refused, not rounded."""

from __future__ import annotations

from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from gxcore.db.tenancy import Database
from gxcore.db.types import to_money
from gxcore.errors import InvalidAmount
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Wallet

LARGEST = Decimal("999999999999999999999999999.999999999")
SMALLEST = Decimal("0.000000001")


# Built from integers: Decimal strategies round through a 28-digit context at these magnitudes.
NINE_PLACE_AMOUNTS = st.integers(min_value=-(10**36) + 1, max_value=10**36 - 1).map(
    lambda n: Decimal(f"{n}e-9")
)


@given(NINE_PLACE_AMOUNTS)
def test_any_nine_place_amount_is_kept_exactly(amount: Decimal) -> None:
    assert to_money(amount) == amount
    assert to_money(str(amount)) == amount


@given(NINE_PLACE_AMOUNTS)
def test_canonical_text_gives_what_any_other_form_gives(amount: Decimal) -> None:
    # "-12.500000000": the form every event payload carries, read by a faster path.
    canonical = to_money(f"{amount:f}")
    assert canonical == amount and canonical.as_tuple().exponent == -9
    assert str(canonical) == str(to_money(amount)) == str(to_money(f"{amount:e}"))


def test_canonical_looking_text_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="does not fit"):
        to_money("1" + "0" * 27 + ".000000000")


@given(st.integers(min_value=1, max_value=9), st.integers(min_value=10, max_value=30))
def test_a_tenth_decimal_place_is_refused_not_rounded(digit: int, places: int) -> None:
    with pytest.raises(InvalidAmount, match="more than 9 decimal places"):
        to_money(Decimal(digit).scaleb(-places))


@pytest.mark.parametrize(
    "bad",
    [0.1, float("nan"), "NaN", "Infinity", "12abc", None, True, LARGEST + SMALLEST, -LARGEST - 1],
)
def test_values_that_are_not_exact_money_are_refused(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        to_money(bad)


def test_trailing_zeros_are_not_extra_precision() -> None:
    assert to_money(Decimal("1.500000000000")) == Decimal("1.5")
    assert str(to_money(7)) == "7.000000000"


# As the system writes them: the profile in the tenant's scope (gx_app, under RLS), the wallet in
# the projector's system scope (gx_system): the application role may not write read models.


async def _profile(db: Database, tenant: str) -> str:
    async with db.tenant(tenant) as s:
        profile = UserProfile(
            first_name="Ada",
            last_name="Lovelace",
            biometric_hash=f"bio-{tenant}",
            password_hash="x",
        )
        s.add(profile)
        await s.flush()
        return profile.profile_id


def _wallet(tenant: str, profile_id: str, balance: Decimal) -> Wallet:
    return Wallet(
        tenant_id=tenant,
        profile_id=profile_id,
        primary_account_id=f"acct-{tenant}",
        wallet_name="main",
        cached_balance=balance,
    )


async def _balances(db: Database, tenant: str) -> list[Decimal]:
    async with db.tenant(tenant) as s:
        return list((await s.scalars(select(Wallet.cached_balance))).all())


@pytest.mark.parametrize("amount", [Decimal(0), SMALLEST, LARGEST, Decimal("123.456789012")])
async def test_edge_balances_round_trip_exactly(db: Database, tenant: str, amount: Decimal) -> None:
    profile_id = await _profile(db, tenant)
    async with db.system(reason="test: project a wallet") as s:
        s.add(_wallet(tenant, profile_id, amount))
    [stored] = await _balances(db, tenant)
    assert stored == amount and isinstance(stored, Decimal)
    assert stored.as_tuple().exponent == -9


async def test_extra_precision_is_refused_and_nothing_is_written(db: Database, tenant: str) -> None:
    profile_id = await _profile(db, tenant)
    with pytest.raises(StatementError) as raised:
        async with db.system(reason="test: project a wallet") as s:
            s.add(_wallet(tenant, profile_id, Decimal("1.0000000001")))
    assert isinstance(raised.value.orig, InvalidAmount)
    assert await _balances(db, tenant) == []


async def test_a_negative_balance_is_refused_by_the_database(db: Database, tenant: str) -> None:
    profile_id = await _profile(db, tenant)
    with pytest.raises(IntegrityError, match="Wallet_cachedBalance_check"):
        async with db.system(reason="test: project a wallet") as s:
            s.add(_wallet(tenant, profile_id, Decimal("-0.000000001")))
    assert await _balances(db, tenant) == []


@pytest.mark.parametrize(
    "amount",
    [Decimal("12.500000000"), Decimal("-0E-9"), LARGEST, LARGEST.copy_negate(), SMALLEST],
)
def test_an_amount_already_at_nine_places_comes_back_as_it_is(amount: Decimal) -> None:
    money = to_money(amount)
    assert money == amount and str(money) == str(amount)
    assert money.as_tuple().exponent == -9


def test_nine_places_do_not_let_an_out_of_range_amount_through() -> None:
    with pytest.raises(InvalidAmount, match="does not fit"):
        to_money(Decimal(10**27).quantize(SMALLEST, context=Context(prec=50)))


def test_a_decimal_subclass_is_checked_like_any_value() -> None:
    class Tenth(Decimal):
        pass

    with pytest.raises(InvalidAmount, match="more than 9"):
        to_money(Tenth("0.0000000001"))
    assert to_money(Tenth("1.500000000")) == Decimal("1.5")
