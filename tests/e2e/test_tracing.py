"""Telemetry over the real stack: the services export OTLP/HTTP to a receiver in this test process
(`harness.otlp`) as they would to the collector of docker-compose. One alert sent to intake's
webhook is one trace, from the HTTP request through intake's store and relay, Kafka, triage's
consumer, store and relay, to the metrics service's consumer, each hop the child of the span whose
`traceparent` it received."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from harness.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver

from .conftest import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FIXTURES = Path(__file__).resolve().parents[2] / "services" / "intake" / "tests" / "fixtures"
WAIT = 120.0
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: OtlpReceiver,
) -> Iterator[Stack]:
    """A stack of its own, exporting to `receiver` as to a collector."""
    exporting = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # spans leave within 0.1 s, not 5 s
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=e2e",
    }
    with running_stack(request, tmp_path_factory, exporting) as stack:
        yield stack


def test_one_alert_is_one_trace_from_the_webhook_to_the_metrics_service(
    stack: Stack, receiver: OtlpReceiver
) -> None:
    trace_id = uuid.uuid4().hex

    response = httpx.post(
        f"{stack.urls['intake']}/webhooks/alertmanager",
        json=one_alert(),
        headers={
            "Authorization": "Bearer dev-alert-webhook-token",
            "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    hops = receiver.wait_for(lambda r: Hops.of(r.spans, trace_id, stack), timeout=WAIT)

    assert hops is not None, missing(receiver.spans, trace_id, stack)
    assert hops.request.name == "POST /webhooks/alertmanager"
    assert hops.request.parent_id == CALLER_SPAN  # the caller's traceparent continued
    assert {s.service for s in hops.trace} == {"lts-intake", "lts-triage", "lts-metrics"}


def test_requests_are_named_by_their_route_and_measured_and_probes_are_not_traced(
    stack: Stack, receiver: OtlpReceiver
) -> None:
    response = httpx.get(
        f"{stack.urls['intake']}/tickets/424242", headers={"Authorization": "Bearer dev-analyst"}
    )
    probed = httpx.get(f"{stack.urls['intake']}/readyz")

    read = receiver.wait_for(lambda r: _span(r.spans, "GET /tickets/{ticket_id}"), timeout=WAIT)
    measured = receiver.wait_for(_ticket_reads_measured, timeout=WAIT)
    assert response.status_code == 404
    assert probed.status_code == 200
    assert read is not None
    assert measured
    assert read.attributes["http.route"] == "/tickets/{ticket_id}"
    assert read.resource["deployment.environment.name"] == "e2e"  # OTEL_RESOURCE_ATTRIBUTES
    assert not [s for s in receiver.spans if s.kind == "server" and "/readyz" in s.name]


class Hops:
    """The spans of one alert's trace, found hop by hop, each the child of the one before."""

    def __init__(self, trace: Sequence[ReceivedSpan], request: ReceivedSpan) -> None:
        self.trace, self.request = trace, request

    @staticmethod
    def of(spans: Sequence[ReceivedSpan], trace_id: str, stack: Stack) -> Hops | None:
        """The hops once every one has arrived and the trace is one tree (every span's parent
        a span of it, but the request's), else None. (A parent ends, and so arrives, after its
        children.)"""
        trace = [span for span in spans if span.trace_id == trace_id]
        intake, triage = (f"{stack.namespace}lts.{s}.events" for s in ("intake", "triage"))
        request = _one(trace, "lts-intake", "server", parent=CALLER_SPAN)
        intake_store = _one(trace, "lts-intake", "client", parent=request, statement=True)
        published = _one(trace, "lts-intake", "producer", f"{intake} publish", parent=request)
        triaged = _one(trace, "lts-triage", "consumer", f"{intake} process", parent=published)
        triage_store = _one(trace, "lts-triage", "client", parent=triaged, statement=True)
        forwarded = _one(trace, "lts-triage", "producer", f"{triage} publish", parent=triaged)
        audited = _one(trace, "lts-metrics", "consumer", f"{intake} process", parent=published)
        followed = _one(trace, "lts-metrics", "consumer", f"{triage} process", parent=forwarded)
        metrics_store = _one(trace, "lts-metrics", "client", parent=followed, statement=True)
        hops = (intake_store, triage_store, audited, metrics_store)
        if request is None or any(hop is None for hop in hops):
            return None
        ids = {span.span_id for span in trace}
        if any(span.parent_id not in ids for span in trace if span is not request):
            return None
        return Hops(trace, request)


def _one(
    trace: Sequence[ReceivedSpan],
    service: str,
    kind: str,
    name: str | None = None,
    *,
    parent: ReceivedSpan | str | None,
    statement: bool = False,
) -> ReceivedSpan | None:
    """A span of `service` of that kind (and name), child of `parent`; None if none (yet)."""
    if parent is None:
        return None
    parent_id = parent if isinstance(parent, str) else parent.span_id
    for span in trace:
        if (span.service, span.kind, span.parent_id) != (service, kind, parent_id):
            continue
        if (name is None or span.name == name) and (
            not statement or span.attributes.get("db.system") == "postgresql"
        ):
            return span
    return None


def _span(spans: Sequence[ReceivedSpan], name: str) -> ReceivedSpan | None:
    return next((s for s in spans if s.service == "lts-intake" and s.name == name), None)


def _ticket_reads_measured(receiver: OtlpReceiver) -> bool | None:
    return (
        any(
            metric.service == "lts-intake"
            and metric.name == "http.server.request.duration"
            and any(point.get("http.route") == "/tickets/{ticket_id}" for point in metric.points)
            for metric in receiver.metrics
        )
        or None
    )


def one_alert() -> dict[str, object]:
    notification = json.loads((FIXTURES / "alertmanager_firing.json").read_text())
    notification["alerts"] = notification["alerts"][:1]
    return dict(notification)


def missing(spans: Sequence[ReceivedSpan], trace_id: str, stack: Stack) -> str:
    trace = [span for span in spans if span.trace_id == trace_id]
    lines = [f"{s.service} {s.kind} {s.name!r} {s.span_id} <- {s.parent_id}" for s in trace]
    return "incomplete trace:\n" + "\n".join(lines) + "\n" + stack.tail()
