"""Stored trust scores: the parameters they read, `gx trust rebuild`, the administrators' view."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from gxcore.admin.parameters import DEFAULTS
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.trust.models import TrustScore
from gxcore.trust.score import PARAMETER_DEFAULTS
from tests import test_relationships
from tests.test_auth import bearer, load, make_user, set_parameter, signed_in
from tests.test_cli import gx
from tests.test_registration import assert_problem
from tests.test_relationships import person, related, trust

app, client, clock, countries, mail, settings = (
    test_relationships.app,
    test_relationships.client,
    test_relationships.clock,
    test_relationships.countries,
    test_relationships.mail,
    test_relationships.settings,
)


def test_the_trust_points_and_caps_are_seeded_with_the_rules_defaults() -> None:
    assert {k: DEFAULTS[k] for k in PARAMETER_DEFAULTS} == {
        k: str(v) for k, v in PARAMETER_DEFAULTS.items()
    }
    assert DEFAULTS["trustPointsFriend"] == "1" and DEFAULTS["trustFamilyCap"] == "80"


async def test_scores_use_the_tenants_parameters(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    await set_parameter(db, tenant, "trustPointsFriend", "4")
    await set_parameter(db, tenant, "trustFriendsCap", "6")
    ada = await person(db, tenant, client)
    await related(client, ada, await person(db, tenant, client), "FRIEND")
    assert (await trust(client, ada))["friendsScore"] == 4
    await related(client, ada, await person(db, tenant, client), "FRIEND")
    assert (await trust(client, ada))["friendsScore"] == 6  # 8, capped at 6


async def test_rebuild_check_names_a_wrong_score_writes_nothing_and_rebuild_repairs_it(
    db: Database, tenant: str, client: httpx.AsyncClient, migrated_url: str
) -> None:
    ada, dad = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    await related(client, ada, dad, "FATHER")
    async with db.tenant(tenant) as s:
        await s.execute(
            update(TrustScore)
            .where(TrustScore.profile_id == ada["id"])
            .values(total_score=99, family_score=7)
        )

    checked = gx("trust", "rebuild", "--check", "--tenant", tenant, database_url=migrated_url)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert ada["id"] in checked.stdout and dad["id"] not in checked.stdout
    assert "family_score: 7 != 30" in checked.stdout and "total_score: 99 != 30" in checked.stdout
    assert "1 stored trust score(s) differ" in checked.stderr
    assert (await load(db, tenant, TrustScore, ada["id"])).total_score == 99  # nothing written

    rebuilt = gx("trust", "rebuild", "--tenant", tenant, database_url=migrated_url)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert (await load(db, tenant, TrustScore, ada["id"])).total_score == 30
    again = gx("trust", "rebuild", "--check", "--tenant", tenant, database_url=migrated_url)
    assert again.returncode == 0 and "all equal the rule" in again.stdout, again.stdout


async def test_the_distribution_of_a_tenants_scores_is_for_administrators(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada, dad = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    mum = await person(db, tenant, client)
    await related(client, ada, dad, "FATHER")  # ada 30, dad 10
    await related(client, ada, mum, "MOTHER")  # ada 60, mum 10
    boss = await make_user(db, tenant, role="ADMIN", status=UserProfileStatus.ACTIVE)
    admin = bearer(await signed_in(client, boss.email))

    got = await client.get("/admin/trust-scores/distribution", headers=admin)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["count"], body["mean"]) == (3, "26.67")  # (60 + 10 + 10) / 3
    counts = {(b["low"], b["high"]): b["count"] for b in body["buckets"]}
    assert counts[(10, 19)] == 2 and counts[(60, 69)] == 1 and counts[(90, 100)] == 0
    assert sum(counts.values()) == 3 and len(counts) == 10
    refused = await client.get("/admin/trust-scores/distribution", headers=ada["headers"])
    assert_problem(refused, 403, "FORBIDDEN")
