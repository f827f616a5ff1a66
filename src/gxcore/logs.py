"""Log lines as text or JSON (`GX_LOG_FORMAT`), carrying what is known of the work in hand.

    configure(json=True)                   # once, at a process's start (`gx api`, `gx relay`, ...)
    with context(request_id=rid):          # the HTTP edge, per request
        note(tenant="acme")                # later, once known (the unit of work, `enqueue`)
        log.info("...")                    # -> {"ts", "level", "logger", "message",
                                           #     "request_id", "tenant", "command_id", ...}

With tracing on (gxcore.tracing), a line written while a span is current also carries its
`trace_id` and `span_id`, so a log collector can join the line to the trace.

The context is one mutable record per request (or unit of work), held in a context variable:
what a dependency or a service notes is seen by every later line of that request, the access
line written at its end included. A line may also carry fields of its own through `extra=`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from gxcore import tracing

#: The fields a line carries from its context, and from `extra=` when given there.
FIELDS = ("request_id", "tenant", "command_id", "method", "route", "status", "duration_ms")

_context: ContextVar[dict[str, Any] | None] = ContextVar("gx_log_context", default=None)


@contextmanager
def context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A fresh context for the block (a request), seeded with `fields`."""
    record = {k: v for k, v in fields.items() if v is not None}
    token = _context.set(record)
    try:
        yield record
    finally:
        _context.reset(token)


def note(**fields: Any) -> None:
    """Add fields to the current context (nothing happens outside one)."""
    record = _context.get()
    if record is not None:
        record.update({k: v for k, v in fields.items() if v is not None})


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


def _with_trace(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` plus the current span's ids, when tracing is on and a span is current."""
    if tracing.enabled() and (ids := tracing.current_ids()) is not None:
        fields["trace_id"], fields["span_id"] = ids
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_with_trace(current()))
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual text line, with the context's fields appended as `key=value`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = _with_trace(current())
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                fields[name] = value
        text = super().format(record)
        return f"{text} {' '.join(f'{k}={v}' for k, v in fields.items())}" if fields else text


def configure(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Send every log line (uvicorn's included) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers[:] = []
        uvicorn_log.propagate = True
