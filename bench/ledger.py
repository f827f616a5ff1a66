"""Throughput of the embedded ledger's `submit`, against pgbench's TPC-B on the same server.

    .venv/bin/python bench/ledger.py [--batches 50] [--batch-size 200] [--submitters 1]

Bootstraps one tenant with 2,000 funded users, then submits `--batches` blocks of
`--batch-size` TRANSFER_TOKENS per submitter (random pairs, amounts above the fee threshold)
and prints committed commands per second. pgbench (TPC-B, 8 clients, 2 threads, 10 s, scale 8)
runs on the same server in the same run as the baseline. Uses DATABASE_URL when set (owner
with CREATEDB), else a throwaway embedded server with production durability.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from common import (  # bench/common.py, beside this script
    migrated_database,
    open_accounts,
    print_ratio,
)

from gxcore.enums import CommandType
from gxcore.ledger import Command, EmbeddedLedger

TENANT, USERS = "bench", 2000


def transfers(rng: random.Random, prefix: str, count: int) -> list[Command]:
    commands = []
    for i in range(count):
        sender, receiver = rng.sample(range(USERS), 2)
        commands.append(
            Command(TENANT, f"{prefix}-{i}", CommandType.TRANSFER_TOKENS,
                    {"senderId": f"u{sender}", "receiverId": f"u{receiver}",
                     "amount": f"{rng.randint(4, 20)}.{rng.randint(0, 999):03d}"})
        )  # fmt: skip
    return commands


async def submitter(url: str, name: str, batches: int, size: int) -> tuple[int, int]:
    rng = random.Random(name)
    committed = rejected = 0
    async with await EmbeddedLedger.open(url, pool_size=1) as ledger:
        for b in range(batches):
            outcomes = await ledger.submit(transfers(rng, f"{name}-{b}", size))
            done = sum(o.committed for o in outcomes)
            committed += done
            rejected += len(outcomes) - done
    return committed, rejected


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--submitters", type=int, default=1)
    args = parser.parse_args()

    async with migrated_database() as url:
        async with await EmbeddedLedger.open(url) as ledger:
            await open_accounts(ledger, TENANT, USERS, profiles=False)
        await submitter(url, "warm", 5, args.batch_size)

        started = time.perf_counter()
        results = await asyncio.gather(
            *(submitter(url, f"s{k}", args.batches, args.batch_size)
              for k in range(args.submitters))
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        committed = sum(c for c, _ in results)
        total = committed + sum(r for _, r in results)
        blocks = args.batches * args.submitters
        rate = total / elapsed
        print(
            f"{blocks} blocks of {args.batch_size} TRANSFER_TOKENS, {args.submitters} submitter(s): "
            f"{rate:,.0f} commands/s ({committed / total:.1%} committed), "
            f"{elapsed / blocks * 1000:.1f} ms per block"
        )
        print_ratio(url, "ledger commands/s", rate)


if __name__ == "__main__":
    asyncio.run(main())
