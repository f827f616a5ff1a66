"""The loan pool over HTTP: applications pledging collateral, approval paid from the pool.

The real loop (app, relay, embedded ledger, projector) of tests/test_governance.py.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import OutboxCommand
from gxcore.db.engine import create_engine
from gxcore.ledger.rows import LOAN_POOL
from gxcore.loans.models import Collateral
from tests import test_governance
from tests.test_governance import ClockedLoop
from tests.test_registration import assert_problem

gov = test_governance.gov

DEED = hashlib.sha256(b"title deed, plot 7").hexdigest()


def application(amount: Any = "250", **collateral: Any) -> dict[str, Any]:
    return {
        "amount": amount,
        "purpose": "a sewing machine",
        "collateral": {
            "documentReference": "s3://deeds/plot-7.pdf",
            "documentHash": DEED,
            "documentSize": 48213,
            "documentMime": "application/pdf",
            **collateral,
        },
    }


async def apply(loop: ClockedLoop, user: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await loop.client.post("/loans", json=body, headers=user["headers"])


async def ledger_balances(url: str, tenant: str) -> tuple[dict[str, Decimal], Decimal]:
    """Every account's balance on the ledger, and the money it was bootstrapped with."""
    owner = create_engine(url)
    try:
        async with AsyncSession(owner) as s:
            rows = await s.execute(
                text("SELECT account_id, balance FROM ledger.accounts WHERE tenant_id = :t"),
                {"t": tenant},
            )
            balances = {a: b for a, b in rows}
            chain = (
                await s.execute(
                    text(
                        "SELECT genesis_supply + loan_pool_supply FROM ledger.chains "
                        "WHERE tenant_id = :t"
                    ),
                    {"t": tenant},
                )
            ).scalar_one()
    finally:
        await owner.dispose()
    return balances, chain


# --------------------------------------------------------------------------------------------


async def test_approval_pays_the_loan_from_the_pool_and_conserves_supply(
    gov: ClockedLoop, scratch_url: str
) -> None:
    alice = await gov.member()
    sent = await apply(gov, alice, application("250.5"))
    assert sent.status_code == 202, sent.text
    loan_id = sent.json()["loanId"]
    url = f"/loans/{loan_id}"
    pending = (await gov.client.get(url, headers=alice["headers"])).json()
    assert (pending["status"], pending["amount"]) == ("PENDING", "250.500000000")
    assert pending["collateral"]["status"] == "PLEDGED"
    await gov.settle()
    applied = (await gov.client.get(url, headers=alice["headers"])).json()
    assert applied["status"] == "APPLIED" and applied["collateralHash"] == DEED
    assert applied["application"]["status"] == "COMMITTED"
    before, supply = await ledger_balances(scratch_url, gov.tenant)

    approved = await gov.client.post(f"{url}/approve", headers=gov.admin)
    assert approved.status_code == 202, approved.text
    twice = await gov.client.post(f"{url}/approve", headers=gov.admin)
    assert twice.json()["commandId"] == approved.json()["commandId"]
    await gov.settle()

    after, _ = await ledger_balances(scratch_url, gov.tenant)
    assert before[LOAN_POOL] - after[LOAN_POOL] == Decimal("250.5")
    assert after[alice["account"]] - before[alice["account"]] == Decimal("250.5")
    assert sum(before.values()) == sum(after.values()) == supply
    balance = await gov.balance(alice)
    assert (balance["balance"], balance["held"]) == ("750.500000000", "0.000000000")
    history = await gov.client.get(f"/wallets/{alice['id']}/transactions", headers=alice["headers"])
    assert next((i["type"], i["amount"]) for i in history.json()["items"]) == (
        "LOAN_DISBURSEMENT",
        "250.500000000",
    )
    done = (await gov.client.get(url, headers=gov.admin)).json()
    assert done["status"] == "APPROVED" and done["approval"]["status"] == "COMMITTED"
    assert done["approvedAt"] is not None
    assert_problem(
        await gov.client.post(f"{url}/approve", headers=gov.admin), 409, ("LOAN_NOT_PENDING")
    )
    mine = await gov.client.get(f"/users/{alice['id']}/loans", headers=alice["headers"])
    assert [(i["loanId"], i["status"]) for i in mine.json()["items"]] == [(loan_id, "APPROVED")]


async def test_collateral_stays_pledged_and_reserves_none_of_the_borrowers_coins(
    gov: ClockedLoop,
) -> None:
    # The ledger has no repayment command, so nothing releases a pledge; and a pledge is a
    # document, not money: the whole balance stays spendable.
    alice, bob = await gov.member(), await gov.member()
    loan_id = (await apply(gov, alice, application("100"))).json()["loanId"]
    await gov.settle()
    assert (await gov.balance(alice))["available"] == "500.000000000"
    assert (await gov.send(alice, bob, "400")).status_code == 202
    assert (await gov.client.post(f"/loans/{loan_id}/approve", headers=gov.admin)).status_code == (
        202
    )
    await gov.settle()
    seen = (await gov.client.get(f"/loans/{loan_id}", headers=alice["headers"])).json()
    assert seen["status"] == "APPROVED" and seen["collateral"]["status"] == "PLEDGED"
    assert (await gov.balance(alice))["balance"] == "199.600000000"


async def test_the_ledgers_refusal_is_the_approvals_outcome(gov: ClockedLoop) -> None:
    alice = await gov.member(genesis=False)
    # More than the loan pool holds (10^10 by default): the ledger refuses to disburse it.
    loan_id = (await apply(gov, alice, application("10000000001"))).json()["loanId"]
    await gov.settle()
    assert (await gov.client.post(f"/loans/{loan_id}/approve", headers=gov.admin)).status_code == (
        202
    )
    await gov.settle()
    seen = (await gov.client.get(f"/loans/{loan_id}", headers=alice["headers"])).json()
    assert seen["status"] == "APPLIED"
    assert (seen["approval"]["status"], seen["approval"]["errorCode"]) == (
        "FAILED",
        "INSUFFICIENT_FUNDS",
    )


async def test_a_loan_is_its_borrowers_and_administrators_only(gov: ClockedLoop) -> None:
    alice, mallory = await gov.member(genesis=False), await gov.member(genesis=False)
    loan_id = (await apply(gov, alice, application())).json()["loanId"]
    # Refused before and after the ledger records it.
    for _ in range(2):
        got = await gov.client.get(f"/loans/{loan_id}", headers=mallory["headers"])
        assert_problem(got, 404, "LOAN_NOT_FOUND")
        await gov.settle()
    listed = await gov.client.get(f"/users/{alice['id']}/loans", headers=mallory["headers"])
    assert_problem(listed, 404, "USER_NOT_FOUND")
    approve = await gov.client.post(f"/loans/{loan_id}/approve", headers=mallory["headers"])
    assert_problem(approve, 403, "FORBIDDEN")
    assert (await gov.client.get(f"/users/{alice['id']}/loans", headers=gov.admin)).json()["items"][
        0
    ]["loanId"] == loan_id


async def test_a_bad_application_is_refused_and_writes_nothing(gov: ClockedLoop) -> None:
    alice = await gov.member(genesis=False)
    for body, where in (
        (application("0"), "amount"),
        (application("1.0000000001"), "amount"),
        (application(-5), "amount"),
        (application("NaN"), "amount"),
        (application(documentHash="abc"), "collateral.documentHash"),
        ({**application(), "collateral": None}, "collateral"),
    ):
        refused = await apply(gov, alice, body)
        problem = assert_problem(refused, 422, "VALIDATION_FAILED")
        assert where in {e["field"] for e in problem["errors"]}, problem
    async with gov.db.tenant(gov.tenant) as s:
        pledged = await s.scalar(select(func.count()).select_from(Collateral))
        commands = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.service == "svc-loanpool")
        )
    assert (pledged, commands) == (0, 0)
