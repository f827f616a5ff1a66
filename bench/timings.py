"""Wall-clock time spent in chosen coroutines and in each SQL statement, for the benchmarks.

cProfile tells where Python spends CPU; these timings tell where a stage waits: each wrapped
coroutine's calls and total time, and every statement an engine runs grouped by its text
(round trip and server time together).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class Timings:
    def __init__(self) -> None:
        self.total: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def add(self, label: str, seconds: float) -> None:
        self.total[label] += seconds
        self.calls[label] += 1

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        """Time every call of the coroutine function `owner.name` (an object or a module)."""
        original: Callable[..., Awaitable[Any]] = getattr(owner, name)
        label = label or name

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        setattr(owner, name, timed)

    def statements(self, engine: AsyncEngine) -> None:
        """Time each statement `engine` executes, keyed by the start of its text."""

        def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            conn.info["bench_started"] = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            key = "SQL " + " ".join(statement.split())[:60]
            self.add(key, time.perf_counter() - conn.info.pop("bench_started"))

        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)

    def print(self, elapsed: float) -> None:
        print(f"wall-clock timings (stage: {elapsed:.2f}s; concurrent calls overlap)")
        print(f"  {'what':70s} {'calls':>6s} {'total s':>8s} {'ms/call':>8s}")
        for label, seconds in sorted(self.total.items(), key=lambda kv: -kv[1]):
            calls = self.calls[label]
            print(f"  {label:70s} {calls:6d} {seconds:8.2f} {seconds / calls * 1000:8.2f}")
