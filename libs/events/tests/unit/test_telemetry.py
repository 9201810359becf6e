"""What the OTEL_* environment turns on, which spans are not worth a trace, and where a batch's
consumer span goes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lts_events.telemetry import (
    NoOrphanStatements,
    batch_parent,
    context_from,
    exporters_for,
    service_resource,
    traceparent_from_headers,
    with_traceparent,
)
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import SpanKind

TRACE_A = "0af7651916cd43dd8448eb211c80319c"
TRACE_B = "4bf92f3577b34da6a3ce929d0e0e4736"


def traceparent(trace_id: str, span_id: str = "b7ad6b7169203331") -> str:
    return f"00-{trace_id}-{span_id}-01"


def test_nothing_is_exported_unless_an_endpoint_or_an_exporter_is_named() -> None:
    assert exporters_for("traces", {}) == ()
    assert exporters_for("metrics", {}) == ()


def test_an_otlp_endpoint_exports_every_signal_over_otlp() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}

    assert exporters_for("traces", env) == ("otlp",)
    assert exporters_for("metrics", env) == ("otlp",)


def test_a_signals_own_endpoint_exports_that_signal_only() -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}

    assert exporters_for("traces", env) == ("otlp",)
    assert exporters_for("metrics", env) == ()


@pytest.mark.parametrize("listed", ["none", "otlp,none", " None "])
def test_none_turns_a_signals_export_off_despite_an_endpoint(listed: str) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": listed}

    assert exporters_for("traces", env) == ()
    assert exporters_for("metrics", env) == ("otlp",)


def test_listed_exporters_are_used_as_listed_once_each() -> None:
    env = {"OTEL_METRICS_EXPORTER": "console, otlp,console"}

    assert exporters_for("metrics", env) == ("console", "otlp")


def test_the_disabled_sdk_exports_nothing() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}

    assert exporters_for("traces", env) == ()


SETUP = (
    "from lts_events.telemetry import setup_telemetry, spans_exported;"
    "from opentelemetry import metrics;"
    "setup_telemetry('lts-probe');"
    "print(spans_exported(), type(metrics.get_meter_provider()).__name__)"
)


def _set_up_with(**env: str) -> str:
    """What a fresh process set up with `env` exports: spans? which meter provider?"""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", SETUP], env={**clean, **env}, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


@pytest.mark.parametrize(
    ("env", "exported"),
    [
        ({}, "False _ProxyMeterProvider"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, "True MeterProvider"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER": "none"},
            "False MeterProvider",
        ),
    ],
    ids=["nothing", "endpoint", "traces-none"],
)
def test_a_process_exports_what_its_environment_asks_for(
    env: dict[str, str], exported: str
) -> None:
    assert _set_up_with(**env) == exported


def test_the_service_is_named_by_the_environment_when_it_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "intake-eu")

    resource = service_resource("lts-intake")

    assert resource.attributes["service.name"] == "intake-eu"
    assert resource.attributes["deployment.environment.name"] == "staging"
    assert resource.attributes["telemetry.sdk.language"] == "python"


def test_the_service_keeps_its_own_name_when_the_environment_gives_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=lts")

    resource = service_resource("lts-intake")

    assert resource.attributes["service.name"] == "lts-intake"
    assert resource.attributes["service.namespace"] == "lts"


def test_a_statement_outside_any_trace_is_dropped_and_inside_one_is_kept() -> None:
    sampler = NoOrphanStatements(ALWAYS_ON)
    statement = {"db.system": "postgresql", "db.statement": "SELECT 1"}
    in_trace = context_from(traceparent(TRACE_A))

    orphan = sampler.should_sample(None, 1, "SELECT", SpanKind.CLIENT, statement)
    child = sampler.should_sample(in_trace, 1, "SELECT", SpanKind.CLIENT, statement)
    request = sampler.should_sample(None, 1, "GET /tickets", SpanKind.SERVER, {})

    assert orphan.decision is Decision.DROP
    assert child.decision is Decision.RECORD_AND_SAMPLE
    assert request.decision is Decision.RECORD_AND_SAMPLE


def test_a_batch_of_one_trace_continues_it() -> None:
    headers = [
        [("traceparent", traceparent(TRACE_A, "00000000000000a1").encode())],
        [("ce_traceparent", traceparent(TRACE_A, "00000000000000a2").encode())],
    ]

    parent, links = batch_parent(headers)

    assert parent is not None
    assert format(trace.get_current_span(parent).get_span_context().trace_id, "032x") == TRACE_A
    assert links == []


@pytest.mark.parametrize(
    "second", [[("traceparent", traceparent(TRACE_B).encode())], []], ids=["other", "none"]
)
def test_a_batch_of_several_traces_or_untraced_messages_links_to_each_trace(
    second: list[tuple[str, bytes]],
) -> None:
    headers = [[("traceparent", traceparent(TRACE_A).encode())], second]

    parent, links = batch_parent(headers)

    assert parent is None
    linked = {format(link.context.trace_id, "032x") for link in links}
    assert linked == {TRACE_A, TRACE_B} if second else {TRACE_A}


def test_a_continued_message_carries_the_new_trace_context_in_both_headers() -> None:
    headers = [
        ("ce_id", b"e-1"),
        ("traceparent", traceparent(TRACE_A).encode()),
        ("ce_traceparent", traceparent(TRACE_A).encode()),
    ]

    continued = with_traceparent(headers, traceparent(TRACE_B))

    assert traceparent_from_headers(continued)[0] == traceparent(TRACE_B)
    assert dict(continued)["ce_traceparent"] == traceparent(TRACE_B).encode()
    assert dict(continued)["ce_id"] == b"e-1"
