"""Every operation of /openapi.json, attacked with ids that are not the caller's.

For each operation that names a resource (a path parameter, or a body field ending in `Id`):
- the strongest caller of another tenant (its administrator) gets a 404, and
- for what a user owns, another user of the same tenant gets a 404,
and neither changes a single row of the owner's tenant. A new operation that names a resource
fails `test_every_operation_that_names_a_resource_is_swept` until it is added to `BODIES` here
(with a body its schema accepts), so the sweep grows with the API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from gxcore.admin.models import LegalTenderStatus, SystemParameter
from gxcore.business.models import (
    BusinessAccount,
    BusinessSignatory,
    MultiSigTransaction,
    Organization,
    OrganizationProfile,
    SignatoryRule,
    TransactionApproval,
    UserOrganizationLink,
)
from gxcore.cqrs.outbox import enqueue
from gxcore.db import models
from gxcore.db.tenancy import Database
from gxcore.enums import (
    CommandType,
    LegalTenderStatusEnum,
    LimitType,
    NotificationType,
    OrgProfileStatus,
    RelationType,
    SignatoryRole,
    UserProfileStatus,
)
from gxcore.governance.models import Proposal
from gxcore.identity.models import TrustedDevice
from gxcore.kyc.models import KYCDocument, KYCVerification
from gxcore.loans.models import Collateral, Loan
from gxcore.notifications.inbox import notify
from gxcore.notifications.models import Notification, PushToken
from gxcore.partners.models import Application, Credential, License, LicensedPartner
from gxcore.referrals.models import Referral
from gxcore.trust.models import FamilyRelationship
from gxcore.wallet.models import (
    Beneficiary,
    Contact,
    TransactionLimit,
    TreasuryAccount,
    Wallet,
)
from tests import test_auth
from tests.factories import register_tenant
from tests.openapi_document import served_document
from tests.test_auth import bearer, make_user, signed_in
from tests.test_projector import nigeria
from tests.test_registration import _client, new_email

app, clock, countries, settings = (
    test_auth.app,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
)

PREFIX = "/api/v1"
SPEC = served_document()
#: A body each operation's schema accepts; "{kind}" is replaced by the victim's id of that kind.
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/registration/{registration_id}"): None,
    ("POST", "/registration/email/verify"): {"registrationId": "{registration}", "otp": "123456"},
    ("POST", "/registration/email/resend"): {"registrationId": "{registration}"},
    ("POST", "/registration/name-country"): {
        "registrationId": "{registration}",
        "firstName": "Eve",
        "lastName": "Mallory",
        "countryCode": "GB",
    },
    ("POST", "/registration/dob-gender"): {
        "registrationId": "{registration}",
        "dateOfBirth": "1990-01-01",
        "gender": "FEMALE",
    },
    ("POST", "/registration/password"): {
        "registrationId": "{registration}",
        "password": "correct horse battery staple",
        "confirmPassword": "correct horse battery staple",
    },
    ("POST", "/registration/phone"): {
        "registrationId": "{registration}",
        "phoneNum": "+447700900123",
    },
    ("POST", "/registration/phone/verify"): {"registrationId": "{registration}", "otp": "123456"},
    ("POST", "/registration/phone/resend"): {"registrationId": "{registration}"},
    ("GET", "/users/{profile_id}"): None,
    ("PATCH", "/users/{profile_id}"): {"firstName": "Eve"},
    ("GET", "/users/{profile_id}/devices"): None,
    ("POST", "/users/{profile_id}/devices/{device_id}/trust"): None,
    ("DELETE", "/users/{profile_id}/devices/{device_id}/trust"): None,
    ("GET", "/admin/users/{profile_id}"): None,
    ("POST", "/admin/users/{profile_id}/approve"): None,
    ("POST", "/admin/users/{profile_id}/reject"): {"reason": "sweep"},
    ("POST", "/admin/users/{profile_id}/deny"): {"reason": "sweep"},
    ("POST", "/admin/users/{profile_id}/{action}"): {"reason": "sweep"},
    ("POST", "/admin/users/batch-register-onchain"): {"userIds": ["{profile}"]},
    ("POST", "/admin/batch-approve-blockchain"): {"userIds": ["{profile}"]},
    ("POST", "/admin/admins"): {"userId": "{profile}", "role": "SUPER_ADMIN"},
    ("GET", "/admin/countries/{country_code}/stats"): None,
    ("GET", "/admin/parameters/{param_id}"): None,
    ("POST", "/genesis"): {"userId": "{profile}"},
    ("POST", "/transfers"): {"toUserId": "{profile}", "amount": "1"},
    ("GET", "/transfers/{command_id}/status"): None,
    ("POST", "/admin/transfers/{command_id}/release"): {"reason": "sweep"},
    ("POST", "/admin/transfers/{command_id}/reject"): {"reason": "sweep"},
    ("GET", "/wallets/{profile_id}/balance"): None,
    ("GET", "/wallets/{profile_id}/transactions"): None,
    ("POST", "/wallets/{wallet_id}/freeze"): {"reason": "sweep"},
    ("POST", "/wallets/{wallet_id}/unfreeze"): {"reason": "sweep"},
    ("POST", "/limits"): {"limitType": "DAILY_SEND", "limitAmount": "1", "profileId": "{profile}"},
    ("DELETE", "/limits/{limit_id}"): None,
    ("POST", "/beneficiaries"): {"beneficiaryIdentityId": "{profile}", "nickname": "Eve"},
    ("PUT", "/beneficiaries/{beneficiary_id}"): {"nickname": "Eve"},
    ("DELETE", "/beneficiaries/{beneficiary_id}"): None,
    ("POST", "/contacts"): {"displayName": "Eve", "contactProfileId": "{profile}"},
    ("PATCH", "/contacts/{contact_id}"): {"status": "BLOCKED"},
    ("DELETE", "/contacts/{contact_id}"): None,
    ("GET", "/treasury/{country_code}/balance"): None,
    ("PATCH", "/notifications/{notification_id}/read"): None,
    ("PATCH", "/notifications/{notification_id}/archive"): None,
    ("PATCH", "/notifications/{notification_id}/action"): None,
    ("POST", "/push-tokens"): {
        "token": "sweep-token-9999",
        "platform": "ios",
        "deviceId": "{device}",
    },
    ("POST", "/push-tokens/{token_id}/refresh"): None,
    ("DELETE", "/push-tokens/{token_id}"): None,
    ("GET", "/proposals/{proposal_id}"): None,
    ("POST", "/proposals/{proposal_id}/vote"): {"support": True},
    ("POST", "/proposals/{proposal_id}/execute"): None,
    ("GET", "/loans/{loan_id}"): None,
    ("POST", "/loans/{loan_id}/approve"): None,
    ("GET", "/users/{borrower_id}/loans"): None,
    ("POST", "/users/{profile_id}/kyc"): None,
    ("GET", "/users/{profile_id}/kyc"): None,
    ("POST", "/users/{profile_id}/documents/upload"): None,
    ("GET", "/users/{profile_id}/documents"): None,
    ("GET", "/documents/{document_id}/url"): None,
    ("GET", "/documents/{document_id}/content"): None,
    ("DELETE", "/documents/{document_id}"): None,
    ("GET", "/admin/kyc/{kyc_id}"): None,
    ("POST", "/admin/kyc/{kyc_id}/approve"): None,
    ("POST", "/admin/kyc/{kyc_id}/reject"): {"reason": "sweep"},
    ("POST", "/relationships"): {"relationType": "FRIEND", "relatedProfileId": "{profile}"},
    ("GET", "/relationships/{relationship_id}"): None,
    ("POST", "/relationships/{relationship_id}/confirm"): None,
    ("POST", "/relationships/{relationship_id}/reject"): None,
    ("POST", "/relationships/{relationship_id}/mark"): {"status": "NOT_APPLICABLE"},
    ("DELETE", "/relationships/{relationship_id}"): None,
    ("GET", "/referrals/{referral_id}"): None,
    ("GET", "/admin/referrals/{referral_id}"): None,
    ("GET", "/organization-profiles/{org_profile_id}"): None,
    ("GET", "/organization-profiles/{org_profile_id}/members"): None,
    ("POST", "/organization-profiles/{org_profile_id}/members"): {"profileId": "{profile}"},
    ("POST", "/admin/organization-profiles/{org_profile_id}/verify"): None,
    ("POST", "/admin/organization-profiles/{org_profile_id}/reject"): {"reason": "sweep"},
    ("POST", "/admin/organization-profiles/{org_profile_id}/suspend"): {"reason": "sweep"},
    ("POST", "/business-accounts"): {
        "orgProfileId": "{org_profile}",
        "organizationId": "{organization}",
    },
    ("GET", "/business-accounts/{business_account_id}"): None,
    ("PATCH", "/business-accounts/{business_account_id}"): {"defaultRequiredApprovals": 2},
    ("GET", "/business-accounts/{business_account_id}/signatories"): None,
    ("POST", "/business-accounts/{business_account_id}/signatories"): {
        "profileId": "{profile}",
        "role": "VIEWER",
    },
    ("POST", "/business-accounts/{business_account_id}/signatories/{signatory_id}/confirm"): None,
    ("POST", "/business-accounts/{business_account_id}/signatories/{signatory_id}/revoke"): None,
    ("GET", "/business-accounts/{business_account_id}/rules"): None,
    ("POST", "/business-accounts/{business_account_id}/rules"): {"requiredApprovals": 1},
    ("POST", "/business-accounts/{business_account_id}/rules/{rule_id}/deactivate"): None,
    ("POST", "/business-accounts/{business_account_id}/transfers"): {
        "toUserId": "{profile}",
        "amount": "1",
    },
    ("GET", "/business-accounts/{business_account_id}/approvals"): None,
    ("GET", "/approvals/{approval_id}"): None,
    ("POST", "/approvals/{approval_id}/approve"): None,
    ("POST", "/approvals/{approval_id}/reject"): None,
    ("POST", "/organizations"): {
        "organizationName": "Sweep",
        "stakeholders": ["{profile}"],
        "organizationId": "SWEEP-NEW",
    },
    ("GET", "/organizations/{org_id}"): None,
    ("POST", "/organizations/{org_id}/endorse"): None,
    ("POST", "/organizations/{org_id}/activate"): None,
    ("POST", "/organizations/{org_id}/rules"): {
        "threshold": "0",
        "requiredApprovers": 1,
        "approvers": ["{profile}"],
    },
    ("POST", "/organizations/{org_id}/transactions"): {"toUserId": "{profile}", "amount": "1"},
    ("GET", "/organizations/{org_id}/transactions/pending"): None,
    ("GET", "/organizations/{org_id}/commands/{command_id}"): None,
    ("POST", "/transactions/{pending_tx_id}/approve"): None,
    ("GET", "/velocity-tax/eligibility/{account_id}"): None,
    ("GET", "/admin/partners/{partner_id}"): None,
    ("POST", "/admin/partners/{partner_id}/applications"): {"appName": "sweep"},
    ("POST", "/admin/partners/{partner_id}/applications/{app_id}/licenses"): {
        "licenseType": "SWEEP"
    },
    ("POST", "/admin/partners/{partner_id}/applications/{app_id}/grants"): {
        "operations": ["wallets.balance.read"]
    },
    ("GET", "/admin/partners/{partner_id}/applications/{app_id}"): None,
    ("DELETE", "/admin/partners/{partner_id}/applications/{app_id}/grants/{operation}"): None,
    ("POST", "/admin/partners/{partner_id}/licenses/{license_id}/revoke"): None,
    ("POST", "/admin/partners/{partner_id}/licenses/{license_id}/credentials"): None,
    ("POST", "/admin/partners/{partner_id}/credentials/{credential_id}/revoke"): None,
}
#: Administrators' operations: a user is refused by role (403), not by id.
ADMIN_ONLY = (
    "/admin/", "/genesis", "/limits", "/wallets/{wallet_id}/", "/treasury", "/loans/{loan_id}/approve",
)  # fmt: skip
#: What every member of a tenant shares (any member reads and votes on a proposal): swept
#: across tenants only.
TENANT_WIDE = ("/proposals/",)
#: Path parameter -> the kind of id it takes ("action" is a verb, not an id).
PATH_KINDS = {
    "registration_id": "registration",
    "profile_id": "profile",
    "device_id": "device",
    "command_id": "command",
    "limit_id": "limit",
    "beneficiary_id": "beneficiary",
    "contact_id": "contact",
    "wallet_id": "wallet",
    "country_code": "country",
    "notification_id": "notification",
    "token_id": "push_token",
    "proposal_id": "proposal",
    "loan_id": "loan",
    "borrower_id": "profile",
    "kyc_id": "kyc",
    "document_id": "document",
    "relationship_id": "relationship",
    "referral_id": "referral",
    "org_profile_id": "org_profile",
    "business_account_id": "business_account",
    "signatory_id": "signatory",
    "rule_id": "rule",
    "approval_id": "approval",
    "org_id": "organization",
    "pending_tx_id": "multisig",
    "param_id": "parameter",
    "account_id": "account",
    "partner_id": "partner",
    "app_id": "application",
    "license_id": "license",
    "credential_id": "credential",
}
#: Further bodies of an operation that names its resource in one of several fields.
MORE_BODIES: list[tuple[tuple[str, str], dict[str, Any]]] = [
    (("POST", "/transfers"), {"toBusinessAccountId": "{business_account}", "amount": "1"}),
]
PATH_VALUES = {"action": "freeze", "operation": "wallets.balance.read"}
#: Operations whose id is a name every tenant has (a parameter key): the attacker must get its
#: own tenant's answer, never the victim's (the victim's value is set apart in `victim`).
SHARED_NAMES = {("GET", "/admin/parameters/{param_id}")}
VICTIM_PARAMETER = ("genesisMaxAge", "71")


def _names_a_resource(op: dict[str, Any], spec: dict[str, Any]) -> bool:
    if any(p["in"] == "path" for p in op.get("parameters", [])):
        return True
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    schema = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return any(name.endswith(("Id", "Ids")) for name in schema.get("properties", {}))


def test_every_operation_that_names_a_resource_is_swept() -> None:
    naming = {
        (method.upper(), path.removeprefix(PREFIX))
        for path, ops in SPEC["paths"].items()
        for method, op in ops.items()
        if _names_a_resource(op, SPEC)
    }
    assert naming - BODIES.keys() == set(), "add these operations to BODIES"
    assert BODIES.keys() - naming == set(), "these operations no longer exist"


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str) and (m := re.fullmatch(r"\{(\w+)\}", value)):
        return ids[m.group(1)]
    return value


def _url(path: str, ids: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        return PATH_VALUES.get(name) or ids[PATH_KINDS[name]]

    return re.sub(r"\{(\w+)\}", one, path)


async def _snapshot(db: Database, tenant: str) -> dict[str, Any]:
    """Every row of the tenant, as a count per table and a fingerprint of its contents."""
    out: dict[str, Any] = {}
    async with db.system(reason="test: sweep snapshot") as s:
        for table in models.metadata.sorted_tables:
            if "tenantId" not in table.c:
                continue
            rows = (
                await s.execute(
                    text(
                        f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) "
                        f'FROM "{table.name}" t WHERE t."tenantId" = :tenant'
                    ),
                    {"tenant": tenant},
                )
            ).one()
            out[table.name] = tuple(rows)
    return out


@pytest.fixture
async def victim(app: Any, db: Database, tenant: str, migrated_url: str) -> dict[str, str]:
    """Tenant A's ids of every kind: a user with a device, a registration, a command."""
    async with _client(app, tenant) as client:
        user = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
        friend = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
        await signed_in(client, user.email, deviceFingerprint="victim-phone-1")
        started = await client.post("/registration/email", json={"email": new_email()})
        assert started.status_code == 201, started.text
    async with db.tenant(tenant) as s:
        device = await s.scalar(select(TrustedDevice.device_id))
        command = await enqueue(
            s,
            service="svc-tokenomics",
            command_type=CommandType.TRANSFER_TOKENS,
            request_id=f"transfer:{user.profile_id}:sweep",
            payload={"senderId": "a", "receiverId": "b", "amount": "1"},
        )
        limit = TransactionLimit(limit_type=LimitType.DAILY_SEND, limit_amount=Decimal(5))
        payee = Beneficiary(
            owner_profile_id=user.profile_id,
            beneficiary_identity_id=friend.profile_id,
            nickname="F",
        )
        contact = Contact(
            owner_profile_id=user.profile_id, contact_profile_id=friend.profile_id, display_name="F"
        )
        s.add_all([limit, payee, contact])
        await notify(
            s,
            profile_id=user.profile_id,
            type=NotificationType.SECURITY_ALERT,
            title="sweep",
            message="sweep",
        )
        await s.flush()
        notice = await s.scalar(select(Notification.notification_id))
        push = PushToken(profile_id=user.profile_id, token="sweep-token-0001", platform="ios")
        s.add(push)
        kyc = KYCVerification(profile_id=user.profile_id, status="PENDING")
        s.add(kyc)
        await s.flush()
        document = KYCDocument(
            kyc_id=kyc.kyc_id,
            document_type="PASSPORT",
            storage_url="sha256:" + "0" * 64,
            file_hash="0" * 64,
            file_size=1,
            mime_type="application/pdf",
            virus_scan_status="clean",
        )
        s.add(document)
        kin = FamilyRelationship(
            initiator_profile_id=user.profile_id,
            related_profile_id=friend.profile_id,
            relation_type=RelationType.SIBLING,
        )
        s.add_all([push, kin])
        await s.flush()
    await nigeria(migrated_url)
    async with db.tenant(tenant) as s:
        s.add(
            LegalTenderStatus(
                country_code="NG",
                status=LegalTenderStatusEnum.RECOGNIZED,
                effective_date=datetime.now(UTC),
            )
        )
        await s.execute(
            update(SystemParameter)
            .where(SystemParameter.param_key == VICTIM_PARAMETER[0])
            .values(param_value=VICTIM_PARAMETER[1])
        )
    async with db.system(reason="test setup: the projector's wallet and treasury") as s:
        wallet = Wallet(
            tenant_id=tenant,
            profile_id=user.profile_id,
            primary_account_id=user.profile_id,
            wallet_name="main",
        )
        s.add(wallet)
        s.add(
            TreasuryAccount(
                tenant_id=tenant,
                country_code="NG",
                account_id="treasury-NG",
                block_number=1,
                activated_at=datetime.now(UTC),
            )
        )
        s.add(
            Proposal(
                tenant_id=tenant,
                proposal_id=f"proposal-{tenant}",
                title="sweep",
                description="sweep",
                proposer_id=user.profile_id,
                proposal_type="PARAMETER_CHANGE",
                status="OPEN",
                voting_ends_at=datetime.now(UTC) - timedelta(days=1),
                votes_for=1,
            )
        )
        s.add(
            Loan(
                tenant_id=tenant,
                loan_id=f"loan-{tenant}",
                borrower_id=user.profile_id,
                amount=Decimal(5),
                purpose="sweep",
                status="APPLIED",
            )
        )
        await s.flush()
    async with db.tenant(tenant) as s:
        s.add(
            Collateral(on_chain_loan_id=f"loan-{tenant}", document_reference="r", document_hash="h")
        )
    business = await _business(db, tenant, user.profile_id, wallet.wallet_id, command.id)
    partner = await _partner(db, tenant)
    assert device is not None and notice is not None
    return {
        **business,
        **partner,
        "wallet": wallet.wallet_id,
        "tenant": tenant,
        "profile": user.profile_id,
        "registration": started.json()["registrationId"],
        "device": device,
        "command": command.id,
        "limit": limit.limit_id,
        "beneficiary": payee.beneficiary_id,
        "contact": contact.contact_id,
        "country": "NG",
        "notification": notice,
        "push_token": push.token_id,
        "proposal": f"proposal-{tenant}",
        "loan": f"loan-{tenant}",
        "kyc": kyc.kyc_id,
        "document": document.document_id,
        "relationship": kin.relationship_id,
        "referral": await _referral(db, tenant, user.profile_id),
        "parameter": VICTIM_PARAMETER[0],
        "account": wallet.primary_account_id,
    }


async def _referral(db: Database, tenant: str, referrer: str) -> str:
    """The victim's referral of an address."""
    async with db.tenant(tenant) as s:
        referral = Referral(referrer_profile_id=referrer, invitee_email="sweep@example.com")
        s.add(referral)
        await s.flush()
        return referral.referral_id


async def _partner(db: Database, tenant: str) -> dict[str, str]:
    """The victim's licensed partner, with an application, a license and a credential."""
    async with db.tenant(tenant) as s:
        partner = LicensedPartner(company_name="Victim Pay", jurisdiction_country_code="NG")
        s.add(partner)
        await s.flush()
        application = Application(partner_id=partner.partner_id, app_name="victim-app")
        s.add(application)
        await s.flush()
        license_ = License(app_id=application.app_id, license_type="PAYMENTS")
        s.add(license_)
        await s.flush()
        credential = Credential(
            license_id=license_.license_id, client_id="gxc_victim", client_secret_hash="x"
        )
        s.add(credential)
        await s.flush()
        return {
            "partner": partner.partner_id,
            "application": application.app_id,
            "license": license_.license_id,
            "credential": credential.credential_id,
        }


async def _business(
    db: Database, tenant: str, owner: str, wallet_id: str, command_id: str
) -> dict[str, str]:
    """The victim's organization profile, business account (with a signatory, a rule and an
    approval) and ledger organization (with a pending multi-signature transaction)."""
    async with db.tenant(tenant) as s:
        org = OrganizationProfile(
            legal_name="Victim Ltd",
            jurisdiction_country_code="NG",
            status=OrgProfileStatus.VERIFIED,
        )
        s.add(org)
        await s.flush()
        s.add(UserOrganizationLink(user_profile_id=owner, org_profile_id=org.org_profile_id,
                                   role="owner"))  # fmt: skip
        account = BusinessAccount(org_profile_id=org.org_profile_id, wallet_id=wallet_id)
        s.add(account)
        await s.flush()
        signatory = BusinessSignatory(
            business_account_id=account.business_account_id,
            profile_id=owner,
            role=SignatoryRole.OWNER,
            can_initiate_transactions=True,
            can_approve_transactions=True,
            confirmed_at=datetime.now(UTC),
        )
        rule = SignatoryRule(business_account_id=account.business_account_id,
                             required_approvals=1)  # fmt: skip
        approval = TransactionApproval(
            business_account_id=account.business_account_id,
            outbox_command_id=command_id,
            required_approvals=2,
            expires_at=datetime.now(UTC),
        )
        s.add_all([signatory, rule, approval])
        await s.flush()
        ids = {
            "org_profile": org.org_profile_id,
            "business_account": account.business_account_id,
            "signatory": signatory.signatory_id,
            "rule": rule.rule_id,
            "approval": approval.approval_id,
        }
    async with db.system(reason="test setup: the projector's organization") as s:
        s.add(Organization(tenant_id=tenant, org_id="ORG-SWEEP", org_name="Victim", org_type="X",
                           status="ACTIVE", stakeholders=["victim-account"]))  # fmt: skip
        s.add(
            MultiSigTransaction(
                tenant_id=tenant,
                tx_id="MSIG-SWEEP",
                org_id="ORG-SWEEP",
                proposer_id="victim-account",
                operation="TRANSFER",
                params={"eligibleApprovers": ["victim-account"]},
                status="PENDING",
                required_signatures=2,
                current_signatures=1,
                approvers=["victim-account"],
            )
        )
    return {**ids, "organization": "ORG-SWEEP", "multisig": "MSIG-SWEEP"}


async def _attack(
    client: httpx.AsyncClient, headers: dict[str, str], ids: dict[str, str], *, owned_only: bool
) -> list[str]:
    wrong = []
    for (method, path), body in [*BODIES.items(), *MORE_BODIES]:
        if owned_only and (
            "{" not in path or path.startswith((*ADMIN_ONLY, *TENANT_WIDE, "/registration/"))
        ):
            # What a user owns is named in the path; a body may name another user on purpose
            # (a transfer's receiver), and a registration belongs to no user yet (its id is its
            # holder's capability).
            continue
        url = _url(path, ids)
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = _fill(body, ids)
        answer = await client.request(method, url, **kwargs)
        if (method, path) in SHARED_NAMES:
            if answer.status_code != 200 or answer.json().get("paramValue") == VICTIM_PARAMETER[1]:
                wrong.append(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
            continue
        if answer.status_code != 404:
            wrong.append(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
    return wrong


async def test_another_tenants_administrator_gets_404_everywhere_and_changes_nothing(
    app: Any, db: Database, victim: dict[str, str]
) -> None:
    other = await register_tenant(db, f"{victim['tenant']}-b")
    before = await _snapshot(db, victim["tenant"])
    async with _client(app, other) as client:
        admin = await make_user(db, other, role="SUPER_ADMIN", status=UserProfileStatus.ACTIVE)
        headers = bearer(await signed_in(client, admin.email))
        wrong = await _attack(client, headers, victim, owned_only=False)
    assert wrong == [], "\n".join(wrong)
    assert await _snapshot(db, victim["tenant"]) == before


async def test_another_user_gets_404_for_what_a_user_owns_and_changes_nothing(
    app: Any, db: Database, victim: dict[str, str]
) -> None:
    tenant = victim["tenant"]
    async with _client(app, tenant) as client:
        mallory = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
        headers = bearer(await signed_in(client, mallory.email))
        before = await _snapshot(db, tenant)
        wrong = await _attack(client, headers, victim, owned_only=True)
    assert wrong == [], "\n".join(wrong)
    after = await _snapshot(db, tenant)
    assert after == before
