"""Test harness only: an OTLP/HTTP receiver in the test process, standing in for the collector.

Services started with `OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint` export their spans and
metrics here (protobuf `ExportTraceServiceRequest` / `ExportMetricsServiceRequest`); a test
waits on what arrived (`wait_for`) instead of sleeping."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

T = TypeVar("T")

KINDS = {
    Span.SPAN_KIND_INTERNAL: "internal",
    Span.SPAN_KIND_SERVER: "server",
    Span.SPAN_KIND_CLIENT: "client",
    Span.SPAN_KIND_PRODUCER: "producer",
    Span.SPAN_KIND_CONSUMER: "consumer",
}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str  # internal, server, client, producer, consumer
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_id: str  # "" for a root span
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


@dataclass(frozen=True)
class ReceivedMetric:
    service: str
    name: str
    points: tuple[Mapping[str, Any], ...]  # each data point's attributes


class OtlpReceiver:
    """What the exporters sent so far, in arrival order."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._metrics: list[ReceivedMetric] = []
        self.endpoint = ""

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._changed:
            return list(self._spans)

    @property
    def metrics(self) -> list[ReceivedMetric]:
        with self._changed:
            return list(self._metrics)

    def wait_for(self, found: Callable[[OtlpReceiver], T | None], *, timeout: float) -> T | None:
        """`found(self)` once it is not None (checked at each export), or None after `timeout`."""
        result: T | None = None

        def ready() -> bool:
            nonlocal result
            result = found(self)
            return result is not None

        with self._changed:
            self._changed.wait_for(ready, timeout=timeout)
        return result

    def receive(self, path: str, body: bytes) -> bool:
        if path == "/v1/traces":
            spans = _spans(ExportTraceServiceRequest.FromString(body))
            with self._changed:
                self._spans.extend(spans)
                self._changed.notify_all()
            return True
        if path == "/v1/metrics":
            metrics = _metrics(ExportMetricsServiceRequest.FromString(body))
            with self._changed:
                self._metrics.extend(metrics)
                self._changed.notify_all()
            return True
        return path == "/v1/logs"


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A receiver on a free port of 127.0.0.1 for the duration of the block."""
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            known = receiver.receive(self.path, body)
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per export would bury the test's output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _spans(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    received: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            received.extend(
                ReceivedSpan(
                    service=str(resource.get("service.name", "")),
                    name=span.name,
                    kind=KINDS.get(span.kind, "unspecified"),
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex(),
                    attributes=_attributes(span.attributes),
                    resource=resource,
                )
                for span in scope_spans.spans
            )
    return received


def _metrics(request: ExportMetricsServiceRequest) -> list[ReceivedMetric]:
    received: list[ReceivedMetric] = []
    for resource_metrics in request.resource_metrics:
        service = str(_attributes(resource_metrics.resource.attributes).get("service.name", ""))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points if kind else ()
                attributes = tuple(_attributes(point.attributes) for point in points)
                received.append(ReceivedMetric(service, metric.name, attributes))
    return received


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None
