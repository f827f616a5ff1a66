"""Line charts as server-rendered SVG: no script, no front-end build."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from gxcore.console.history import WINDOW, Point

WIDTH, HEIGHT, PAD = 640, 180, 32


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: list[Point]

    @property
    def latest(self) -> float | None:
        return self.points[-1].value if self.points else None

    def svg(self, now: datetime) -> Markup:
        """The series over the window ending `now`: x is time, y from 0 to the series' top."""
        top = max((p.value for p in self.points), default=0.0) or 1.0
        start = now - WINDOW
        span = WINDOW.total_seconds()

        def x(at: datetime) -> float:
            return PAD + (WIDTH - 2 * PAD) * max(0.0, (at - start).total_seconds()) / span

        def y(value: float) -> float:
            return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

        line = " ".join(f"{x(p.at):.1f},{y(p.value):.1f}" for p in self.points)
        dots = "".join(
            f'<circle cx="{x(p.at):.1f}" cy="{y(p.value):.1f}" r="2"/>' for p in self.points
        )
        label = escape(f"{self.title} ({self.unit}), last hour")
        empty = (
            ""
            if self.points
            else f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'
        )
        return Markup(
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
            f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
            f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>'
            f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">{top:g}</text>'
            f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end">0</text>'
            f'<text x="{PAD}" y="{HEIGHT - 8}">-60 min</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">now</text>'
            f'<polyline points="{line}"/>{dots}{empty}</svg>'
        )
