"""Every metric gxcore exposes, in Prometheus's text format (`prometheus-client`).

Counters and histograms live in the process (the default registry) and are counted where the
work happens: requests by route template and status, relay outcomes and failures by error code,
projector events by outcome. Gauges that need the database (outbox depth by status, projector
lag in blocks and seconds, DLQ entries, ledger height) are read at scrape time through the
readiness probe, within its timeout; when that fails, `gx_metrics_database_up` is 0 and those
gauges are left out rather than reported stale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the relay counts here without loading the projector's handlers
    from gxcore.cqrs.health import Probe, Snapshot

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_LATENCY = Histogram(
    "gx_http_request_duration_seconds",
    "HTTP requests by method, route template (never the raw path) and status.",
    ["method", "route", "status"],
)
RELAY_COMMANDS = Counter(
    "gx_relay_commands",
    "Outbox commands the relay finished a delivery attempt of, by outcome "
    "(committed, failed, retried, lost).",
    ["outcome"],
)
RELAY_FAILURES = Counter(
    "gx_relay_failures",
    "Delivery attempts that did not commit (failed for good or to retry), by error code.",
    ["code"],
)
PROJECTOR_EVENTS = Counter(
    "gx_projector_events",
    "Ledger events the projector processed, by outcome (applied, dead, skipped).",
    ["outcome"],
)


class _ScrapeGauges(Collector):
    """The database-backed gauges of one scrape (a snapshot, or nothing when it failed)."""

    def __init__(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "gx_metrics_database_up",
            "1 when this scrape read the database-backed gauges, 0 when it could not.",
        )
        up.add_metric([], 1 if self.snapshot else 0)
        yield up
        if self.snapshot is None:
            return
        outbox = GaugeMetricFamily(
            "gx_outbox_commands", "Outbox commands not committed yet, by status.", labels=["status"]
        )
        for status, count in self.snapshot.outbox.items():
            outbox.add_metric([status.value], count)
        yield outbox
        st = self.snapshot.projector
        if st is None:
            return
        gauges = {
            "gx_ledger_height": ("The ledger's last block.", st.height),
            "gx_projector_lag_blocks": ("Blocks the projector trails the ledger by.", st.lag),
            "gx_projector_lag_seconds": (
                "Seconds since the first event not projected yet was committed.",
                self.snapshot.lag_seconds,
            ),
            "gx_eventdlq_entries": ("Events waiting in EventDLQ.", st.dead),
        }
        for name, (help_text, value) in gauges.items():
            yield GaugeMetricFamily(name, help_text, value=value)


async def exposition(probe: Probe | None) -> bytes:
    """The text `/metrics` answers: the process's metrics, then this scrape's gauges."""
    snapshot = None
    if probe is not None:
        try:
            snapshot = await probe.snapshot()
        except Exception as e:  # noqa: BLE001  (a scrape reports what it can; the log says why)
            log.warning("metrics scrape could not read the database: %r", e)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_ScrapeGauges(snapshot))
    return generate_latest(REGISTRY) + generate_latest(scrape)
