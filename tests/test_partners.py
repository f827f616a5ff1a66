"""Licensed partners: administration, the client-credentials token endpoint, and partner tokens
on the operations opened to them (only those granted, only in their tenant)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gxcore.audit.models import AuditLog
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.partners.models import Credential
from gxcore.wallet.models import TreasuryAccount, Wallet
from tests import test_auth
from tests.factories import register_tenant
from tests.test_auth import bearer, make_user, signed_in
from tests.test_registration import Clock, _client, assert_problem

app, client, clock, countries, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
)
S = UserProfileStatus
WALLET, TREASURY = "wallets.balance.read", "treasury.balance.read"


@pytest.fixture
async def boss(client: httpx.AsyncClient, db: Database, tenant: str) -> dict[str, str]:
    profile = await make_user(db, tenant, role="ADMIN", status=S.ACTIVE)
    return bearer(await signed_in(client, profile.email))


async def _partner(
    client: httpx.AsyncClient,
    boss: dict[str, str],
    *,
    operations: list[str],
    expiry: datetime | None = None,
    name: str = "Acme Payments",
) -> dict[str, Any]:
    """A partner with one application, a license, the grants and a credential."""
    made = await client.post(
        "/admin/partners",
        json={"companyName": name, "jurisdictionCountryCode": "ng"},
        headers=boss,
    )
    assert made.status_code == 201, made.text
    partner = made.json()
    assert partner["status"] == "ACTIVE" and partner["jurisdictionCountryCode"] == "NG"
    pid = partner["partnerId"]
    app_ = await client.post(
        f"/admin/partners/{pid}/applications", json={"appName": f"{name} app"}, headers=boss
    )
    assert app_.status_code == 201, app_.text
    app_id = app_.json()["appId"]
    body: dict[str, Any] = {"licenseType": "PAYMENTS"}
    if expiry is not None:
        body["expiryDate"] = expiry.isoformat()
    lic = await client.post(
        f"/admin/partners/{pid}/applications/{app_id}/licenses", json=body, headers=boss
    )
    assert lic.status_code == 201, lic.text
    assert lic.json()["status"] == "ACTIVE"
    license_id = lic.json()["licenseId"]
    if operations:
        granted = await client.post(
            f"/admin/partners/{pid}/applications/{app_id}/grants",
            json={"operations": operations},
            headers=boss,
        )
        assert granted.status_code == 200, granted.text
        assert granted.json()["operations"] == sorted(operations)
    cred = await client.post(
        f"/admin/partners/{pid}/licenses/{license_id}/credentials", headers=boss
    )
    assert cred.status_code == 201, cred.text
    return {"partnerId": pid, "appId": app_id, "licenseId": license_id, **cred.json()}


def _basic(partner: dict[str, Any]) -> dict[str, str]:
    raw = f"{partner['clientId']}:{partner['clientSecret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def _token(client: httpx.AsyncClient, partner: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(partner)
    )


async def _bearer(client: httpx.AsyncClient, partner: dict[str, Any]) -> dict[str, str]:
    got = await _token(client, partner)
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def _invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["cache-control"] == "no-store"


async def _user_with_wallet(db: Database, tenant: str, amount: str = "12.5") -> str:
    user = await make_user(db, tenant, status=S.ACTIVE, fabric_user_id=f"acct-{uuid.uuid4().hex}")
    async with db.system(reason="test setup: the projector's wallet and treasury") as s:
        s.add(
            Wallet(
                tenant_id=tenant,
                profile_id=user.profile_id,
                primary_account_id=user.fabric_user_id,
                wallet_name="main",
                cached_balance=Decimal(amount),
            )
        )
        s.add(
            TreasuryAccount(
                tenant_id=tenant,
                country_code="NG",
                account_id=f"treasury-NG-{tenant}",
                balance=Decimal("1000.000000001"),
                block_number=1,
                activated_at=datetime.now(UTC),
            )
        )
    return user.profile_id


# --------------------------------------------------------------------------------------------


async def test_a_partner_token_reads_what_its_grants_open_and_nothing_else(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    holder = await _user_with_wallet(db, tenant)
    partner = await _partner(client, boss, operations=[WALLET])
    issued = await _token(client, partner)
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["token_type"] == "Bearer" and token["scope"] == WALLET
    assert 0 < token["expires_in"] <= 3600
    assert issued.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    balance = await client.get(f"/wallets/{holder}/balance", headers=headers)
    assert balance.status_code == 200, balance.text
    assert balance.json()["balance"]["balance"] == "12.500000000"
    # The treasury is not granted: 403, by the one check.
    refused = await client.get("/treasury/NG/balance", headers=headers)
    assert_problem(refused, 403, "PARTNER_NOT_GRANTED")
    # A route never opened to partners refuses the token as a user's.
    assert_problem(await client.get("/users/me", headers=headers), 401, "TOKEN_INVALID")
    assert_problem(await client.get("/admin/partners/" + partner["partnerId"], headers=headers),
                   401, "TOKEN_INVALID")  # fmt: skip

    # Granted later, open at once to a new token (the old one was issued without it).
    more = await client.post(
        f"/admin/partners/{partner['partnerId']}/applications/{partner['appId']}/grants",
        json={"operations": [TREASURY, WALLET]},
        headers=boss,
    )
    assert more.json()["operations"] == [TREASURY, WALLET]
    assert_problem(await client.get("/treasury/NG/balance", headers=headers), 403,
                   "PARTNER_NOT_GRANTED")  # fmt: skip
    fresh = await _bearer(client, partner)
    treasury = await client.get("/treasury/NG/balance", headers=fresh)
    assert treasury.status_code == 200, treasury.text
    assert treasury.json()["treasury"]["balance"] == "1000.000000001"
    # Taken back: the live token loses it on its next call; the rest stays.
    app_path = f"/admin/partners/{partner['partnerId']}/applications/{partner['appId']}"
    taken = await client.delete(f"{app_path}/grants/{TREASURY}", headers=boss)
    assert taken.status_code == 200 and taken.json()["operations"] == [WALLET]
    assert (await client.get(app_path, headers=boss)).json()["operations"] == [WALLET]
    assert_problem(await client.get("/treasury/NG/balance", headers=fresh), 403,
                   "PARTNER_NOT_GRANTED")  # fmt: skip
    assert (await client.get(f"/wallets/{holder}/balance", headers=fresh)).status_code == 200


async def test_a_user_keeps_the_routes_opened_to_partners(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    holder = await _user_with_wallet(db, tenant)
    other = await make_user(db, tenant, status=S.ACTIVE)
    other_headers = bearer(await signed_in(client, other.email))
    assert_problem(await client.get(f"/wallets/{holder}/balance", headers=other_headers), 404,
                   "WALLET_NOT_FOUND")  # fmt: skip
    assert_problem(await client.get("/treasury/NG/balance", headers=other_headers), 403,
                   "FORBIDDEN")  # fmt: skip
    assert (await client.get("/treasury/NG/balance", headers=boss)).status_code == 200


async def test_a_revoked_credential_is_refused_a_token_and_its_live_token_cut_off(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    holder = await _user_with_wallet(db, tenant)
    partner = await _partner(client, boss, operations=[WALLET])
    headers = await _bearer(client, partner)
    revoked = await client.post(
        f"/admin/partners/{partner['partnerId']}/credentials/{partner['credentialId']}/revoke",
        headers=boss,
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "REVOKED"
    _invalid_client(await _token(client, partner))
    assert_problem(await client.get(f"/wallets/{holder}/balance", headers=headers), 401,
                   "PARTNER_ACCESS_REVOKED")  # fmt: skip
    again = await client.post(
        f"/admin/partners/{partner['partnerId']}/credentials/{partner['credentialId']}/revoke",
        headers=boss,
    )
    assert_problem(again, 409, "INVALID_TRANSITION")


async def test_an_expired_or_revoked_license_is_refused(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str], clock: Clock
) -> None:
    holder = await _user_with_wallet(db, tenant)
    partner = await _partner(
        client, boss, operations=[WALLET], expiry=clock.now + timedelta(minutes=5)
    )
    headers = await _bearer(client, partner)
    clock.advance(minutes=5)  # the license lapses; the token (10 minutes) has not expired
    _invalid_client(await _token(client, partner))
    assert_problem(await client.get(f"/wallets/{holder}/balance", headers=headers), 401,
                   "PARTNER_ACCESS_REVOKED")  # fmt: skip

    other = await _partner(client, boss, operations=[WALLET], name="Other Bank")
    revoked = await client.post(
        f"/admin/partners/{other['partnerId']}/licenses/{other['licenseId']}/revoke", headers=boss
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "REVOKED"
    _invalid_client(await _token(client, other))
    refused = await client.post(
        f"/admin/partners/{other['partnerId']}/licenses/{other['licenseId']}/credentials",
        headers=boss,
    )
    assert_problem(refused, 409, "CONFLICT")


async def test_another_tenants_data_and_credentials_are_invisible_to_a_partner(
    app: Any, client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    partner = await _partner(client, boss, operations=[WALLET, TREASURY])
    headers = await _bearer(client, partner)
    elsewhere = await register_tenant(db, f"{tenant}-b")
    victim = await _user_with_wallet(db, elsewhere, amount="99")
    # Their data, asked for in our tenant: not found.
    assert_problem(await client.get(f"/wallets/{victim}/balance", headers=headers), 404,
                   "WALLET_NOT_FOUND")  # fmt: skip
    async with _client(app, elsewhere) as theirs:
        # Our token with their tenant's header: refused.
        assert_problem(await theirs.get(f"/wallets/{victim}/balance", headers=headers), 401,
                       "TOKEN_TENANT_MISMATCH")  # fmt: skip
        # Our credential at their tenant's token endpoint: no such client there.
        _invalid_client(
            await theirs.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(partner)
            )
        )
        # Their administrators do not see our partner.
        their_boss = await make_user(db, elsewhere, role="ADMIN", status=S.ACTIVE)
        their_headers = bearer(await signed_in(theirs, their_boss.email))
        hidden = await theirs.post(
            f"/admin/partners/{partner['partnerId']}/credentials/{partner['credentialId']}/revoke",
            headers=their_headers,
        )
        assert_problem(hidden, 404, "PARTNER_NOT_FOUND")
    assert (await _token(client, partner)).status_code == 200


async def test_the_secret_is_shown_once_and_stored_only_as_a_keyed_hash(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    partner = await _partner(client, boss, operations=[WALLET])
    secret = partner["clientSecret"]
    assert len(secret) >= 43
    async with db.tenant(tenant) as s:
        row = await s.scalar(
            select(Credential).where(Credential.credential_id == partner["credentialId"])
        )
        assert row is not None
        assert secret not in row.client_secret_hash
        assert row.client_secret_hash.startswith("hmac-sha256$")
        entries = (await s.scalars(select(AuditLog))).all()
    assert entries, "issuing a credential is audited"
    assert all(secret not in str(e.new_value) for e in entries)
    read = await client.get(f"/admin/partners/{partner['partnerId']}", headers=boss)
    assert read.status_code == 200 and secret not in read.text


async def test_the_token_endpoint_speaks_rfc_6749(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    partner = await _partner(client, boss, operations=[WALLET, TREASURY])
    form = {
        "grant_type": "client_credentials",
        "client_id": partner["clientId"],
        "client_secret": partner["clientSecret"],
    }
    by_form = await client.post("/oauth/token", data=form)
    assert by_form.status_code == 200, by_form.text
    narrowed = await client.post("/oauth/token", data={**form, "scope": WALLET})
    assert narrowed.json()["scope"] == WALLET
    # A token narrowed to one scope opens only that, whatever else the application holds.
    narrow = {"Authorization": f"Bearer {narrowed.json()['access_token']}"}
    assert_problem(await client.get("/treasury/NG/balance", headers=narrow), 403,
                   "PARTNER_NOT_GRANTED")  # fmt: skip
    wrong = await client.post("/oauth/token", data={**form, "client_secret": "nope"})
    _invalid_client(wrong)
    _invalid_client(await client.post("/oauth/token", data={"grant_type": "client_credentials"}))
    bad_grant = await client.post("/oauth/token", data={**form, "grant_type": "password"})
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
    as_json = await client.post("/oauth/token", json=form)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    too_wide = await client.post("/oauth/token", data={**form, "scope": "admin.everything"})
    assert too_wide.status_code == 400 and too_wide.json()["error"] == "invalid_scope"
    nul = base64.b64encode(b"gxc_x%00:secret").decode()
    _invalid_client(
        await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {nul}"},
        )
    )
    both = await client.post("/oauth/token", data=form, headers=_basic(partner))
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


async def test_partner_administration_is_for_administrators_and_validated(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, str]
) -> None:
    user = await make_user(db, tenant, status=S.ACTIVE)
    headers = bearer(await signed_in(client, user.email))
    body = {"companyName": "Acme", "jurisdictionCountryCode": "NG"}
    assert_problem(await client.post("/admin/partners", json=body, headers=headers), 403,
                   "FORBIDDEN")  # fmt: skip
    made = await client.post("/admin/partners", json=body, headers=boss)
    assert made.status_code == 201
    assert_problem(await client.post("/admin/partners", json=body, headers=boss), 409,
                   "PARTNER_EXISTS")  # fmt: skip
    unknown = {"companyName": "Zed", "jurisdictionCountryCode": "ZZ"}
    assert_problem(await client.post("/admin/partners", json=unknown, headers=boss), 422,
                   "VALIDATION_FAILED")  # fmt: skip
    pid = made.json()["partnerId"]
    app_ = await client.post(
        f"/admin/partners/{pid}/applications", json={"appName": "A"}, headers=boss
    )
    app_id = app_.json()["appId"]
    bad_grant = await client.post(
        f"/admin/partners/{pid}/applications/{app_id}/grants",
        json={"operations": ["transfers.create"]},
        headers=boss,
    )
    assert bad_grant.status_code == 422
    past = await client.post(
        f"/admin/partners/{pid}/applications/{app_id}/licenses",
        json={"licenseType": "X", "expiryDate": "2000-01-01T00:00:00Z"},
        headers=boss,
    )
    assert_problem(past, 422, "VALIDATION_FAILED")
