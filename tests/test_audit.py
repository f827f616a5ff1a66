"""The audit log: every row change of a tenant session is chained, and tampering is found.

Pure tests of the chain come first; then the log written through real sessions, tampering
with a private database (`scratch_url`), `gx audit verify`, concurrency, and the migration.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from gxcore.audit import chain
from gxcore.audit.chain import HASHED_FIELDS, Problem, Verdict, entry_hash, verify
from gxcore.audit.linker import link
from gxcore.audit.models import AuditLog
from gxcore.audit.service import (
    REDACTED,
    insert_on_commit,
    record,
    record_flush,
    redact,
    verify_chain,
)
from gxcore.db import migrate, server
from gxcore.db.engine import create_engine
from gxcore.db.scope import SCOPE_KEY, RequestMeta, Scope
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType as Event
from gxcore.errors import NaiveDatetime, TenantScopeRequired
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Wallet
from tests.conftest import ROLE_KEY

ACTOR = "actor-profile-1"
REQUEST = RequestMeta(
    ip_address="203.0.113.7", user_agent="pytest/1.0", device_id="dev-1", session_id="sess-1"
)
T0 = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The chain, without a database
# --------------------------------------------------------------------------------------------


def _fields(seq: int, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict.fromkeys(HASHED_FIELDS)
    fields.update(
        auditId=f"audit-{seq}",
        tenantId="acme",
        chainSeq=seq,
        eventType=Event.RECORD_CREATED,
        newValue={"n": seq, "amount": "1.500000000"},
        timestamp=T0 + timedelta(milliseconds=seq),
    )
    return {**fields, **changes}


def _chain(n: int) -> list[dict[str, Any]]:
    entries, previous = [], None
    for seq in range(1, n + 1):
        fields = _fields(seq)
        fields["previousHash"], fields["eventHash"] = previous, entry_hash(fields, previous)
        previous = fields["eventHash"]
        entries.append(fields)
    return entries


def test_an_intact_chain_verifies() -> None:
    assert verify(_chain(5)) == Verdict(5)
    assert verify([]) == Verdict(0)
    assert str(verify(_chain(3))) == "ok: 3 entries"


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_every_hashed_field_changes_the_hash(field: str) -> None:
    fields = _fields(1)
    altered = {**fields, field: "something else" if fields[field] != "something else" else "x"}
    if field == "timestamp":
        altered[field] = T0 + timedelta(milliseconds=7)
    assert entry_hash(fields, None) != entry_hash(altered, None)
    assert entry_hash(fields, None) != entry_hash(fields, "0" * 64)


def test_the_hash_is_of_what_timestamptz3_stores() -> None:
    moment = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    assert chain.truncate_ms(moment).microsecond == 123000
    assert chain.iso_ms(moment) == "2026-11-25T12:00:00.123Z"
    lagos = moment.astimezone(timezone(timedelta(hours=1)))
    assert entry_hash(_fields(1, timestamp=lagos), None) == entry_hash(
        _fields(1, timestamp=chain.truncate_ms(moment)), None
    )
    with pytest.raises(NaiveDatetime):
        entry_hash(_fields(1, timestamp=datetime(2026, 1, 1)), None)


def test_canonical_form_is_compact_sorted_json() -> None:
    raw = chain.canonical(_fields(1, newValue={"b": Decimal("1.50"), "a": [True, None]}), None)
    document = json.loads(raw)
    assert list(document) == sorted(document) and b" " not in raw
    assert document["newValue"] == {"a": [True, None], "b": "1.50"}
    assert document["timestamp"] == "2026-11-25T12:00:00.124Z"
    assert document["eventType"] == "RECORD_CREATED" and document["previousHash"] is None


@pytest.mark.parametrize(
    ("written", "read_back"),
    [(100, 100.0), (1e20, 10**20), (1.5e300, 15 * 10**299), (-0.0, 0), (0.1, 0.1)],
)
def test_numbers_hash_by_value_as_jsonb_returns_them(written: Any, read_back: Any) -> None:
    assert entry_hash(_fields(1, newValue={"n": written}), None) == entry_hash(
        _fields(1, newValue={"n": read_back}), None
    )
    assert entry_hash(_fields(1, newValue={"n": 1}), None) != entry_hash(
        _fields(1, newValue={"n": "1"}), None
    )


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text() | st.none(), max_size=8))
def test_key_order_never_changes_the_hash(values: dict[str, Any]) -> None:
    reordered = dict(reversed(list(values.items())))
    assert entry_hash(_fields(1, metadata=values), None) == entry_hash(
        _fields(1, metadata=reordered), None
    )


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_an_integral_float_hashes_like_its_integer(n: int) -> None:
    assert entry_hash(_fields(1, newValue={"n": n}), None) == entry_hash(
        _fields(1, newValue={"n": float(n)}), None
    )


@given(st.integers(min_value=3, max_value=25), st.data())
def test_any_single_tampering_is_found_where_it_happened(n: int, data: st.DataObject) -> None:
    entries = _chain(n)
    k = data.draw(st.integers(min_value=1, max_value=n - 2))  # 0-based, not the last
    field = data.draw(st.sampled_from([f for f in HASHED_FIELDS if f != "chainSeq"]))

    altered = [dict(e) for e in entries]
    altered[k][field] = "forged" if altered[k][field] != "forged" else "forged!"
    if field == "timestamp":
        altered[k][field] = T0 - timedelta(days=1)
    assert (verify(altered).problem, verify(altered).chain_seq) == (Problem.ALTERED, k + 1)

    removed = entries[:k] + entries[k + 1 :]
    verdict = verify(removed)
    assert (verdict.problem, verdict.chain_seq) == (Problem.REMOVED, k + 2)
    assert f"chainSeq {k + 1} missing" in verdict.detail

    swapped = [dict(e) for e in entries]
    swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
    swapped[k]["chainSeq"], swapped[k + 1]["chainSeq"] = k + 1, k + 2
    verdict = verify(swapped)
    assert (verdict.problem, verdict.chain_seq) == (Problem.OUT_OF_ORDER, k + 1)
    assert verdict.audit_id == entries[k + 1]["auditId"]


def test_a_removed_first_entry_and_a_repeated_seq_are_found() -> None:
    entries = _chain(4)
    verdict = verify(entries[1:])
    assert (verdict.problem, verdict.chain_seq) == (Problem.REMOVED, 2)
    assert "chainSeq 1 missing" in verdict.detail
    verdict = verify([*entries[:2], {**entries[1], "auditId": "copy"}, *entries[2:]])
    assert (verdict.problem, verdict.audit_id) == (Problem.OUT_OF_ORDER, "copy")
    verdict = verify([{**entries[0], "previousHash": "f" * 64}])
    assert (verdict.problem, verdict.chain_seq) == (Problem.OUT_OF_ORDER, 1)
    assert str(verdict).startswith("BROKEN at chainSeq 1 (auditId audit-1): ")


def test_secrets_are_redacted_and_nothing_else() -> None:
    secrets = [
        "passwordHash",
        "emailOtpHash",
        "phoneOtpHash",
        "refreshToken",
        "refreshTokenHash",
        "clientSecretHash",
        "encryptionKey",
        "biometricHash",
        "token",
        "apiKey",
        "webhookSecret",
    ]
    kept = ["tokenId", "emailOtpAttempts", "emailOtpExpiresAt", "documentHash", "firstName"]
    values = {name: "value" for name in [*secrets, *kept]}
    out = redact({**values, "nested": {"privateKey": "k", "note": "n"}, "otpCode": None})
    assert {k for k, v in out.items() if v == REDACTED} == set(secrets)
    assert out["nested"] == {"privateKey": REDACTED, "note": "n"}
    assert out["otpCode"] is None  # there being no secret is not a secret
    assert values["passwordHash"] == "value"  # the caller's dict is left alone


# --------------------------------------------------------------------------------------------
# Sessions that audit their flushes (the tenancy module wires this into tenant sessions)
# --------------------------------------------------------------------------------------------


def _on_flush(session: Session, flush_context: object) -> None:
    record_flush(session)


def audited(session: AsyncSession) -> AsyncSession:
    """`session` auditing its flushes as a guarded session does: entries made by each flush,
    inserted as it commits."""
    event.listen(session.sync_session, "after_flush", _on_flush)
    insert_on_commit(session.sync_session)
    return session


def audited_session(engine: AsyncEngine, tenant: str) -> AsyncSession:
    session = AsyncSession(engine, expire_on_commit=False)
    session.sync_session.info[SCOPE_KEY] = Scope.for_tenant(
        tenant, actor_profile_id=ACTOR, request=REQUEST
    )
    return audited(session)


def new_profile(tenant: str, **values: Any) -> UserProfile:
    tag = uuid.uuid4().hex[:10]
    defaults = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{tag}@example.org",
        "biometric_hash": f"bio-{tag}",
        "password_hash": "argon2id$secret",
    }
    return UserProfile(tenant_id=tenant, **{**defaults, **values})


async def linked(engine: AsyncEngine, tenant: str | None = None, batch_size: int = 1000) -> int:
    """Run the linker once, as `gx api` does every second, and commit."""
    async with AsyncSession(engine) as session, session.begin():
        return await link(session, tenant, batch_size=batch_size)


async def entries_of(engine: AsyncEngine, tenant: str) -> list[AuditLog]:
    """The tenant's entries, linked first, in chain order."""
    await linked(engine, tenant)
    async with AsyncSession(engine) as session:
        stmt = select(AuditLog).where(AuditLog.tenant_id == tenant).order_by(AuditLog.chain_seq)
        return list((await session.scalars(stmt)).all())


async def verdict_of(engine: AsyncEngine, tenant: str) -> Verdict:
    await linked(engine, tenant, batch_size=3)  # several batches
    async with AsyncSession(engine) as session:
        (result,) = await verify_chain(session, tenant, batch_size=4)  # several batches
    assert result.unlinked == 0
    return result.verdict


async def test_inserts_updates_and_deletes_are_chained_with_who_and_what(
    engine: AsyncEngine, tenant: str
) -> None:
    async with audited_session(engine, tenant) as session:
        profile = new_profile(tenant)
        session.add(profile)
        await session.flush()
        wallet = Wallet(
            tenant_id=tenant,
            profile_id=profile.profile_id,
            primary_account_id="acc-1",
            wallet_name="Main",
        )
        session.add(wallet)
        await session.commit()
        profile.first_name, profile.password_hash = "Augusta", "argon2id$other"
        wallet.wallet_name = "Savings"
        await session.commit()
        await session.delete(wallet)
        await session.commit()

    log = await entries_of(engine, tenant)
    assert [e.chain_seq for e in log] == [1, 2, 3, 4, 5]
    assert [e.previous_hash for e in log] == [None, *(e.event_hash for e in log[:-1])]
    registered, created, *updates, deleted = log
    assert registered.event_type == Event.USER_REGISTERED
    assert (registered.resource_type, registered.resource_id) == ("UserProfile", profile.profile_id)
    assert registered.previous_value is None
    new = registered.new_value
    assert new["firstName"] == "Ada" and new["status"] == "REGISTERED"  # server default included
    assert new["passwordHash"] == new["biometricHash"] == REDACTED
    assert new["createdAt"].endswith("Z") and new["middleName"] is None

    assert created.event_type == Event.WALLET_CREATED and created.resource_id == wallet.wallet_id
    assert created.new_value["cachedBalance"] == "0.000000000"
    assert created.target_profile_id == profile.profile_id

    by_type = {e.resource_type: e for e in updates}
    assert by_type["UserProfile"].event_type == Event.PASSWORD_CHANGED
    assert by_type["UserProfile"].previous_value == {"firstName": "Ada", "passwordHash": REDACTED}
    assert by_type["UserProfile"].new_value == {"firstName": "Augusta", "passwordHash": REDACTED}
    assert by_type["Wallet"].event_type == Event.RECORD_UPDATED
    assert (by_type["Wallet"].previous_value, by_type["Wallet"].new_value) == (
        {"walletName": "Main"},
        {"walletName": "Savings"},
    )

    assert deleted.event_type == Event.RECORD_DELETED and deleted.new_value is None
    assert deleted.previous_value["walletName"] == "Savings"
    for entry in log:
        assert entry.actor_profile_id == ACTOR
        assert (entry.ip_address, entry.user_agent, entry.device_id, entry.session_id) == (
            "203.0.113.7",
            "pytest/1.0",
            "dev-1",
            "sess-1",
        )
    assert await verdict_of(engine, tenant) == Verdict(5)


async def test_absent_values_are_sql_null_not_json_null(engine: AsyncEngine, tenant: str) -> None:
    async with audited_session(engine, tenant) as session:
        session.add(new_profile(tenant))
        await session.commit()
    async with AsyncSession(engine) as session:
        nulls = await session.scalar(
            text(
                'SELECT count(*) FROM "AuditLog" WHERE "tenantId" = :t '
                'AND "previousValue" IS NULL AND "metadata" IS NULL'
            ),
            {"t": tenant},
        )
    assert nulls == 1


async def test_a_rolled_back_change_leaves_no_entry(engine: AsyncEngine, tenant: str) -> None:
    async with audited_session(engine, tenant) as session:
        session.add(new_profile(tenant))
        await session.flush()
        await session.rollback()
    assert await entries_of(engine, tenant) == []
    async with audited_session(engine, tenant) as session:
        session.add(new_profile(tenant))
        await session.commit()
    assert [e.chain_seq for e in await entries_of(engine, tenant)] == [1]


async def test_a_savepoint_rolled_back_takes_its_entries_with_it(
    engine: AsyncEngine, tenant: str
) -> None:
    async with audited_session(engine, tenant) as session:
        kept = new_profile(tenant, first_name="Kept")
        session.add(kept)
        await session.flush()
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                session.add(new_profile(tenant, first_name="Undone"))
                await session.flush()
                raise RuntimeError("changed its mind")
        async with session.begin_nested():  # released: its entry stays
            session.add(new_profile(tenant, first_name="Nested"))
        await session.commit()
    entries = await entries_of(engine, tenant)
    assert [e.new_value["firstName"] for e in entries] == ["Kept", "Nested"]
    assert await verdict_of(engine, tenant) == Verdict(2)


async def test_a_session_that_would_not_insert_its_entries_may_not_make_any(
    engine: AsyncEngine, tenant: str
) -> None:
    async with AsyncSession(engine) as session:  # scoped, but nothing inserts entries on commit
        session.sync_session.info[SCOPE_KEY] = Scope.for_tenant(tenant, actor_profile_id=ACTOR)
        with pytest.raises(TenantScopeRequired):
            await record(session, event_type=Event.USER_LOGOUT)
    assert await entries_of(engine, tenant) == []


async def test_unchanged_values_and_unscoped_sessions_write_nothing(
    engine: AsyncEngine, tenant: str
) -> None:
    async with audited_session(engine, tenant) as session:
        profile = new_profile(tenant)
        session.add(profile)
        await session.commit()
        profile.first_name = "Ada"  # the value it already has
        await session.commit()
    async with audited(AsyncSession(engine)) as session:
        session.add(new_profile(tenant))  # no scope at all
        await session.commit()
    async with audited(AsyncSession(engine)) as session:
        session.sync_session.info[SCOPE_KEY] = Scope.for_system("test: logged elsewhere")
        session.add(new_profile(tenant))
        await session.commit()
    assert len(await entries_of(engine, tenant)) == 1


async def test_explicit_events_join_the_chain_after_pending_changes(
    engine: AsyncEngine, tenant: str
) -> None:
    async with audited_session(engine, tenant) as session:
        profile = new_profile(tenant)
        session.add(profile)
        await record(
            session,
            event_type=Event.USER_LOGIN,
            target_profile_id=profile.profile_id,
            metadata={"method": "password", "refreshToken": "rt-123", "at": T0},
        )
        await session.commit()
    registered, login = await entries_of(engine, tenant)
    assert (registered.event_type, login.event_type) == (Event.USER_REGISTERED, Event.USER_LOGIN)
    assert login.meta == {"method": "password", "refreshToken": REDACTED, "at": chain.iso_ms(T0)}
    assert login.actor_profile_id == ACTOR and login.ip_address == REQUEST.ip_address
    assert await verdict_of(engine, tenant) == Verdict(2)
    async with AsyncSession(engine) as session:
        with pytest.raises(TenantScopeRequired):
            await record(session, event_type=Event.USER_LOGOUT)


async def test_a_real_tenant_session_is_audited_under_row_level_security(
    db: Database, tenant: str
) -> None:
    async with db.tenant(tenant, actor_profile_id=ACTOR, request=REQUEST) as session:
        # The tenancy module may already register record_flush; never log a change twice.
        if not session.sync_session.dispatch.after_flush:
            event.listen(session.sync_session, "after_flush", _on_flush)
        profile = new_profile(tenant)
        session.add(profile)
        await session.flush()
        profile.last_name = "Byron"
    async with db.system(reason="test: verify the audit chain") as session:
        (before,) = await verify_chain(session, tenant)
        assert (before.verdict, before.unlinked) == (Verdict(0), 2)  # committed, not linked
        assert str(before) == f"{tenant}: ok: 0 entries (2 not linked yet)"
        assert await link(session) >= 2  # as gx_system, under row-level security
        (result,) = await verify_chain(session, tenant)
        log = (await session.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant))).all()
    assert (result.verdict, result.unlinked) == (Verdict(2), 0)
    assert {e.event_type for e in log} == {Event.USER_REGISTERED, Event.PROFILE_UPDATED}


# --------------------------------------------------------------------------------------------
# Tampering, found by verify_chain and by `gx audit verify`
# --------------------------------------------------------------------------------------------

TAMPERED, BYSTANDER = "acme", "globex"


def gx_audit(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "gxcore", "audit", "verify", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def chained(scratch_url: str) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A private database with five entries for TAMPERED and two for BYSTANDER."""
    engine = create_engine(scratch_url)
    try:
        for tenant, count in ((TAMPERED, 5), (BYSTANDER, 2)):
            async with audited_session(engine, tenant) as session:
                session.add_all([new_profile(tenant) for _ in range(count)])
                await session.commit()
        await linked(engine)
        names = [c.name for c in AuditLog.__table__.columns]
        async with AsyncSession(engine) as session:
            rows = await session.execute(
                select(*AuditLog.__table__.columns)
                .where(AuditLog.tenant_id == TAMPERED)
                .order_by(AuditLog.chain_seq)
            )
            entries = [dict(zip(names, row, strict=True)) for row in rows]
    finally:
        await engine.dispose()
    yield scratch_url, entries


async def _sql(url: str, *statements: str, args: tuple[Any, ...] = ()) -> None:
    """Run statements as a superuser, bypassing gxcore entirely (an attacker's view), with the
    triggers that keep linked entries final turned off."""
    async with server.connect(url) as conn:
        await conn.execute("SET session_replication_role = replica")
        for statement in statements:
            await conn.execute(statement, *args)


def _where(seq: int) -> str:
    return f'"tenantId" = \'{TAMPERED}\' AND "chainSeq" = {seq}'


async def _edit_new_value(url: str, e: list[dict[str, Any]]) -> tuple[Problem, int, str]:
    await _sql(
        url,
        f'UPDATE "AuditLog" SET "newValue" = jsonb_set("newValue", \'{{firstName}}\', '
        f"'\"Mallory\"') WHERE {_where(2)}",
    )
    return Problem.ALTERED, 2, e[1]["auditId"]


async def _delete_middle(url: str, e: list[dict[str, Any]]) -> tuple[Problem, int, str]:
    await _sql(url, f'DELETE FROM "AuditLog" WHERE {_where(3)}')
    return Problem.REMOVED, 4, e[3]["auditId"]


async def _swap_two(url: str, e: list[dict[str, Any]]) -> tuple[Problem, int, str]:
    # In three steps: the unique (tenantId, chainSeq) index is checked row by row.
    await _sql(
        url,
        f'UPDATE "AuditLog" SET "chainSeq" = -2 WHERE {_where(2)}',
        f'UPDATE "AuditLog" SET "chainSeq" = 2 WHERE {_where(3)}',
        f'UPDATE "AuditLog" SET "chainSeq" = 3 WHERE {_where(-2)}',
    )
    return Problem.OUT_OF_ORDER, 2, e[2]["auditId"]


async def _forge_at_the_end(url: str, e: list[dict[str, Any]]) -> tuple[Problem, int, str]:
    """A copy of entry 2 appended as entry 6: its link points back into the chain."""
    forged = {**e[1], "auditId": "forged", "chainSeq": 6}
    await _insert(url, forged)
    return Problem.OUT_OF_ORDER, 6, "forged"


async def _forge_in_the_middle(url: str, e: list[dict[str, Any]]) -> tuple[Problem, int, str]:
    """A correctly hashed entry inserted as entry 3, the later ones moved up one place."""
    await _sql(
        url,
        f'UPDATE "AuditLog" SET "chainSeq" = -"chainSeq" WHERE "tenantId" = \'{TAMPERED}\' '
        'AND "chainSeq" >= 3',
        f'UPDATE "AuditLog" SET "chainSeq" = 1 - "chainSeq" WHERE "tenantId" = \'{TAMPERED}\' '
        'AND "chainSeq" < 0',
    )
    forged = {**e[2], "auditId": "forged", "previousHash": e[1]["eventHash"]}
    forged["eventHash"] = entry_hash(forged, forged["previousHash"])
    await _insert(url, forged)
    # The forgery itself is consistent; the entry after it no longer links to it.
    return Problem.OUT_OF_ORDER, 4, e[2]["auditId"]


async def _insert(url: str, entry: Mapping[str, Any]) -> None:
    columns = ", ".join(f'"{name}"' for name in entry)
    placeholders = ", ".join(f"${i}" for i in range(1, len(entry) + 1))
    values = [json.dumps(v) if isinstance(v, dict) else v for v in entry.values()]
    await _sql(
        url, f'INSERT INTO "AuditLog" ({columns}) VALUES ({placeholders})', args=tuple(values)
    )


Tampering = Callable[[str, list[dict[str, Any]]], Any]


@pytest.mark.parametrize(
    "tamper",
    [_edit_new_value, _delete_middle, _swap_two, _forge_at_the_end, _forge_in_the_middle],
    ids=["edited", "deleted", "swapped", "forged-at-end", "forged-in-middle"],
)
async def test_tampering_is_found_and_named(
    chained: tuple[str, list[dict[str, Any]]], tamper: Tampering
) -> None:
    url, entries = chained
    problem, seq, audit_id = await tamper(url, entries)

    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as session:
            verdicts = {v.tenant_id: v.verdict for v in await verify_chain(session)}
    finally:
        await engine.dispose()
    broken = verdicts[TAMPERED]
    assert (broken.problem, broken.chain_seq, broken.audit_id) == (problem, seq, audit_id)
    if tamper is _forge_in_the_middle:
        assert "forged" in broken.detail  # the entry it should have linked to
    assert verdicts[BYSTANDER] == Verdict(2)

    proc = gx_audit(url)
    assert proc.returncode == 1, proc
    assert f"{TAMPERED}: BROKEN at chainSeq {seq} (auditId {audit_id})" in proc.stdout
    assert f"{BYSTANDER}: ok: 2 entries" in proc.stdout
    assert "1 of 2 audit chain(s) broken" in proc.stderr and "Traceback" not in proc.stderr


async def test_gx_audit_verify_passes_intact_chains(
    chained: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = chained
    proc = gx_audit(url)
    assert proc.returncode == 0, proc
    assert f"{TAMPERED}: ok: 5 entries" in proc.stdout
    assert "2 chain(s) intact, 7 entries" in proc.stdout
    proc = gx_audit(url, "--tenant", BYSTANDER)
    assert proc.returncode == 0 and TAMPERED not in proc.stdout, proc
    assert gx_audit(url, "--tenant", "no tenant!").returncode == 1


# --------------------------------------------------------------------------------------------
# Concurrent writers
# --------------------------------------------------------------------------------------------


async def _write(engine: AsyncEngine, tenant: str, transactions: int, rows: int) -> None:
    async with audited_session(engine, tenant) as session:
        for _ in range(transactions):
            session.add_all([new_profile(tenant) for _ in range(rows)])
            await session.flush()
            await asyncio.sleep(0)  # interleave with the other writers
            await session.commit()


async def test_concurrent_writers_of_one_tenant_form_one_chain(
    engine: AsyncEngine, tenant: str
) -> None:
    await asyncio.gather(*(_write(engine, tenant, transactions=3, rows=2) for _ in range(8)))
    assert [e.chain_seq for e in await entries_of(engine, tenant)] == list(range(1, 49))
    assert await verdict_of(engine, tenant) == Verdict(48)


async def test_writers_of_one_tenant_never_wait_for_each_other(
    engine: AsyncEngine, tenant: str
) -> None:
    other = f"{tenant}-other"
    async with audited_session(engine, tenant) as holder:
        holder.add(new_profile(tenant))
        await holder.flush()  # its entry is written, its transaction open
        # Another tenant's writer and a second writer of the same tenant both commit at once.
        await asyncio.wait_for(_write(engine, other, transactions=1, rows=1), timeout=10)
        await asyncio.wait_for(_write(engine, tenant, transactions=1, rows=1), timeout=10)
        await holder.commit()
    log = await entries_of(engine, tenant)
    assert [e.chain_seq for e in log] == [1, 2]
    assert await verdict_of(engine, tenant) == Verdict(2)
    assert await verdict_of(engine, other) == Verdict(1)


async def test_the_chain_follows_the_order_entries_are_found_committed(
    engine: AsyncEngine, tenant: str
) -> None:
    async with audited_session(engine, tenant) as early:
        first = new_profile(tenant)
        early.add(first)
        await early.flush()  # written first (the lower appendSeq), committed last
        await _write(engine, tenant, transactions=2, rows=1)
        assert await linked(engine, tenant) == 2  # the open transaction's entry is not seen
        await early.commit()
    log = await entries_of(engine, tenant)
    assert [e.chain_seq for e in log] == [1, 2, 3]
    assert log[-1].resource_id == first.profile_id and log[-1].previous_hash == log[1].event_hash
    assert await verdict_of(engine, tenant) == Verdict(3)


async def test_linkers_running_together_link_each_entry_once(
    engine: AsyncEngine, tenant: str
) -> None:
    await asyncio.gather(*(_write(engine, tenant, transactions=2, rows=5) for _ in range(4)))
    counts = await asyncio.gather(*(linked(engine, tenant, batch_size=7) for _ in range(4)))
    assert sum(counts) == 40
    assert await verdict_of(engine, tenant) == Verdict(40)


async def test_a_linked_entry_is_final_even_for_the_linker(db: Database, tenant: str) -> None:
    async with db.tenant(tenant, actor_profile_id=ACTOR) as session:
        session.add(new_profile(tenant))
    where = {"t": tenant}
    async with db.system(reason="test: rewrite an unlinked entry") as session:
        with pytest.raises(DBAPIError, match="permission denied"):  # not a link column
            await session.execute(
                text('UPDATE "AuditLog" SET "eventType" = \'USER_LOGIN\' WHERE "tenantId" = :t'),
                where,
            )
    async with db.system(reason="test: link") as session:
        assert await link(session, tenant) == 1
    async with db.system(reason="test: relink a linked entry") as session:
        with pytest.raises(DBAPIError, match="is linked"):
            await session.execute(
                text('UPDATE "AuditLog" SET "chainSeq" = 7 WHERE "tenantId" = :t'), where
            )
    async with db.system(reason="test: verify") as session:
        (result,) = await verify_chain(session, tenant)
    assert result.verdict == Verdict(1)


# --------------------------------------------------------------------------------------------
# The migration
# --------------------------------------------------------------------------------------------

TENANCY_REVISION = "c7a1e2d3f4b5"
AUDIT_CHAIN_REVISION = "d8b2f3e4a5c6"
BEFORE_LINKER = "a8b9c0d1e2f3"  # the revision before entries could wait unlinked


async def test_the_migration_numbers_existing_entries_and_guards_its_downgrade(
    empty_url: str,
) -> None:
    await migrate.upgrade(empty_url, TENANCY_REVISION, role_key=ROLE_KEY)
    legacy = [("a", 3), ("a", 1), ("b", 5), ("a", 2)]  # (tenant, second of the timestamp)
    async with server.connect(empty_url) as conn:
        for i, (tenant, second) in enumerate(legacy):
            await conn.execute(
                'INSERT INTO "AuditLog" ("auditId", "tenantId", "eventType", "eventHash", '
                "\"timestamp\") VALUES ($1, $2, 'USER_LOGIN', 'legacy', $3)",
                f"legacy-{i}",
                tenant,
                T0.replace(second=second),
            )
    await migrate.upgrade(empty_url, AUDIT_CHAIN_REVISION, role_key=ROLE_KEY)
    async with server.connect(empty_url) as conn:
        numbered = await conn.fetch(
            'SELECT "auditId", "tenantId", "chainSeq" FROM "AuditLog" ORDER BY 2, 3'
        )
        assert [tuple(r) for r in numbered] == [
            ("legacy-1", "a", 1),
            ("legacy-3", "a", 2),
            ("legacy-0", "a", 3),
            ("legacy-2", "b", 1),
        ]
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(
                'INSERT INTO "AuditLog" ("auditId", "tenantId", "eventType", "eventHash") '
                "VALUES ('x', 'a', 'USER_LOGIN', 'h')"
            )
        await conn.execute(
            'INSERT INTO "AuditLog" ("auditId", "tenantId", "eventType", "eventHash", '
            "\"chainSeq\") VALUES ('new', 'a', 'RECORD_CREATED', 'h', 4)"
        )

    with pytest.raises(DBAPIError, match="downgrading would destroy them"):
        await migrate.downgrade(empty_url, TENANCY_REVISION)
    async with server.connect(empty_url) as conn:
        await conn.execute('DELETE FROM "AuditLog" WHERE "eventType" = \'RECORD_CREATED\'')
    await migrate.downgrade(empty_url, TENANCY_REVISION)
    async with server.connect(empty_url) as conn:
        labels = await conn.fetchval(
            "SELECT array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum "
            "WHERE enumtypid = '\"AuditEventType\"'::regtype"
        )
        columns = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'AuditLog' "
            "AND column_name IN ('chainSeq', 'previousHash')"
        )
    assert labels[-1] == "DEVICE_UNTRUSTED" and "RECORD_CREATED" not in labels
    assert columns == 0
    await migrate.upgrade(empty_url, role_key=ROLE_KEY)
    assert (await migrate.status(empty_url)).up_to_date


async def test_a_tenant_write_with_no_audit_trail_registered_is_refused(
    db: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # db/ knows no feature: the audit trail registers itself, and its absence fails closed.
    from gxcore.db import tenancy

    monkeypatch.setattr(tenancy, "_flush_recorders", [])
    with pytest.raises(TenantScopeRequired, match="no audit trail"):
        async with db.tenant(tenant) as s:
            s.add(new_profile(tenant))
    monkeypatch.undo()
    async with db.system(reason="test") as s:
        count = await s.scalar(
            select(func.count()).select_from(UserProfile).where(UserProfile.tenant_id == tenant)
        )
    assert count == 0


async def test_entries_may_wait_unlinked_and_the_downgrade_waits_for_them(
    scratch_url: str, tenant: str
) -> None:
    engine = create_engine(scratch_url)
    try:
        async with audited_session(engine, tenant) as session:
            session.add(new_profile(tenant))
            await session.commit()
        with pytest.raises(DBAPIError, match="not linked yet"):
            await migrate.downgrade(scratch_url, BEFORE_LINKER)
        assert await linked(engine) == 1
        await migrate.downgrade(scratch_url, BEFORE_LINKER)
        async with server.connect(scratch_url) as conn:
            with pytest.raises(asyncpg.NotNullViolationError):  # every entry linked, as before
                await conn.execute(
                    'INSERT INTO "AuditLog" ("auditId", "tenantId", "eventType", "eventHash") '
                    "VALUES ('x', 'a', 'USER_LOGIN', 'h')"
                )
        await migrate.upgrade(scratch_url, role_key=ROLE_KEY)
        async with audited_session(engine, tenant) as session:
            session.add(new_profile(tenant))
            await session.commit()
        assert await verdict_of(engine, tenant) == Verdict(2)
    finally:
        await engine.dispose()
