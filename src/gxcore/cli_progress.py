"""Progress of a long-running command, on stderr so that its result on stdout stays as it was.

    with progress("projector rebuild", unit="blocks", interval=cfg.progress_interval) as p:
        ...
        p.update(block, total=height)          # or p.advance(), p.update(note="...")

On a terminal: a Rich bar (a spinner while the total is unknown) with the count, a note and the
elapsed time, cleared when the command ends. Elsewhere (CI, a log collector): a plain line every
`interval` seconds (`GX_PROGRESS_INTERVAL`) while the work lasts, and one line when it is done. A
command that fails prints no progress line after its error, and a quick one only the last line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from gxcore.cli_common import err_console


class Tracker:
    """What a command reports as it goes: a count (of `unit`), perhaps a total, and a note."""

    def __init__(
        self,
        what: str,
        unit: str,
        interval: float,
        console: Console,
        bar: Progress | None,
    ) -> None:
        self.what = what
        self.unit = unit
        self.done = 0
        self.total: int | None = None
        self.note = ""
        self._interval = interval
        self._console = console
        self._bar = bar
        self._task: TaskID | None = (
            bar.add_task(what, total=None, note="") if bar is not None else None
        )
        self._started = time.monotonic()
        self._last_line = self._started

    def update(
        self, done: int | None = None, *, total: int | None = None, note: str | None = None
    ) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        self._show()

    def advance(self, by: int = 1, *, note: str | None = None) -> None:
        self.update(self.done + by, note=note)

    def line(self) -> str:
        """Where the work stands, in words: `12/40 blocks (30%), tenant acme`."""
        if self.total is None and not self.unit:  # a job that reports no count
            return self.note
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        text = f"{count} {self.unit}".rstrip()
        if self.total:
            text += f" ({min(100, 100 * self.done // self.total)}%)"
        return f"{text}, {self.note}" if self.note else text

    def _show(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, total=self.total, note=self.note)
            return
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._print(f"{self.what}: {self.line()}")

    def finish(self) -> None:
        elapsed = time.monotonic() - self._started
        where = self.line()
        self._print(f"{self.what}: done{', ' + where if where else ''} in {elapsed:.1f}s")

    def _print(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress(
    what: str, *, unit: str = "", interval: float = 10.0, console: Console | None = None
) -> Iterator[Tracker]:
    """Show the progress of the block's work (see the module doc); the last line only when the
    block ends without an error."""
    console = console or err_console
    if not console.is_terminal:
        tracker = Tracker(what, unit, interval, console, None)
        yield tracker
        tracker.finish()
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        tracker = Tracker(what, unit, interval, console, bar)
        yield tracker
    tracker.finish()
