"""OpenTelemetry traces across the loop: API -> outbox -> relay -> ledger -> projector.

Off by default, and then free: no SDK is imported or set up, `enabled()` is False and every
traced path skips its span work behind that one check (what remains is the API's no-op tracer).
On (`GX_OTEL=1`, or an `OTEL_EXPORTER_OTLP_ENDPOINT` set; see `Settings.tracing_enabled`),
`configure` installs the SDK with a batching OTLP/HTTP exporter that reads the standard `OTEL_*`
variables (endpoint, headers, timeout, service name, resource attributes, sampler).

The command id joins the stages, which run in different processes and at different times:
- the API request's span (gxcore.edge) is the parent of `outbox.enqueue`, whose W3C
  `traceparent` is stored with the command (`OutboxCommand.traceparent`);
- the relay's `relay.submit` span of each command is a child of that stored context, and hands
  its own context to the ledger with the command (`Command.traceparent`), as a gateway would
  pass it in the call's metadata;
- the ledger's `ledger.execute` span of each command is a child of the relay's;
- the projector's `projector.apply` span covers a batch of many commands' events, so it is
  linked (a span link per command) rather than parented.
Every span carries `gx.command_id` (the projector's batch: `gx.command_ids`, and each link its
own `gx.command_id`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: Span attribute naming the outbox command a span works on (the join key of the loop).
COMMAND_ID = "gx.command_id"
#: The projector batch's attribute: every command behind its events.
COMMAND_IDS = "gx.command_ids"
TENANT = "gx.tenant"

_propagator = TraceContextTextMapPropagator()
_tracer: Tracer = trace.NoOpTracer()
_provider: Any = None  # the SDK's TracerProvider when installed; Any keeps the SDK unimported
_enabled = False

__all__ = [
    "COMMAND_ID",
    "COMMAND_IDS",
    "TENANT",
    "Link",
    "Span",
    "SpanKind",
    "StatusCode",
    "configure",
    "context_of",
    "context_of_carrier",
    "current_ids",
    "enabled",
    "install",
    "link_to",
    "shutdown",
    "span_in",
    "traceparent",
    "tracer",
]


def enabled() -> bool:
    """Whether spans are recorded; every traced path checks this first, and does nothing else
    while it is False."""
    return _enabled


def tracer() -> Tracer:
    return _tracer


def install(provider: Any) -> None:
    """Record spans through `provider` (an SDK TracerProvider): `configure` does it for a
    process; tests do it with an in-memory exporter. `install(None)` switches tracing off."""
    global _tracer, _provider, _enabled
    _provider = provider
    _enabled = provider is not None
    _tracer = provider.get_tracer("gxcore") if provider is not None else trace.NoOpTracer()


def configure(service: str) -> None:
    """Set up the SDK for this process: an OTLP/HTTP exporter behind a batching processor.

    `service` names the process (`gxcore-api`, `gxcore-relay`, ...) unless `OTEL_SERVICE_NAME`
    or `OTEL_RESOURCE_ATTRIBUTES` names it already. The provider flushes its last spans at exit.
    """
    import os

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)


def shutdown() -> None:
    """Flush and stop the installed provider (spans still queued are exported), then trace no
    more."""
    if _provider is not None:
        _provider.shutdown()
    install(None)


def traceparent(span: Span | None = None) -> str | None:
    """The W3C `traceparent` of `span` (default: the current one), None without a valid one."""
    ctx = trace.set_span_in_context(span) if span is not None else None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=ctx)
    return carrier.get("traceparent")


def context_of(value: str | None) -> Context | None:
    """The parent context a stored `traceparent` names; None (a new trace) when it names none."""
    if not value:
        return None
    ctx = _propagator.extract({"traceparent": value})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def context_of_carrier(carrier: Mapping[str, str]) -> Context | None:
    """The caller's trace context from W3C headers (`traceparent`, `tracestate`), if any."""
    ctx = _propagator.extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def link_to(value: str | None, **attributes: Any) -> Link | None:
    """A span link to the span a stored `traceparent` names, with `attributes`; None if none."""
    ctx = context_of(value)
    if ctx is None:
        return None
    target: SpanContext = trace.get_current_span(ctx).get_span_context()
    return Link(target, attributes)


@contextmanager
def span_in(span: Span) -> Iterator[Span]:
    """Make `span` current for the block (log lines then carry its ids); does not end it."""
    with trace.use_span(span, end_on_exit=False, record_exception=False):
        yield span


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for log lines; None outside a span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
