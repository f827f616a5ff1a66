"""Where a `gx` process spends its CPU in a window, sampled, and grouped by what it is for.

    python bench/profiles.py OUT gx-arguments...     # what `common.GxProcess(profile=OUT)` runs

runs `gx` with a sampler that SIGUSR1 starts and SIGUSR2 stops, writing OUT (JSON: the window's
wall and CPU seconds, each distinct stack seen with its count of samples, and the SQL statements
SQLAlchemy ran with their total round-trip time). The sampler is a CPU-time timer (SIGPROF,
every millisecond of the process's CPU, in practice every scheduler tick): its handler records
the stack the signal interrupted, followed across SQLAlchemy's greenlets, so the samples spread
over the code in proportion to the CPU it uses; waiting (for clients, for PostgreSQL, for a free
core) takes none. `print_profile` shows the CPU by the code running (the innermost frame's
library: SQLAlchemy, asyncpg, pydantic, JSON, the HTTP framework, ...), by what it was for (the
innermost gxcore function on the stack: the auth check, the money service, the audit entry, the
tenant guard, ...; with the part of each spent in SQLAlchemy and asyncpg), and the gxcore
functions with the most cumulative CPU.

Neither cProfile nor a sampling thread is used. Under SQLAlchemy's greenlets cProfile's call
stack goes wrong (it reported 147 s cumulative for a middleware in a 27 s run here) and its cost
per call tripled the API's CPU per request, which distorts the shares; a thread reading the
main thread's stack gets the GIL mostly when the main thread releases it for a system call, and
so charged about 40% of the API's CPU to socket writes. The timer's cost is its ~250 samples
per CPU second of some tens of microseconds each: under a percent.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import greenlet  # SQLAlchemy's asyncio bridge

INTERVAL = 0.001  # seconds of the process's CPU between samples

#: By the code running: the innermost frame's file, first match wins.
CODE = [
    ("SQLAlchemy (ORM, compile, results, greenlet bridge)", r"/sqlalchemy/"),
    ("asyncpg (driver, protocol)", r"/asyncpg/"),
    ("pydantic", r"/pydantic(_core)?/"),
    ("JSON", r"/json/"),
    ("FastAPI, Starlette, uvicorn, h11", r"/(fastapi|starlette|uvicorn|h11|anyio)/"),
    ("logging", r"/logging/"),
    ("asyncio", r"/asyncio/"),
    ("argon2, jwt, cryptography", r"/(argon2|jwt|cryptography)/"),
    ("gxcore's own code", r"gxcore/"),
]
#: By what the request was doing: the innermost gxcore frame's module, first match wins.
PURPOSE = [
    ("unit of work (tenant check, commit)", r"gxcore/http\.py|:require_tenant$"),
    ("auth: token, session and profile check", r"gxcore/identity/(principal|tokens|access)"),
    ("audit: entries and their hash chain", r"gxcore/audit/"),
    ("tenant scope, ORM guard, RLS settings", r"gxcore/db/"),
    ("outbox enqueue", r"gxcore/cqrs/outbox"),
    ("relay", r"gxcore/cqrs/relay"),
    ("projector", r"gxcore/cqrs/"),
    ("embedded ledger", r"gxcore/ledger/"),
    ("money service (checks, hold, limits)", r"gxcore/wallet/|gxcore/admin/"),
    ("other gxcore", r"gxcore/"),
]
OUTSIDE = "outside gxcore code (routing, validation, responses)"
ENTRY = re.compile(r"gxcore/(.*_)?cli(_common)?\.py:")  # `gx`'s commands: on every stack


# --------------------------------------------------------------------------------------------
# The sampler, in the profiled process
# --------------------------------------------------------------------------------------------


def _name(code: CodeType) -> str:
    return f"{code.co_filename}:{code.co_firstlineno}:{code.co_qualname}"


class Sampler:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.stacks: Counter[tuple[CodeType, ...]] = Counter()
        self.sql = {"statements": 0, "seconds": 0.0}
        self.running = False
        self._started = (0.0, 0.0)  # wall, process CPU

    def start(self) -> None:
        self._started = (time.perf_counter(), time.process_time())
        self.running = True
        signal.siginterrupt(signal.SIGPROF, False)  # system calls carry on after a sample
        signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self.running = False
        wall, cpu = time.perf_counter(), time.process_time()
        data = {
            "wall": wall - self._started[0],
            "cpu": cpu - self._started[1],
            "stacks": [
                {"frames": [_name(c) for c in reversed(s)], "samples": n}
                for s, n in self.stacks.items()
            ],
            "sql": self.sql,
        }
        partial = self.out.with_suffix(".partial")
        partial.write_text(json.dumps(data))
        partial.rename(self.out)  # whole or absent: the bench waits for this name

    def sample(self, signum: int, frame: FrameType | None) -> None:
        """The stack where the signal found the process. A frame chain ends at the bottom of its
        greenlet: SQLAlchemy runs the ORM's sync code in one, spawned by an awaiting coroutine,
        so the chain goes on in the parent greenlet, where it switched."""
        stack = []
        current = greenlet.getcurrent()
        while True:
            while frame is not None:
                stack.append(frame.f_code)
                frame = frame.f_back
            if current.parent is None:
                break
            current = current.parent
            frame = current.gr_frame
        self.stacks[tuple(stack)] += 1

    def count_statements(self) -> None:
        """Every statement of every engine, while sampling: how many, and their round trips."""
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def before(conn: Any, *args: Any) -> None:
            conn.info["bench_at"] = time.perf_counter()

        def after(conn: Any, *args: Any) -> None:
            started = conn.info.pop("bench_at", None)
            if started is not None and self.running:
                self.sql["statements"] += 1
                self.sql["seconds"] += time.perf_counter() - started

        event.listen(Engine, "before_cursor_execute", before)
        event.listen(Engine, "after_cursor_execute", after)


def run_profiled() -> None:
    out, args = Path(sys.argv[1]), sys.argv[2:]
    sampler = Sampler(out)
    sampler.count_statements()
    signal.signal(signal.SIGPROF, sampler.sample)
    signal.signal(signal.SIGUSR1, lambda *_: sampler.start())
    signal.signal(signal.SIGUSR2, lambda *_: sampler.stop())
    sys.argv = ["gx", *args]
    sys.path.pop(0)  # bench/ is not the profiled program's
    from gxcore.cli import main

    main()


# --------------------------------------------------------------------------------------------
# The report, in the bench
# --------------------------------------------------------------------------------------------


def _first(patterns: list[tuple[str, str]], frame: str) -> str | None:
    return next((group for group, pattern in patterns if re.search(pattern, frame)), None)


def print_profile(path: Path, what: str, served: int, top: int = 12) -> None:
    """The process's CPU in the profile at `path`, by the code running and by what it was for,
    and the top gxcore functions by cumulative CPU; per unit `served` (requests, commands)."""
    data = json.loads(path.read_text())
    code: defaultdict[str, float] = defaultdict(float)
    purpose: defaultdict[str, float] = defaultdict(float)
    purpose_sql: defaultdict[str, float] = defaultdict(float)
    cumulative: defaultdict[str, float] = defaultdict(float)
    samples = sum(s["samples"] for s in data["stacks"])
    cpu = data["cpu"]
    for sample in data["stacks"]:
        frames, seconds = sample["frames"], sample["samples"] * cpu / samples
        running = _first(CODE, frames[-1]) or "other Python (stdlib, libraries)"
        code[running] += seconds
        ours = [f for f in frames if "gxcore/" in f and not ENTRY.search(f)]
        doing = (_first(PURPOSE, ours[-1]) or OUTSIDE) if ours else OUTSIDE
        purpose[doing] += seconds
        if running.startswith(("SQLAlchemy", "asyncpg")):
            purpose_sql[doing] += seconds
        for f in set(ours):
            cumulative[f] += seconds
    per = 1000 / max(served, 1)
    print(f"\nwhere gx {what}'s time went ({served} served, {samples} samples): "
          f"{data['wall']:.1f} s, of which {cpu:.1f} s CPU ({cpu / data['wall']:.0%}; "
          f"{cpu * per:.2f} ms each)")  # fmt: skip
    sql = data["sql"]
    if sql["statements"]:
        print(f"  SQL statements through SQLAlchemy: {sql['statements'] / max(served, 1):.1f} "
              f"each, round trip {sql['seconds'] / sql['statements'] * 1000:.2f} ms on average "
              f"(wall: send to result, the event loop's queue included)")  # fmt: skip
    print(f"  {'CPU by the code running':56s} {'share':>6s} {'ms each':>8s}")
    for group, seconds in sorted(code.items(), key=lambda kv: -kv[1]):
        print(f"  {group:56s} {seconds / cpu:6.1%} {seconds * per:8.2f}")
    print(f"  {'CPU by what it was for':56s} {'share':>6s} {'ms each':>8s} "
          f"{'of it SQL':>9s}")  # fmt: skip
    for group, seconds in sorted(purpose.items(), key=lambda kv: -kv[1]):
        print(f"  {group:56s} {seconds / cpu:6.1%} {seconds * per:8.2f} "
              f"{purpose_sql[group] * per:9.2f}")  # fmt: skip
    print(f"  {'gxcore functions by cumulative CPU':56s} {'share':>6s} {'ms each':>8s}")
    for frame, seconds in sorted(cumulative.items(), key=lambda kv: -kv[1])[:top]:
        file, line, name = frame.rsplit(":", 2)
        short = f"{re.sub(r'.*/src/', '', file)}:{line} {name}"
        print(f"  {short[-56:]:56s} {seconds / cpu:6.1%} {seconds * per:8.2f}")


if __name__ == "__main__":
    run_profiled()
