"""OpenTelemetry setup and the W3C trace-context helpers the store, relay and consumer share.

Export (OTLP/HTTP, console or none) follows the standard `OTEL_*` variables (`setup_telemetry`);
HTTP requests and SQL statements are instrumented by the OpenTelemetry instrumentations
(`instrument_http`, `instrument_sql`). The trace context is stored in event metadata at append
time (`current_traceparent`), continued by the relay as a producer span and by the consumer as a
consumer span (`context_from`, `batch_parent`)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from lts_events.access_log import redact_query

log = logging.getLogger(__name__)

PROPAGATOR = TraceContextTextMapPropagator()
_configured: TracerProvider | None = None
_exporting = False

# Probes and scrapes are not traced (a span per kubelet probe is noise); the metrics
# service's own `/metrics/...` API is. Telemetry pings are not either: a span would record the
# deployment's address, and the metrics service keeps no personal data of a ping. Matched
# against the URL without its query.
_UNTRACED_PATHS = r"/(healthz|readyz|readyz/details|metrics|telemetry/ping)$"
_OTLP_PROTOCOL = "http/protobuf"  # the only OTLP exporter installed


def exporters_for(signal: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """The exporters the `OTEL_*` environment asks for one signal (`traces`, `metrics`), as
    the SDK names them (`otlp`, `console`). `OTEL_<SIGNAL>_EXPORTER` lists them (`none` for
    none); left unset it means `otlp` once an OTLP endpoint is set, and nothing otherwise, so
    a process nobody configured exports nothing and pays for no span it would not send."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ()
    listed = env.get(f"OTEL_{signal.upper()}_EXPORTER")
    if listed is None:
        endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
        return ("otlp",) if any(env.get(name) for name in endpoints) else ()
    names = [name.strip().lower() for name in listed.split(",") if name.strip()]
    return () if "none" in names else tuple(dict.fromkeys(names))


def service_resource(default_name: str) -> Resource:
    """The SDK's resource (`telemetry.sdk.*`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`)
    named `default_name` unless the environment names the service."""
    named = Resource.create({SERVICE_NAME: default_name})
    return named.merge(OTELResourceDetector().detect())  # the environment's names win


def setup_telemetry(service_name: str) -> TracerProvider:
    """Install the SDK's tracer provider (and meter provider, when metrics are exported) once
    per process, exporting as the `OTEL_*` environment says (`exporters_for`). Spans are
    created either way (so trace ids propagate and appear in logs), but only exported ones
    cost more than that (`spans_exported`)."""
    global _configured
    if _configured is not None:
        return _configured
    # The stable HTTP semantic conventions (`http.route`, `http.server.request.duration`)
    # unless the operator chose; the instrumentations still default to the old ones.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    resource = service_resource(service_name)
    # OTEL_TRACES_SAMPLER's sampler (the SDK's own reading of it), minus orphan statements
    provider = TracerProvider(
        resource=resource, sampler=NoOrphanStatements(sampling._get_from_env_or_default())
    )
    for name in exporters_for("traces", os.environ):
        if (span_exporter := _span_exporter(name)) is not None:
            add_span_processor(BatchSpanProcessor(span_exporter), provider=provider)
    _export_metrics(resource)
    trace.set_tracer_provider(provider)
    _configured = provider
    return provider


def _export_metrics(resource: Resource) -> None:
    """A meter provider only when metrics are exported: otherwise the API's no-op one."""
    readers = [
        PeriodicExportingMetricReader(exporter)
        for name in exporters_for("metrics", os.environ)
        if (exporter := _metric_exporter(name)) is not None
    ]
    if readers:
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


class NoOrphanStatements(Sampler):
    """Drops the span of a SQL statement that belongs to no trace (a relay's poll, a probe's
    `SELECT 1`, a projection's read): thousands a minute, each a trace of one span that
    nobody asked for. Statements run for a request or a message are in its trace; every
    other span is left to `delegate`."""

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT and _is_statement(attributes) and not _in_trace(parent_context):
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoOrphanStatements{{{self._delegate.get_description()}}}"


def _is_statement(attributes: Attributes) -> bool:
    return attributes is not None and ("db.system" in attributes or "db.system.name" in attributes)


def _in_trace(parent_context: Context | None) -> bool:
    return trace.get_current_span(parent_context).get_span_context().is_valid


def add_span_processor(
    processor: SpanProcessor,
    *,
    service_name: str = "lts-flow",
    provider: TracerProvider | None = None,
) -> None:
    """Send finished spans to `processor` (an exporter), setting up the provider if needed."""
    global _exporting
    provider = provider or _configured or setup_telemetry(service_name)
    provider.add_span_processor(processor)
    _exporting = True


def spans_exported() -> bool:
    """Whether finished spans go anywhere. Without an exporter a span per message is pure cost,
    so the relay then forwards the stored trace context as it is."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return False
    return provider is not _configured or _exporting


def instrument_http(app: FastAPI) -> None:
    """A server span per request named by its route (`GET /tickets/{ticket_id}`), continuing
    an incoming `traceparent`, so events appended while answering carry the request's trace;
    and the HTTP server metrics (exported with the other metrics, if any). While neither
    spans nor metrics are exported, a bare span instead (`_BareSpanUnlessExported`)."""
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=_UNTRACED_PATHS,
        exclude_spans=["receive", "send"],  # a span per ASGI message: noise
        server_request_hook=_redact_query_attributes,
        tracer_provider=_configured,
    )
    instrumented = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        stack = instrumented()
        # the instrumentation's stack: a bare ServerErrorMiddleware around its middleware
        if isinstance(stack, ServerErrorMiddleware) and isinstance(
            stack.app, OpenTelemetryMiddleware
        ):
            stack.app = _BareSpanUnlessExported(stack.app)
        return stack

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


class _BareSpanUnlessExported:
    """While no span and no metric is exported, a request runs in a span without attributes
    and without the HTTP metrics: the instrumentation's middleware (attributes, its own
    routing to name the span, the metrics' bookkeeping on every answer) held ~17% of intake's
    samples in the intake_http bench (py-spy), for nothing exported. The span still continues
    an incoming `traceparent`, so the events stored and the log records carry the request's
    trace as before. Checked per request: an exporter added later is honoured."""

    def __init__(self, instrumented: OpenTelemetryMiddleware) -> None:
        # `app`, as every middleware names what it wraps: FastAPI walks the stack by it and,
        # finding the instrumentation's middleware, leaves its own spans off
        self.app = instrumented
        self._uninstrumented = instrumented.app
        self._tracer = trace.get_tracer(__name__, tracer_provider=_configured)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _http_telemetry_exported() or _UNTRACED.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        with self._tracer.start_as_current_span(
            scope["method"], context=_request_parent(scope["headers"]), kind=SpanKind.SERVER
        ):
            await self._uninstrumented(scope, receive, send)


_UNTRACED = re.compile(_UNTRACED_PATHS)


def _http_telemetry_exported() -> bool:
    return spans_exported() or isinstance(metrics.get_meter_provider(), MeterProvider)


def _request_parent(headers: Iterable[tuple[bytes, bytes]]) -> Context:
    """The context an incoming W3C `traceparent` header names (empty: a new trace)."""
    traceparent = tracestate = None
    for name, value in headers:
        if name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"tracestate":
            tracestate = value.decode("latin-1")
    return context_from(traceparent, tracestate)


# Where the HTTP instrumentation records the query string: the stable conventions (`url.query`)
# and the old ones (`http.target`, `http.url`; both under OTEL_SEMCONV_STABILITY_OPT_IN=http/dup).
_QUERY_ATTRIBUTES = ("url.query", "url.full", "http.target", "http.url")


def _redact_query_attributes(span: Span, scope: dict[str, Any]) -> None:
    """A span is exported to a collector and kept like a log line: a `?token=` a client put in
    the URL is replaced there as in the access log (`access_log.redact_query`)."""
    if not scope.get("query_string"):
        return
    recorded: Attributes = getattr(span, "attributes", None)
    for name in _QUERY_ATTRIBUTES:
        value = recorded.get(name) if recorded else None
        if isinstance(value, str):
            query_only = name == "url.query"
            redacted = redact_query(f"?{value}" if query_only else value)
            span.set_attribute(name, redacted[1:] if query_only else redacted)


def instrument_sql() -> None:
    """A span per SQL statement, for the SQLAlchemy engine and the raw pool alike (both run on
    asyncpg); only while spans are exported, since the wrapper costs every statement."""
    if not spans_exported():
        return
    # statements without their parameters: no ticket data in spans
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_configured)


# The OTLP exporters are imported when chosen: they load protobuf and requests.
def _span_exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _warn_unless_http_protocol("traces")
        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console, none)", name)
    return None


def _metric_exporter(name: str) -> MetricExporter | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        _warn_unless_http_protocol("metrics")
        return OTLPMetricExporter()
    if name == "console":
        return ConsoleMetricExporter()
    log.warning("OTEL_METRICS_EXPORTER=%s is not supported here (otlp, console, none)", name)
    return None


def _warn_unless_http_protocol(signal: str) -> None:
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(name)
        if protocol and protocol != _OTLP_PROTOCOL:
            log.warning("%s=%s: only %s is installed, used instead", name, protocol, _OTLP_PROTOCOL)
            return


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


def batch_parent(
    batch_headers: Iterable[Iterable[tuple[str, bytes]]],
) -> tuple[Context | None, list[Link]]:
    """Where a batch's consumer span goes, by OpenTelemetry's messaging conventions: into the
    one trace all its messages carry (a quiet system's batch of one, say), else under the
    current context with a link to each message's trace. `(None, links)` in the second case."""
    contexts = [context_from(*traceparent_from_headers(headers)) for headers in batch_headers]
    spans = [trace.get_current_span(context).get_span_context() for context in contexts]
    one_trace = len({span.trace_id for span in spans}) == 1
    if one_trace and all(span.is_valid for span in spans):
        return contexts[0], []
    return None, [Link(span) for span in spans if span.is_valid]


def with_traceparent(
    headers: Iterable[tuple[str, bytes]], traceparent: str
) -> tuple[tuple[str, bytes], ...]:
    """`headers` with the trace context they carry replaced by `traceparent`."""
    value = traceparent.encode()
    return tuple(
        (key, value) if key.lower() in _TRACEPARENT_HEADERS else (key, raw) for key, raw in headers
    )


_TRACEPARENT_HEADERS = ("traceparent", "ce_traceparent")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def trace_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the active span as hex, for log records."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
