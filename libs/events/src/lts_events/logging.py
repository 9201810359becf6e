"""Structured JSON logs: one object per line, with the service name and the active trace ids."""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

from lts_events.telemetry import trace_ids


class TraceContextFilter(logging.Filter):
    """Stamps every record with the service name and the current trace/span id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id, span_id = trace_ids()
        record.service = self._service
        record.trace_id = trace_id
        record.span_id = span_id
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{message}{service}{trace_id}{span_id}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def setup_logging(service: str, *, level: str | None = None) -> None:
    """Route the root logger (and uvicorn's) to one JSON handler on stderr. Idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(TraceContextFilter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_lts_json", False):
            root.removeHandler(existing)
    handler._lts_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("LTS_LOG_LEVEL", "INFO"))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
