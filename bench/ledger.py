"""Committed transfers per second of the embedded ledger's `submit`, by block size, against
pgbench's TPC-B on the same server.

    .venv/bin/python bench/ledger.py [--sizes 1,200] [--seconds 5] [--submitters 2]
    .venv/bin/python bench/ledger.py --tenants 1,4 [--block 20] [--seconds 4] [--submitters 2]

For each block size, a tenant of its own with 2,000 funded users takes blocks of that many
TRANSFER_TOKENS (random pairs, amounts above the fee threshold) from `--submitters` submitters
side by side for `--seconds` (after a few blocks of warm-up), as `gx relay --workers N` cuts
blocks from its claims: one `submit` is one block, one transaction behind the head's lock.
Prints committed transfers per second for each size, the ratio of the largest to the smallest
(target >= 3x for 200 against 1), and each as a ratio to pgbench TPC-B (8 clients, 2 threads,
10 s, scale 8) run on the same server in the same run. Uses DATABASE_URL when set (owner with
CREATEDB), else a throwaway embedded server with production durability.

With `--tenants 1,4`, the block-size stages are replaced by tenant stages: for each count N,
N tenants of their own (each with the same 2,000 funded users) submit blocks of `--block`
transfers at once, each tenant from its own process (as a relay per tenant group would) with
`--submitters` submitters, for `--seconds`. Prints committed commands/s of each stage and the
largest count's rate against the smallest's (target >= 1.4x for 4 tenants against 1): tenants
on different heads must not queue behind each other.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import Manager
from typing import Any

from common import migrated_database, open_accounts, pgbench_tps  # bench/, beside this script

from gxcore.enums import CommandType
from gxcore.ledger import Command, EmbeddedLedger

USERS = 2000
#: Committed transfers per second in blocks of 200 against blocks of 1.
TARGET_GAIN = 3.0
#: Committed commands per second with the most tenants against the fewest.
TARGET_TENANT_GAIN = 1.4


def transfers(tenant: str, rng: random.Random, prefix: str, count: int) -> list[Command]:
    commands = []
    for i in range(count):
        sender, receiver = rng.sample(range(USERS), 2)
        commands.append(
            Command(tenant, f"{prefix}-{i}", CommandType.TRANSFER_TOKENS,
                    {"senderId": f"u{sender}", "receiverId": f"u{receiver}",
                     "amount": f"{rng.randint(4, 9)}.{rng.randint(0, 999):03d}"})
        )  # fmt: skip
    return commands


@dataclass
class Blocks:
    size: int
    blocks: int
    committed: int
    rejected: int
    seconds: float

    @property
    def rate(self) -> float:
        """Committed transfers per second."""
        return self.committed / self.seconds

    def line(self, tps: float | None) -> str:
        ratio = f"; {self.rate / tps:.2f}x pgbench tps" if tps else ""
        return (
            f"ledger, blocks of {self.size:>3} transfer(s): {self.rate:8,.0f} committed/s "
            f"({self.committed} in {self.blocks} blocks, {self.rejected} rejected, "
            f"{self.seconds * 1000 / self.blocks:.2f} ms per block){ratio}"
        )


async def submitter(
    url: str, tenant: str, name: str, size: int, until: float, warmup: int
) -> tuple[int, int, int]:
    """(blocks, committed, rejected) submitted before `until`, after `warmup` uncounted blocks."""
    rng = random.Random(name)
    blocks = committed = rejected = 0
    async with await EmbeddedLedger.open(url, pool_size=1) as ledger:
        for w in range(warmup):
            await ledger.submit(transfers(tenant, rng, f"{name}-w{w}", size))
        while time.perf_counter() < until:
            outcomes = await ledger.submit(transfers(tenant, rng, f"{name}-{blocks}", size))
            done = sum(o.committed for o in outcomes)
            blocks += 1
            committed += done
            rejected += len(outcomes) - done
    return blocks, committed, rejected


async def block_stage(url: str, size: int, seconds: float, submitters: int) -> Blocks:
    """Blocks of `size` transfers for `seconds`, in a tenant of their own (`ledger-{size}`)."""
    tenant = f"ledger-{size}"
    async with await EmbeddedLedger.open(url) as ledger:
        await open_accounts(ledger, tenant, USERS, profiles=False)
    warmup = max(1, 200 // size)  # the same few hundred transfers whatever the size
    # Warm-up runs before the clock starts: each submitter's first blocks are left out.
    await asyncio.gather(
        *(submitter(url, tenant, f"warm{k}", size, 0.0, warmup) for k in range(submitters))
    )
    started = time.perf_counter()
    results = await asyncio.gather(
        *(submitter(url, tenant, f"s{k}", size, started + seconds, 0) for k in range(submitters))
    )
    elapsed = time.perf_counter() - started
    return Blocks(
        size,
        sum(b for b, _, _ in results),
        sum(c for _, c, _ in results),
        sum(r for _, _, r in results),
        elapsed,
    )


def print_gain(stages: list[Blocks]) -> None:
    """The largest blocks' committed rate against the smallest's, with the target."""
    small, large = min(stages, key=lambda s: s.size), max(stages, key=lambda s: s.size)
    if small is large:
        return
    gain = large.rate / small.rate
    verdict = "met" if gain >= TARGET_GAIN else "MISSED"
    print(f"ledger, blocks of {large.size} against blocks of {small.size}: {gain:.1f}x "
          f"(target >= {TARGET_GAIN:g}x) {verdict}")  # fmt: skip


@dataclass
class Tenants:
    count: int
    size: int
    blocks: int
    committed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.committed / self.seconds

    def line(self) -> str:
        return (
            f"ledger, {self.count} tenant(s) at once, blocks of {self.size}: {self.rate:8,.0f} "
            f"committed commands/s ({self.committed} in {self.blocks} blocks)"
        )


async def tenant_run(
    url: str, tenant: str, size: int, submitters: int, ready: Any, seconds: float
) -> tuple[int, int]:
    """One tenant's submitters, warmed up, then counted for `seconds` from the moment every
    tenant's process passed the barrier `ready`: (blocks, committed)."""
    warmup = max(1, 100 // size)
    await asyncio.gather(
        *(submitter(url, tenant, f"warm{k}", size, 0.0, warmup) for k in range(submitters))
    )
    ready.wait()  # processes start slowly on a busy machine: the clocks start together
    until = time.perf_counter() + seconds
    results = await asyncio.gather(
        *(submitter(url, tenant, f"s{k}", size, until, 0) for k in range(submitters))
    )
    return sum(b for b, _, _ in results), sum(c for _, c, _ in results)


def tenant_process(args: tuple[str, str, int, int, Any, float]) -> tuple[int, int]:
    return asyncio.run(tenant_run(*args))


async def tenant_stage(url: str, count: int, size: int, seconds: float, submitters: int) -> Tenants:
    """`count` tenants (`tenants-{count}-{i}`) submitting at once, a process each."""
    names = [f"tenants-{count}-{i}" for i in range(count)]
    async with await EmbeddedLedger.open(url) as ledger:
        for name in names:
            await open_accounts(ledger, name, USERS, profiles=False)
    loop = asyncio.get_running_loop()
    with Manager() as manager, ProcessPoolExecutor(max_workers=count) as pool:
        ready = manager.Barrier(count)
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, tenant_process, (url, name, size, submitters, ready, seconds)
                )
                for name in names
            )
        )
    return Tenants(count, size, sum(b for b, _ in results), sum(c for _, c in results), seconds)


def print_tenant_gain(stages: list[Tenants]) -> None:
    few, many = min(stages, key=lambda s: s.count), max(stages, key=lambda s: s.count)
    if few is many:
        return
    gain = many.rate / few.rate
    verdict = "met" if gain >= TARGET_TENANT_GAIN else "MISSED"
    print(f"ledger, {many.count} tenants against {few.count}: {gain:.2f}x "
          f"(target >= {TARGET_TENANT_GAIN:g}x) {verdict}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,200", help="block sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=5, help="per block size")
    parser.add_argument("--submitters", type=int, default=2)
    parser.add_argument("--tenants", help="tenant counts, comma-separated (e.g. 1,4)")
    parser.add_argument("--block", type=int, default=20, help="block size with --tenants")
    args = parser.parse_args()

    if args.tenants:
        async with migrated_database() as url:
            counts = [int(n) for n in args.tenants.split(",")]
            runs = [
                await tenant_stage(url, n, args.block, args.seconds, args.submitters)
                for n in counts
            ]
        for run in runs:
            print(run.line())
        print_tenant_gain(runs)
        return

    async with migrated_database() as url:
        stages = [
            await block_stage(url, int(size), args.seconds, args.submitters)
            for size in args.sizes.split(",")
        ]
        tps = await asyncio.to_thread(pgbench_tps, url)
    if tps:
        print(f"pgbench TPC-B (-c 8 -j 2 -s 8) on the same server: {tps:,.0f} tps")
    for stage in stages:
        print(stage.line(tps))
    print_gain(stages)


if __name__ == "__main__":
    asyncio.run(main())
