"""KYC over HTTP: uploads streamed and sealed, downloads by signed link, scans, review, expiry.

The real app on a real PostgreSQL, documents in a store under the test's data dir, the
development (EICAR) scanner; the clamd implementation has its own test (test_clamd.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from gxcore.config import Settings
from gxcore.db import server
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, KycStatus, NotificationType, UserProfileStatus
from gxcore.identity.models import UserProfile, national_id_placeholder
from gxcore.kyc.jobs import expire_due, remove_orphans, scan_pending
from gxcore.kyc.models import KYCDocument, KYCVerification
from gxcore.kyc.scanner import EICAR, ScanStatus, Verdict
from gxcore.kyc.sealing import Sealer, binding
from gxcore.kyc.vault import Vault
from gxcore.notifications.models import Notification
from tests import test_auth
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant
from tests.test_auth import JWT_SECRET, OTP_SECRET, bearer, events, make_user, signed_in
from tests.test_registration import _client, assert_problem, gx

app, clock, countries = test_auth.app, test_auth.clock, test_auth.countries

CAP = 64 * 1024
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        otp_secret=OTP_SECRET,
        jwt_secret=JWT_SECRET,
        environment="test",
        kyc_max_document_bytes=CAP,
        kyc_max_documents_per_upload=3,
    )


@pytest.fixture
def store_dir(settings: Settings) -> Path:
    return settings.kyc_storage_path


@pytest.fixture
async def client(app: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, tenant) as c:
        yield c


class User:
    def __init__(self, profile_id: str, headers: dict[str, str]) -> None:
        self.id, self.headers = profile_id, headers


async def sign_up(client: httpx.AsyncClient, db: Database, tenant: str, role: str = "USER") -> User:
    profile = await make_user(db, tenant, status=UserProfileStatus.ACTIVE, role=role)
    return User(profile.profile_id, bearer(await signed_in(client, profile.email)))


@pytest.fixture
async def alice(client: httpx.AsyncClient, db: Database, tenant: str) -> User:
    return await sign_up(client, db, tenant)


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, tenant: str) -> User:
    return await sign_up(client, db, tenant, role="ADMIN")


async def upload(
    client: httpx.AsyncClient,
    user: User,
    *files: tuple[str, bytes, str],
    **fields: str | list[str],
) -> httpx.Response:
    data = {"documentType": "PASSPORT", **fields}
    return await client.post(
        f"/users/{user.id}/documents/upload",
        headers=user.headers,
        files=[("files", f) for f in files],
        data=data,
    )


async def uploaded(client: httpx.AsyncClient, user: User, *files: Any, **fields: Any) -> list[Any]:
    answer = await upload(client, user, *files, **fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def blobs(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()]


async def document_count(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as s:
        return await s.scalar(select(func.count()).select_from(KYCDocument)) or 0


# --------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------


async def test_upload_seals_the_document_and_records_what_its_bytes_are(
    client: httpx.AsyncClient, alice: User, store_dir: Path, db: Database, tenant: str
) -> None:
    [doc] = await uploaded(client, alice, ("passport.pdf", PDF, "application/pdf"))
    assert doc["fileHash"] == hashlib.sha256(PDF).hexdigest()
    assert doc["fileSize"] == len(PDF) and doc["mimeType"] == "application/pdf"
    assert doc["virusScanStatus"] == "clean" and doc["version"] == 1
    [blob] = blobs(store_dir)
    assert PDF not in blob.read_bytes() and b"Catalog" not in blob.read_bytes()  # encrypted
    assert blob.name == hashlib.sha256(blob.read_bytes()).hexdigest()  # content-addressed
    async with db.tenant(tenant) as s:
        row = await s.get(KYCDocument, doc["documentId"])
        assert row is not None and row.encryption_key and row.encryption_key.startswith("v1:")
    # Undeclared types are detected: a PNG sent as octet-stream is a PNG.
    [png] = await uploaded(client, alice, ("selfie", PNG, "application/octet-stream"))
    assert png["mimeType"] == "image/png"


async def test_a_file_whose_bytes_disagree_with_its_declared_type_is_refused(
    client: httpx.AsyncClient, alice: User, store_dir: Path, db: Database, tenant: str
) -> None:
    answer = await upload(client, alice, ("passport.pdf", PNG, "application/pdf"))
    body = assert_problem(answer, 422, "DOCUMENT_TYPE_MISMATCH")
    assert body["declaredType"] == "application/pdf" and body["detectedType"] == "image/png"
    text = await upload(client, alice, ("notes.pdf", b"just some text, no document", "text/plain"))
    assert_problem(text, 422, "DOCUMENT_TYPE_NOT_ALLOWED")
    assert blobs(store_dir) == [] and await document_count(db, tenant) == 0


async def test_an_oversized_upload_is_refused_while_streaming_and_nothing_is_stored(
    client: httpx.AsyncClient, alice: User, store_dir: Path, db: Database, tenant: str
) -> None:
    boundary = "gx-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="documentType"\r\n\r\nPASSPORT\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    chunk, total_chunks = b"%PDF-1.4\n" + b"0" * (16 * 1024 - 9), 1000  # 16 MB on offer
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(total_chunks):
            sent += 1
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = await client.post(
        f"/users/{alice.id}/documents/upload",
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    body_ = assert_problem(answer, 413, "DOCUMENT_TOO_LARGE")
    assert body_["maxBytes"] == CAP
    assert sent < CAP // len(chunk) + 3  # reading stopped at the cap, not at the end
    assert blobs(store_dir) == [] and await document_count(db, tenant) == 0
    # One file too big among good ones: none of them is kept.
    big = ("big.pdf", PDF + b"0" * CAP, "application/pdf")
    answer = await upload(client, alice, ("a.pdf", PDF, "application/pdf"), big)
    assert_problem(answer, 413, "DOCUMENT_TOO_LARGE")
    assert blobs(store_dir) == [] and await document_count(db, tenant) == 0


async def test_form_fields_are_validated_and_name_the_field(
    client: httpx.AsyncClient, alice: User, store_dir: Path
) -> None:
    bad = await upload(client, alice, ("a.pdf", PDF, "application/pdf"), documentType="SELFIE")
    assert assert_problem(bad, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "documentType"
    extra = await upload(client, alice, ("a.pdf", PDF, "application/pdf"), colour="blue")
    assert assert_problem(extra, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "colour"
    no_file = await client.post(
        f"/users/{alice.id}/documents/upload", headers=alice.headers, data={"documentType": "X"}
    )
    assert_problem(no_file, 422, "UPLOAD_MALFORMED")
    not_multipart = await client.post(
        f"/users/{alice.id}/documents/upload", headers=alice.headers, json={"a": 1}
    )
    assert_problem(not_multipart, 422, "UPLOAD_MALFORMED")
    assert blobs(store_dir) == []


async def test_parallel_uploads_of_one_user_fill_one_verification(
    client: httpx.AsyncClient, alice: User, db: Database, tenant: str
) -> None:
    answers = await asyncio.gather(
        *(upload(client, alice, (f"{i}.pdf", PDF, "application/pdf")) for i in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6
    async with db.tenant(tenant) as s:
        assert await s.scalar(select(func.count()).select_from(KYCVerification)) == 1
        assert await s.scalar(select(func.count()).select_from(KYCDocument)) == 6


async def test_no_transaction_is_open_while_the_body_streams_in(
    client: httpx.AsyncClient, alice: User, migrated_url: str
) -> None:
    boundary = "gx-boundary"
    seen: list[int] = []

    async def open_transactions() -> int:
        # As the superuser: other roles' sessions show no state to gx_system.
        async with server.connect(migrated_url) as conn:
            found = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        return int(found or 0)

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="documentType"\r\n\r\n'
            f'PASSPORT\r\n--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode() + PDF
        seen.append(await open_transactions())  # the client is slow here
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = await client.post(
        f"/users/{alice.id}/documents/upload",
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    assert answer.status_code == 201, answer.text
    assert seen == [0]


async def test_a_refusal_after_the_files_were_stored_removes_them(
    client: httpx.AsyncClient, alice: User, store_dir: Path, db: Database, tenant: str
) -> None:
    answer = await upload(
        client, alice, ("a.pdf", PDF, "application/pdf"), replacesDocumentId="no-such-document"
    )
    assert_problem(answer, 404, "DOCUMENT_NOT_FOUND")
    assert blobs(store_dir) == [] and await document_count(db, tenant) == 0


async def test_a_new_version_points_to_the_document_it_replaces(
    client: httpx.AsyncClient, alice: User
) -> None:
    [first] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    [second] = await uploaded(
        client, alice, ("b.pdf", PDF + b"%v2\n", "application/pdf"),
        replacesDocumentId=first["documentId"],
    )  # fmt: skip
    assert second["replacesDocumentId"] == first["documentId"] and second["version"] == 2
    again = await upload(
        client, alice, ("c.pdf", PDF, "application/pdf"), replacesDocumentId=first["documentId"]
    )
    assert_problem(again, 409, "CONFLICT")  # each version is replaced once
    listed = await client.get(f"/users/{alice.id}/documents", headers=alice.headers)
    assert [d["documentId"] for d in listed.json()["items"]] == [
        second["documentId"],
        first["documentId"],
    ]


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


async def link(client: httpx.AsyncClient, user: User, document_id: str) -> str:
    answer = await client.get(f"/documents/{document_id}/url", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


async def test_a_signed_link_serves_the_document_and_only_until_it_expires(
    client: httpx.AsyncClient, alice: User, clock: Any
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    url = await link(client, alice, doc["documentId"])
    got = await client.get(url)  # no bearer token: the link is the capability
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    for other in ("0" * 64, "%C3%A9" * 32):  # a wrong one; one with non-ASCII characters
        assert_problem(await client.get(url.replace(signature, other)), 404, "DOCUMENT_NOT_FOUND")
    clock.advance(seconds=301)
    assert_problem(await client.get(url), 410, "DOCUMENT_LINK_EXPIRED")


async def test_a_tampered_stored_file_fails_its_check_when_read(
    client: httpx.AsyncClient, alice: User, store_dir: Path, db: Database, tenant: str, app: Any
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    [blob] = blobs(store_dir)
    url = await link(client, alice, doc["documentId"])
    original = blob.read_bytes()
    flipped = bytearray(original)
    flipped[30] ^= 1
    blob.write_bytes(bytes(flipped))
    assert_problem(await client.get(url), 409, "DOCUMENT_INTEGRITY_FAILED")

    # A blob that is a valid seal under the document's own key, of other bytes, passes the
    # address and the seal once both are recomputed: the fileHash still catches it.
    vault: Vault = app.state.kyc
    async with db.tenant(tenant) as s:
        row = await s.get(KYCDocument, doc["documentId"])
        assert row is not None and row.encryption_key is not None
        bound = binding(tenant, row.document_id)
        key = vault.keys.unwrap(row.encryption_key, binding=bound)
        sealer = Sealer(key, binding=bound)
        forged = sealer.header() + sealer.update(PDF + b"%forged\n") + sealer.finish()
        writer = vault.store.writer()
        writer.write(forged)
        row.storage_url = writer.commit()
    assert_problem(await client.get(url), 409, "DOCUMENT_INTEGRITY_FAILED")
    blob.write_bytes(original)


async def test_eicar_is_never_served_and_blocks_approval(
    client: httpx.AsyncClient, alice: User, admin: User
) -> None:
    infected = PDF + EICAR + b"\n"
    [doc] = await uploaded(client, alice, ("eicar.pdf", infected, "application/pdf"))
    assert doc["virusScanStatus"] == "infected"
    refused = await client.get(f"/documents/{doc['documentId']}/url", headers=alice.headers)
    assert_problem(refused, 409, "DOCUMENT_INFECTED")
    assert_problem(
        await client.post(f"/users/{alice.id}/kyc", headers=alice.headers), 409, "DOCUMENT_INFECTED"
    )
    # Deleted, it leaves room for a clean document, and the verification can go on.
    assert (
        await client.delete(f"/documents/{doc['documentId']}", headers=alice.headers)
    ).status_code == 204
    [clean] = await uploaded(client, alice, ("b.pdf", PDF, "application/pdf"))
    submitted = await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)
    assert submitted.status_code == 200, submitted.text
    got = await client.get(f"/admin/kyc/{submitted.json()['kycId']}", headers=admin.headers)
    assert [d["documentId"] for d in got.json()["documents"]] == [clean["documentId"]]


async def test_a_document_found_infected_after_submission_blocks_approval(
    client: httpx.AsyncClient, alice: User, admin: User, db: Database, tenant: str
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    kyc_id = (await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)).json()["kycId"]
    issued = await link(client, alice, doc["documentId"])  # while it was thought clean
    async with db.tenant(tenant) as s:
        row = await s.get(KYCDocument, doc["documentId"])
        assert row is not None
        row.virus_scan_status = ScanStatus.INFECTED
    assert_problem(await client.get(issued), 409, "DOCUMENT_INFECTED")  # checked on download
    url = await client.get(f"/documents/{doc['documentId']}/url", headers=alice.headers)
    assert_problem(url, 409, "DOCUMENT_INFECTED")
    answer = await client.post(f"/admin/kyc/{kyc_id}/approve", headers=admin.headers)
    assert_problem(answer, 409, "DOCUMENT_INFECTED")
    kyc = await client.get(f"/users/{alice.id}/kyc", headers=alice.headers)
    assert kyc.json()["status"] == "PENDING"


class Unreachable:
    name = "down"

    async def scan(self, chunks: Any) -> Verdict:
        from gxcore.errors import ScannerUnavailable

        raise ScannerUnavailable("no scanner")


async def test_a_document_stays_pending_until_a_scanner_answers(
    client: httpx.AsyncClient, alice: User, admin: User, app: Any, db: Database, tenant: str
) -> None:
    vault: Vault = app.state.kyc
    app.state.kyc = Vault(**{**vault.__dict__, "scanner": Unreachable()})
    [doc] = await uploaded(client, alice, ("a.pdf", PDF + EICAR, "application/pdf"))
    assert doc["virusScanStatus"] == "pending"
    refused = await client.get(f"/documents/{doc['documentId']}/url", headers=alice.headers)
    assert_problem(refused, 409, "DOCUMENT_UNAVAILABLE")
    app.state.kyc = vault
    counts = await scan_pending(db, vault, now=datetime.now(UTC), batch=1000)
    assert counts.get("infected", 0) >= 1
    async with db.tenant(tenant) as s:
        row = await s.get(KYCDocument, doc["documentId"])
        assert row is not None and row.virus_scan_status == ScanStatus.INFECTED


# --------------------------------------------------------------------------------------------
# Review and expiry
# --------------------------------------------------------------------------------------------


async def test_review_approves_a_submitted_verification_tells_the_user_and_audits(
    client: httpx.AsyncClient, alice: User, admin: User, db: Database, tenant: str
) -> None:
    await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    early = await client.get(f"/users/{alice.id}/kyc", headers=alice.headers)
    kyc_id = early.json()["kycId"]
    assert_problem(
        await client.post(f"/admin/kyc/{kyc_id}/approve", headers=admin.headers),
        409,
        "KYC_NOT_READY",
    )
    submitted = await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)
    assert submitted.json()["submitted"] is True and submitted.json()["evidenceHash"]
    more = await upload(client, alice, ("b.pdf", PDF, "application/pdf"))
    assert more.status_code == 201 and more.json()[0]["kycId"] != kyc_id  # a new verification
    queue = await client.get("/admin/kyc?status=PENDING&submitted=true", headers=admin.headers)
    assert [k["kycId"] for k in queue.json()["items"]] == [kyc_id]
    approved = await client.post(f"/admin/kyc/{kyc_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "APPROVED" and approved.json()["reviewedBy"] == admin.id
    again = await client.post(f"/admin/kyc/{kyc_id}/reject", headers=admin.headers,
                              json={"reason": "late"})  # fmt: skip
    assert_problem(again, 409, "INVALID_TRANSITION")
    logged = await events(db, tenant, AuditEventType.KYC_SUBMITTED, AuditEventType.KYC_APPROVED)
    assert [e.event_type for e in logged] == [
        AuditEventType.KYC_SUBMITTED,
        AuditEventType.KYC_APPROVED,
    ]
    async with db.tenant(tenant) as s:
        notes = (
            await s.scalars(
                select(Notification).where(
                    Notification.recipient_id == alice.id,
                    Notification.type == NotificationType.KYC_STATUS_UPDATE,
                )
            )
        ).all()
    assert [n.action_resource_id for n in notes] == [kyc_id]


async def test_approving_a_national_id_puts_its_number_on_the_profile(
    client: httpx.AsyncClient, alice: User, admin: User, db: Database, tenant: str
) -> None:
    async def profile_number() -> str:
        async with db.tenant(tenant) as s:
            profile = await s.get(UserProfile, alice.id)
            assert profile is not None
            return profile.national_id_number

    assert await profile_number() == national_id_placeholder(alice.id)
    await uploaded(
        client, alice, ("id.pdf", PDF, "application/pdf"),
        documentType="NATIONAL_ID", issuingCountry="ZA", documentNumber="800101 5009 087",
    )  # fmt: skip
    kyc_id = (await client.get(f"/users/{alice.id}/kyc", headers=alice.headers)).json()["kycId"]
    await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)
    assert await profile_number() == national_id_placeholder(alice.id)  # not before approval
    approved = await client.post(f"/admin/kyc/{kyc_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert await profile_number() == "8001015009087"


async def test_rejection_keeps_its_reason_for_the_user(
    client: httpx.AsyncClient, alice: User, admin: User, db: Database, tenant: str
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    kyc_id = (await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)).json()["kycId"]
    rejected = await client.post(
        f"/admin/kyc/{kyc_id}/reject", headers=admin.headers, json={"reason": "blurred photo"}
    )
    assert rejected.json()["status"] == "REJECTED"
    mine = await client.get(f"/users/{alice.id}/kyc", headers=alice.headers)
    assert mine.json()["reason"] == "blurred photo"
    assert [e.event_type for e in await events(db, tenant, AuditEventType.KYC_REJECTED)] == [
        AuditEventType.KYC_REJECTED
    ]
    locked = await client.delete(f"/documents/{doc['documentId']}", headers=alice.headers)
    assert_problem(locked, 409, "DOCUMENT_LOCKED")


async def test_the_expiry_job_moves_approved_verifications_with_expired_documents(
    client: httpx.AsyncClient, alice: User, admin: User, db: Database, tenant: str
) -> None:
    soon = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"), expiryDate=soon)
    kyc_id = (await client.post(f"/users/{alice.id}/kyc", headers=alice.headers)).json()["kycId"]
    ok = await client.post(f"/admin/kyc/{kyc_id}/approve", headers=admin.headers)
    assert ok.status_code == 200, ok.text
    await expire_due(db, now=datetime.now(UTC), batch=10)
    async with db.tenant(tenant) as s:
        assert (await s.get(KYCVerification, kyc_id)).status is KycStatus.APPROVED  # type: ignore[union-attr]
    later = datetime.now(UTC) + timedelta(days=3)
    assert await expire_due(db, now=later, batch=1) >= 1
    async with db.tenant(tenant) as s:
        kyc = await s.get(KYCVerification, kyc_id)
        assert kyc is not None and kyc.status is KycStatus.EXPIRED
        told = await s.scalar(
            select(func.count()).where(
                Notification.recipient_id == alice.id,
                Notification.title == "Identity verification expired",
            )
        )
    assert told == 1


# --------------------------------------------------------------------------------------------
# National ids
# --------------------------------------------------------------------------------------------


async def test_national_ids_are_checked_per_country_and_unique_per_tenant(
    client: httpx.AsyncClient, alice: User, db: Database, tenant: str
) -> None:
    def check(user: User, country: str, number: str) -> Any:
        return client.post(
            "/validation/national-id",
            headers=user.headers,
            json={"countryCode": country, "idNumber": number},
        )

    bad = (await check(alice, "ZA", "8001015009088")).json()  # Luhn fails
    assert bad["valid"] is False and "ZA" in bad["reason"]
    good = (await check(alice, "ZA", "8001015009087")).json()
    assert good == good | {"valid": True, "available": True, "idNumber": "8001015009087"}
    assert (await check(alice, "GB", "qq 12 34 56 c")).json()["idNumber"] == "QQ123456C"
    await uploaded(
        client, alice, ("id.pdf", PDF, "application/pdf"),
        documentType="NATIONAL_ID", issuingCountry="ZA", documentNumber="800101 5009 087",
    )  # fmt: skip
    assert (await check(alice, "ZA", "8001015009087")).json()["available"] is True  # hers
    bob = await sign_up(client, db, tenant)
    assert (await check(bob, "ZA", "8001015009087")).json()["available"] is False
    taken = await upload(
        client, bob, ("id.pdf", PDF, "application/pdf"),
        documentType="NATIONAL_ID", issuingCountry="ZA", documentNumber="8001015009087",
    )  # fmt: skip
    assert_problem(taken, 409, "NATIONAL_ID_IN_USE")
    # Two other users racing for one new number: exactly one gets it.
    carol, dave = await sign_up(client, db, tenant), await sign_up(client, db, tenant)
    same = {"documentType": "NATIONAL_ID", "issuingCountry": "NG", "documentNumber": "12345678901"}
    pdf = ("id.pdf", PDF, "application/pdf")
    raced = await asyncio.gather(*(upload(client, u, pdf, **same) for u in (carol, dave)))
    assert sorted(a.status_code for a in raced) == [201, 409]
    # Another tenant's users do not see this tenant's numbers.
    other = await register_tenant(db, f"{tenant}-n")
    async with _client(client._transport.app, other) as elsewhere:  # type: ignore[attr-defined]
        carol = await sign_up(elsewhere, db, other)
        answer = await elsewhere.post(
            "/validation/national-id",
            headers=carol.headers,
            json={"countryCode": "ZA", "idNumber": "8001015009087"},
        )
    assert answer.json()["available"] is True


# --------------------------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------------------------


async def test_another_tenants_and_another_users_documents_are_invisible(
    client: httpx.AsyncClient, alice: User, admin: User, app: Any, db: Database, tenant: str
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    kyc_id = doc["kycId"]
    url = await link(client, alice, doc["documentId"])
    # Same tenant, another user.
    bob = await sign_up(client, db, tenant)
    for method, path in [
        ("GET", f"/users/{alice.id}/kyc"),
        ("POST", f"/users/{alice.id}/kyc"),
        ("GET", f"/users/{alice.id}/documents"),
        ("GET", f"/documents/{doc['documentId']}/url"),
        ("DELETE", f"/documents/{doc['documentId']}"),
    ]:
        answer = await client.request(method, path, headers=bob.headers)
        assert answer.status_code == 404, (method, path, answer.text)
    # Another tenant, even its administrator.
    other = await register_tenant(db, f"{tenant}-x")
    async with _client(app, other) as elsewhere:
        boss = await sign_up(elsewhere, db, other, role="ADMIN")
        for method, path in [
            ("GET", f"/users/{alice.id}/kyc"),
            ("GET", f"/users/{alice.id}/documents"),
            ("GET", f"/documents/{doc['documentId']}/url"),
            ("DELETE", f"/documents/{doc['documentId']}"),
            ("GET", f"/admin/kyc/{kyc_id}"),
            ("POST", f"/admin/kyc/{kyc_id}/approve"),
        ]:
            answer = await elsewhere.request(method, path, headers=boss.headers)
            assert answer.status_code == 404, (method, path, answer.text)
        listed = await elsewhere.get("/admin/kyc", headers=boss.headers)
        assert listed.json()["items"] == []
        # The victim's link with the tenant swapped is a forged link.
        swapped = url.replace(f"tenant={tenant}", f"tenant={other}")
        assert_problem(await elsewhere.get(swapped), 404, "DOCUMENT_NOT_FOUND")
    # An administrator of the tenant sees it and may have a link; may not delete it.
    assert (
        await client.get(f"/documents/{doc['documentId']}/url", headers=admin.headers)
    ).status_code == 200
    assert (
        await client.delete(f"/documents/{doc['documentId']}", headers=admin.headers)
    ).status_code == 403
    assert (
        await client.delete(f"/documents/{doc['documentId']}", headers=alice.headers)
    ).status_code == 204
    assert await document_count(db, tenant) == 0


async def test_constraints_describe_what_an_upload_may_carry(client: httpx.AsyncClient) -> None:
    got = (await client.get("/documents/constraints")).json()
    assert got["maxBytes"] == CAP and got["maxDocuments"] == 3
    assert "application/pdf" in got["allowedTypes"] and "PASSPORT" in got["documentTypes"]


async def test_at_most_the_configured_number_of_files_per_upload(
    client: httpx.AsyncClient, alice: User, store_dir: Path
) -> None:
    files = [(f"{i}.pdf", PDF, "application/pdf") for i in range(4)]
    assert_problem(await upload(client, alice, *files), 422, "TOO_MANY_DOCUMENTS")
    assert blobs(store_dir) == []
    two = await uploaded(
        client, alice, ("a.pdf", PDF, "application/pdf"), ("b.png", PNG, "image/png"),
        documentType=["PASSPORT", "SELFIE_PHOTO"],
    )  # fmt: skip
    assert [d["documentType"] for d in two] == ["PASSPORT", "SELFIE_PHOTO"]
    assert len(blobs(store_dir)) == 2


async def test_only_files_no_document_names_are_removed_as_orphans(
    client: httpx.AsyncClient, alice: User, app: Any, db: Database, store_dir: Path
) -> None:
    [doc] = await uploaded(client, alice, ("a.pdf", PDF, "application/pdf"))
    vault: Vault = app.state.kyc
    orphan = vault.store.writer()
    orphan.write(b"sealed bytes of an upload whose transaction never committed")
    orphan_address = orphan.commit()
    abandoned = vault.store.writer()
    abandoned.write(b"half an upload")
    young = vault.store.writer()
    young.write(b"another, in flight")
    young_address = young.commit()
    old = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    for path in store_dir.rglob("*"):
        if path.is_file() and young_address.removeprefix("sha256:") != path.name:
            os.utime(path, (old, old))
    before = datetime.now(UTC) - timedelta(days=1)
    assert await remove_orphans(db, vault, before=before) == 2  # the orphan, the half upload
    left = {p.name for p in blobs(store_dir)}
    assert orphan_address.removeprefix("sha256:") not in left
    assert young_address.removeprefix("sha256:") in left  # too young to judge
    got = await client.get(await link(client, alice, doc["documentId"]))
    assert got.status_code == 200 and got.content == PDF  # the document's own file is kept
    abandoned.discard()


# --------------------------------------------------------------------------------------------
# The jobs, as commands
# --------------------------------------------------------------------------------------------


async def test_gx_jobs_kyc_expiry_and_kyc_scan_run_across_tenants(
    scratch_url: str, tmp_path: Path
) -> None:
    database = Database.connect(scratch_url, role_key=ROLE_KEY)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    try:
        tenant = await register_tenant(database, "t-kyc-jobs")
        user = await make_user(
            database, tenant, status=UserProfileStatus.ACTIVE, nationality_country_code=None
        )
        async with database.tenant(tenant) as s:
            kyc = KYCVerification(profile_id=user.profile_id, status=KycStatus.APPROVED)
            s.add(kyc)
            await s.flush()
            s.add(
                KYCDocument(
                    kyc_id=kyc.kyc_id,
                    document_type="PASSPORT",
                    storage_url="sha256:" + "0" * 64,
                    file_hash="0" * 64,
                    file_size=1,
                    mime_type="application/pdf",
                    virus_scan_status=ScanStatus.CLEAN,
                    expiry_date=yesterday,
                )
            )
        proc = gx("jobs", "kyc-expiry", DATABASE_URL=scratch_url)
        assert proc.returncode == 0, proc.stderr
        assert "expired 1 verification" in proc.stdout
        async with database.tenant(tenant) as s:
            found = await s.get(KYCVerification, kyc.kyc_id)
            assert found is not None and found.status is KycStatus.EXPIRED
        again = gx("jobs", "kyc-expiry", DATABASE_URL=scratch_url)
        assert "expired 0 verification" in again.stdout
        scan = gx("jobs", "kyc-scan", "--data-dir", str(tmp_path), DATABASE_URL=scratch_url)
        assert scan.returncode == 0, scan.stderr
        assert "nothing pending" in scan.stdout
        orphans = gx("jobs", "kyc-orphans", "--data-dir", str(tmp_path), DATABASE_URL=scratch_url)
        assert orphans.returncode == 0, orphans.stderr
        assert "removed 0 orphaned file(s)" in orphans.stdout
    finally:
        await database.dispose()
