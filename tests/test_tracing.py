"""OpenTelemetry traces: one transfer is one trace from the HTTP request through the outbox, the
relay and the ledger, and the projector's batch links to it; with tracing off nothing is
recorded and no trace context is stored; spans leave by OTLP/HTTP when configured.
"""

# ruff: noqa: F811  (the `loop` and `json_lines` fixtures imported below)
from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import asyncpg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, SpanKind, StatusCode
from sqlalchemy import select

from gxcore import tracing
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.db.engine import libpq_url
from gxcore.enums import CommandType
from tests.test_cli import gx
from tests.test_logs import json_lines, parsed  # noqa: F401  (the fixture)
from tests.test_money_api import Loop, loop  # noqa: F401  (the whole money loop)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, every finished span kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _one(found: list[ReadableSpan], prefix: str, command_id: str) -> ReadableSpan:
    matching = [
        s
        for s in found
        if s.name.startswith(prefix) and (s.attributes or {}).get(tracing.COMMAND_ID) == command_id
    ]
    assert len(matching) == 1
    return matching[0]


async def _transfer(loop: Loop, **headers: str) -> tuple[str, Any]:
    alice, bob = await loop.user(), await loop.user()
    sent = await loop.send(alice, bob, "12.5", **headers)
    assert sent.status_code == 202, sent.text
    return sent.json()["commandId"], sent


async def test_a_transfer_is_one_trace_from_the_request_to_the_ledger_and_linked_from_the_projector(
    loop: Loop, spans: InMemorySpanExporter
) -> None:
    alice, bob = await loop.user(), await loop.user()
    spans.clear()
    caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"  # an upstream service's span
    sent = await loop.send(alice, bob, "12.5", traceparent=caller)
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["commandId"]
    assert sent.headers["x-trace-id"] == CALLER_TRACE
    await loop.settle()
    found = list(spans.get_finished_spans())

    request = _one(found, "POST /api/v1/transfers", command_id)
    enqueued = _one(found, "outbox.enqueue TRANSFER_TOKENS", command_id)
    submitted = _one(found, "relay.submit TRANSFER_TOKENS", command_id)
    executed = _one(found, "ledger.execute TRANSFER_TOKENS", command_id)
    chain = [request, enqueued, submitted, executed]
    # One trace, continued from the caller's, each stage the child of the one before.
    assert {_hex(s.context.trace_id, 32) for s in chain} == {CALLER_TRACE}
    assert request.parent is not None and _hex(request.parent.span_id, 16) == CALLER_SPAN
    for parent, child in itertools.pairwise(chain):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert request.kind is SpanKind.SERVER
    assert (request.attributes or {})["http.response.status_code"] == 202
    assert (submitted.attributes or {})["gx.outcome"] == "COMMITTED"
    assert (executed.attributes or {})["gx.outcome"] == "COMMITTED"
    assert (executed.attributes or {})["gx.block"] == (submitted.attributes or {})["gx.block"]

    # The projector's batch names the command and links to the context stored with it.
    applied = [
        s
        for s in found
        if s.name == "projector.apply"
        and command_id in ((s.attributes or {}).get(tracing.COMMAND_IDS) or ())
    ]
    assert len(applied) == 1
    links = [
        link
        for link in applied[0].links
        if (link.attributes or {}).get(tracing.COMMAND_ID) == command_id
    ]
    assert len(links) == 1
    assert links[0].context.trace_id == enqueued.context.trace_id
    assert links[0].context.span_id == enqueued.context.span_id

    async with loop.db.tenant(loop.tenant) as session:
        stored = await session.scalar(
            select(OutboxCommand.traceparent).where(OutboxCommand.id == command_id)
        )
    assert stored == f"00-{CALLER_TRACE}-{_hex(enqueued.context.span_id, 16)}-01"


async def test_a_rejected_command_ends_its_relay_and_ledger_spans_in_error(
    loop: Loop, spans: InMemorySpanExporter
) -> None:
    await loop.settle()  # the tenant bootstrapped on the ledger
    # Queued straight into the outbox, past the API's checks: the ledger refuses it.
    async with loop.db.tenant(loop.tenant) as session:
        row = await enqueue(
            session,
            service="test",
            command_type=CommandType.TRANSFER_TOKENS,
            request_id="no-such-accounts",
            payload={"senderId": "nobody-a", "receiverId": "nobody-b", "amount": "1"},
        )
        command_id = row.id
    spans.clear()
    await loop.settle()
    found = list(spans.get_finished_spans())
    submitted = _one(found, "relay.submit", command_id)
    executed = _one(found, "ledger.execute", command_id)
    for span in (submitted, executed):
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["gx.outcome"] in ("FAILED", "REJECTED")
        assert (span.attributes or {})["gx.error_code"]
    assert executed.parent is not None and executed.parent.span_id == submitted.context.span_id


async def test_with_tracing_off_nothing_is_recorded_and_no_trace_context_is_stored(
    loop: Loop,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # built, never installed
    assert not tracing.enabled()
    assert isinstance(tracing.tracer(), NoOpTracer)

    command_id, sent = await _transfer(loop, traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    await loop.settle()
    assert "x-trace-id" not in sent.headers
    assert exporter.get_finished_spans() == ()
    async with loop.db.tenant(loop.tenant) as session:
        stored = (await session.scalars(select(OutboxCommand.traceparent))).all()
        status = await session.scalar(
            select(OutboxCommand.status).where(OutboxCommand.id == command_id)
        )
    assert stored and set(stored) == {None}
    assert status is not None and status.value == "COMMITTED"


async def test_log_lines_carry_the_trace_and_span_ids_while_a_span_is_current(
    loop: Loop,
    spans: InMemorySpanExporter,
    json_lines: io.StringIO,
) -> None:
    got = await loop.client.get("/health")
    trace_id = got.headers["x-trace-id"]
    lines = [line for line in parsed(json_lines) if line.get("logger") == "gxcore.access"]
    assert lines and lines[-1]["trace_id"] == trace_id
    request = [s for s in spans.get_finished_spans() if s.name.startswith("GET ")][-1]
    assert lines[-1]["span_id"] == _hex(request.context.span_id, 16)

    tracing.install(None)
    await loop.client.get("/health")
    last = [line for line in parsed(json_lines) if line.get("logger") == "gxcore.access"][-1]
    assert "trace_id" not in last and "span_id" not in last


def test_tracing_is_off_unless_switched_on_or_an_endpoint_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GX_OTEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not Settings(_env_file=None).tracing_enabled  # type: ignore[call-arg]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert Settings(_env_file=None).tracing_enabled  # type: ignore[call-arg]
    monkeypatch.setenv("GX_OTEL", "0")
    assert not Settings(_env_file=None).tracing_enabled  # type: ignore[call-arg]
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("GX_OTEL", "1")
    assert Settings(_env_file=None).tracing_enabled  # type: ignore[call-arg]


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps every POST to /v1/traces."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: ClassVar[list[tuple[str, bytes]]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


async def test_configured_tracing_exports_spans_by_otlp_http_to_the_collector(
    loop: Loop,
    collector: tuple[str, list[tuple[str, bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracing.configure("gxcore-test")
    try:
        command_id, _ = await _transfer(loop)
        await loop.settle()
    finally:
        tracing.shutdown()  # flushes the batch processor's queue
    assert not tracing.enabled()
    assert received and {path for path, _ in received} == {"/v1/traces"}
    spans = [span for _, body in received for span in _spans_of(body)]
    names = {s["name"] for s in spans}
    services = {s["service"] for s in spans}
    commands = {s.get(tracing.COMMAND_ID) for s in spans}
    assert services == {"gxcore-test"}
    assert {
        "POST /api/v1/transfers",
        "relay.submit TRANSFER_TOKENS",
        "ledger.execute TRANSFER_TOKENS",
    } <= names
    assert command_id in commands


async def test_gx_relay_exports_its_spans_to_the_configured_collector(
    scratch_url: str, collector: tuple[str, list[tuple[str, bytes]]]
) -> None:
    url, received = collector
    assert gx("tenant", "create", "acme", database_url=scratch_url).returncode == 0
    ran = gx(
        "relay",
        "--once",
        database_url=scratch_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=url,
        OTEL_SERVICE_NAME="",
        OTEL_RESOURCE_ATTRIBUTES="",
    )
    assert ran.returncode == 0, ran.stderr
    sent = [_spans_of(body) for path, body in received if path == "/v1/traces"]
    spans = [span for batch in sent for span in batch]
    # The embedded ledger runs inside the relay's process: its span leaves from there too.
    assert sorted((s["service"], s["name"]) for s in spans) == [
        ("gxcore-relay", "ledger.execute BOOTSTRAP_SYSTEM"),
        ("gxcore-relay", "relay.submit BOOTSTRAP_SYSTEM"),
    ]
    conn = await asyncpg.connect(libpq_url(scratch_url))
    try:
        command_id = await conn.fetchval('SELECT id FROM "OutboxCommand"')
    finally:
        await conn.close()
    assert {s[tracing.COMMAND_ID] for s in spans} == {command_id}

    untraced = gx("relay", "--once", database_url=scratch_url, GX_OTEL="0",
                  OTEL_EXPORTER_OTLP_ENDPOINT=url)  # fmt: skip
    assert untraced.returncode == 0 and len(received) == len(sent)


def _spans_of(body: bytes) -> list[dict[str, str]]:
    """Each span of an OTLP export: its service, name and string attributes."""
    found = []
    for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
        service = next(
            a.value.string_value
            for a in resource_spans.resource.attributes
            if a.key == "service.name"
        )
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: a.value.string_value for a in span.attributes}
                found.append({**attributes, "service": service, "name": span.name})
    return found
