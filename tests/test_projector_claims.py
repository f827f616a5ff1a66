"""Projector processes side by side: each tenant fed by one owner, refused at start otherwise.

Claims (`gxcore.cqrs.claims`) are taken on the shared test database for fresh tenants only;
each test releases what it claimed. The command-line test runs `gx projector run` on a private
database.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from gxcore.cqrs.claims import Claims
from gxcore.cqrs.models import ProjectorClaim
from gxcore.cqrs.projector import Projector
from gxcore.db.tenancy import Database
from gxcore.errors import ProjectorLeaseLost, ProjectorTenantOwned
from tests.factories import register_tenant
from tests.test_projector import D, Feed, balances, gx, logged, positions, story, users


@pytest.fixture
async def claims(db: Database) -> AsyncIterator[list[Claims]]:
    """Claims made by a test, released when it ends."""
    made: list[Claims] = []
    yield made
    for c in made:
        await c.release()


def owner(made: list[Claims], db: Database, name: str, **options: object) -> Claims:
    c = Claims(db, name, **options)  # type: ignore[arg-type]
    made.append(c)
    return c


async def other_tenant(db: Database) -> str:
    import uuid

    return await register_tenant(db, f"t-{uuid.uuid4().hex[:12]}")


async def holder(db: Database, tenant: str) -> tuple[str, str] | None:
    async with db.system(reason="test: read claims") as session:
        row = (
            await session.execute(
                select(ProjectorClaim.projector_name, ProjectorClaim.owner_id).where(
                    ProjectorClaim.tenant_id == tenant
                )
            )
        ).first()
    return (row[0], row[1]) if row else None


async def test_a_second_projector_for_an_owned_tenant_is_refused_at_start(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    free = await other_tenant(db)
    first = owner(claims, db, "group-a")
    await first.claim([tenant])

    # Another process of the same name, and one of another name: both refused, all or none.
    for name in ("group-a", "group-b"):
        second = owner(claims, db, name)
        with pytest.raises(ProjectorTenantOwned) as refused:
            await second.claim([free, tenant])
        assert refused.value.code == "PROJECTOR_TENANT_OWNED"
        assert tenant in str(refused.value) and first.owner_id in str(refused.value)
        assert second.held == set()
    assert await holder(db, tenant) == ("group-a", first.owner_id)
    assert await holder(db, free) is None  # nothing of the refused claim stuck

    third = owner(claims, db, "group-c")
    await third.claim([free])
    assert await holder(db, free) == ("group-c", third.owner_id)


async def test_two_processes_claiming_one_tenant_at_the_same_moment_get_it_once(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    rivals = [owner(claims, db, f"rival-{i}") for i in range(4)]
    results = await asyncio.gather(*(r.claim([tenant]) for r in rivals), return_exceptions=True)
    won = [r for r, result in zip(rivals, results, strict=True) if result is None]
    assert len(won) == 1, results
    assert all(isinstance(r, ProjectorTenantOwned) for r in results if r is not None)
    assert await holder(db, tenant) == (won[0].name, won[0].owner_id)


async def test_projectors_on_disjoint_tenant_groups_both_make_progress(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    feeds = [Feed(tenant), Feed(await other_tenant(db))]
    for feed in feeds:
        await users(db, feed, "a", "b")
        story(feed)
    runs = []
    for i, feed in enumerate(feeds):
        c = owner(claims, db, f"group-{i}")
        await c.claim([feed.tenant])
        p = Projector(db, feed, name=f"group-{i}", tenant_id=feed.tenant, claims=c, batch_size=3)
        runs.append(p.run(once=True))
    done = await asyncio.gather(*runs)
    for feed, progress in zip(feeds, done, strict=True):
        assert progress.applied == len(feed.events)
        assert await logged(db, feed.tenant) == positions(feed.events)
        assert await balances(db, feed.tenant) == {"a": D(464), "b": D(536)}


async def test_a_crashed_owners_claim_is_taken_over_after_its_lease_and_the_old_one_stops(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    crashed = owner(claims, db, "group-a", lease=1.0)
    await crashed.claim([tenant])
    successor = owner(claims, db, "group-a", lease=30.0)
    with pytest.raises(ProjectorTenantOwned):
        await successor.claim([tenant])  # the lease still runs

    await asyncio.sleep(1.2)  # no heartbeat: the lease expires
    await successor.claim([tenant])
    assert await holder(db, tenant) == ("group-a", successor.owner_id)

    # The old owner wakes up: it applies nothing and stops, and cannot renew.
    stale = Projector(db, feed, name="group-a", tenant_id=tenant, claims=crashed, retry_delay=0)
    with pytest.raises(ProjectorLeaseLost):
        await stale.run(once=True)
    with pytest.raises(ProjectorLeaseLost):
        await crashed.renew()
    assert await logged(db, tenant) == []

    live = Projector(db, feed, name="group-a", tenant_id=tenant, claims=successor)
    assert (await live.run(once=True)).applied == len(feed.events)
    await successor.renew()  # still its own


async def test_a_whole_ledger_projector_leaves_tenants_another_process_holds(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    held_elsewhere = await other_tenant(db)
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    story(feed)
    mine = list(feed.events)
    feed.tenant = held_elsewhere  # the same source carries the other tenant's events after
    await users(db, feed, "a", "b")
    story(feed)
    theirs = feed.events[len(mine) :]

    group = owner(claims, db, "group-x")
    await group.claim([held_elsewhere])
    name = f"whole-{tenant}"  # a name of its own: whole-ledger checkpoints span tenants
    whole = owner(claims, db, name, discover=True)
    progress = await Projector(db, feed, name=name, claims=whole).run(once=True)
    assert progress.applied == len(mine) and progress.skipped == len(theirs)
    assert await holder(db, tenant) == (name, whole.owner_id)  # met, free: claimed
    assert await logged(db, tenant) == positions(mine)
    assert await logged(db, held_elsewhere) == []

    by_group = Projector(db, feed, name="group-x", tenant_id=held_elsewhere, claims=group)
    assert (await by_group.run(once=True)).applied == len(theirs)
    assert await balances(db, held_elsewhere) == {"a": D(464), "b": D(536)}


async def test_gx_projector_run_is_refused_for_a_tenant_another_process_holds(
    scratch_url: str,
) -> None:
    from tests.conftest import ROLE_KEY

    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    try:
        tenant = await other_tenant(db)
        first = Claims(db, "group-a", lease=3600.0)  # the gx process may take long to start
        await first.claim([tenant])
        refused = await asyncio.to_thread(
            gx, "run", "--once", "--tenants", tenant, "--name", "group-b", database_url=scratch_url
        )
        assert refused.returncode == 1, refused
        assert "PROJECTOR_TENANT_OWNED" in refused.stderr and tenant in refused.stderr
        assert await holder(db, tenant) == ("group-a", first.owner_id)

        await first.release()
        ran = await asyncio.to_thread(
            gx, "run", "--once", "--tenants", tenant, "--name", "group-b", database_url=scratch_url
        )
        assert ran.returncode == 0, ran.stderr
        assert "projector 'group-b' (" in ran.stdout and "stopped" in ran.stdout
        assert await holder(db, tenant) is None  # released on a clean stop
    finally:
        await db.dispose()


async def test_a_whole_ledger_projector_takes_over_mid_run_only_tenants_of_its_own_name(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    gone = owner(claims, db, "group-y", lease=1.0)
    await gone.claim([tenant])
    await asyncio.sleep(1.2)  # its lease expired; its checkpoints are group-y's, not whole's

    name = f"whole-{tenant}"  # a name of its own: whole-ledger checkpoints span tenants
    whole = owner(claims, db, name, discover=True)
    progress = await Projector(db, feed, name=name, claims=whole).run(once=True)
    assert progress.applied == 0 and progress.skipped == len(feed.events)
    assert await holder(db, tenant) == ("group-y", gone.owner_id)

    restarted = owner(claims, db, "group-y")
    await restarted.claim([tenant])  # the same name takes it back at start
    by_group = Projector(db, feed, name="group-y", tenant_id=tenant, claims=restarted)
    assert (await by_group.run(once=True)).applied == len(feed.events)


async def test_a_crashed_process_of_this_host_is_taken_over_without_waiting_for_its_lease(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    ended = await asyncio.create_subprocess_exec("true")
    await ended.wait()  # its pid now names no process
    crashed = owner(
        claims, db, "group-a", lease=600.0, owner_id=f"{socket.gethostname()}:{ended.pid}:x"
    )
    await crashed.claim([tenant])
    elsewhere = owner(claims, db, "group-a", lease=600.0, owner_id="another-host:1:x")
    await elsewhere.claim([await other_tenant(db)])

    successor = owner(claims, db, "group-a")
    await successor.claim([tenant])  # at once, though the lease has ten minutes to run
    assert await holder(db, tenant) == ("group-a", successor.owner_id)
    with pytest.raises(ProjectorTenantOwned):  # another host's process: only its lease tells
        await owner(claims, db, "group-a").claim(list(elsewhere.held))


async def test_a_tenant_taken_over_mid_run_gets_the_events_skipped_while_another_held_it(
    db: Database, tenant: str, claims: list[Claims]
) -> None:
    name = f"whole-{tenant}"  # a name of its own: whole-ledger checkpoints span tenants
    free = await other_tenant(db)
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    story(feed)
    early = list(feed.events)  # the tenant's events while a stalled process of this name holds it
    feed.tenant = free
    await users(db, feed, "a", "b")
    story(feed)
    stalled = owner(claims, db, name, lease=1.0, owner_id="another-host:1:x")
    await stalled.claim([tenant])

    whole = owner(claims, db, name, discover=True)
    first = await Projector(db, feed, name=name, claims=whole).run(once=True)
    assert first.skipped == len(early) and await logged(db, tenant) == []

    await asyncio.sleep(1.2)  # the stalled owner's lease runs out
    feed.tenant = tenant
    story(feed)  # the tenant's next events: met by a restarted projector, which takes it over
    late = feed.events[len(early) :]
    await Projector(db, feed, name=name, claims=whole).run(once=True)
    assert await holder(db, tenant) == (name, whole.owner_id)
    mine = [e for e in feed.events if e.tenant_id == tenant]
    assert len(mine) > len(early) and late
    assert await logged(db, tenant) == positions(mine)  # the early ones too, each once
    assert await balances(db, free) == {"a": D(464), "b": D(536)}
