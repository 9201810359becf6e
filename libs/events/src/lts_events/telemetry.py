"""OpenTelemetry setup and the W3C trace-context helpers the store, relay and consumer share.

The trace context is stored in event metadata at append time (`current_traceparent`), continued by
the relay as a producer span and by the consumer as a consumer span (`context_from`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

PROPAGATOR = TraceContextTextMapPropagator()
_configured: TracerProvider | None = None
_exporting = False


def setup_telemetry(service_name: str) -> TracerProvider:
    """Install an SDK tracer provider once per process. Spans are exported over OTLP only when
    `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the exporter package is installed; otherwise they
    are created (so trace ids propagate and appear in logs) but not exported."""
    global _configured
    if _configured is not None:
        return _configured
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        _add_otlp_exporter(provider)
    trace.set_tracer_provider(provider)
    _configured = provider
    return provider


def add_span_processor(processor: SpanProcessor, *, service_name: str = "lts-flow") -> None:
    """Send finished spans to `processor` (an exporter), setting up the provider if needed."""
    global _exporting
    provider = _configured or setup_telemetry(service_name)
    provider.add_span_processor(processor)
    _exporting = True


def spans_exported() -> bool:
    """Whether finished spans go anywhere. Without an exporter a span per message is pure cost,
    so the relay then forwards the stored trace context as it is."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return False
    return provider is not _configured or _exporting


def _add_otlp_exporter(provider: TracerProvider) -> None:
    global _exporting
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter is installed")
        return
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _exporting = True


def shutdown_telemetry() -> None:
    if _configured is not None:
        _configured.force_flush(timeout_millis=2000)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the active span, or None outside a (sampled or not) valid span."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def current_tracestate() -> str | None:
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get("tracestate") or None


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context:
    """A context whose parent span is the one `traceparent` names (empty context if absent or
    malformed)."""
    if not traceparent:
        return Context()
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return PROPAGATOR.extract(carrier, context=Context())


def traceparent_from_headers(headers: Iterable[tuple[str, bytes]]) -> tuple[str | None, str | None]:
    """The trace context carried by Kafka headers: the W3C `traceparent` header, else the
    CloudEvents `ce_traceparent` extension."""
    found: Mapping[str, bytes] = {key.lower(): value for key, value in headers}
    for parent_key, state_key in (
        ("traceparent", "tracestate"),
        ("ce_traceparent", "ce_tracestate"),
    ):
        if parent_key in found:
            state = found.get(state_key)
            return _text(found[parent_key]), _text(state) if state is not None else None
    return None, None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def trace_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the active span as hex, for log records."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
