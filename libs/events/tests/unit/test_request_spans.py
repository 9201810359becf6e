"""A request runs in a span continuing an incoming `traceparent` whether spans are exported or
not (events stored while answering and log records carry its trace); exported, it is one span
named by the route."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
from fastapi import FastAPI
from lts_events.telemetry import add_span_processor, current_traceparent, instrument_http
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


def app_answering_its_traceparent() -> FastAPI:
    app = FastAPI()

    @app.get("/tickets/{ticket_id}")
    async def ticket(ticket_id: int) -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}

    instrument_http(app)
    return app


# In a process of its own: a span exported by any other test turns export on for the process.
UNEXPORTED = f"""
import asyncio, json, httpx
from fastapi import FastAPI
from lts_events.telemetry import current_traceparent, instrument_http, setup_telemetry
from lts_events.telemetry import spans_exported

async def main():
    setup_telemetry("lts-probe")
    app = FastAPI()

    @app.get("/tickets/{{ticket_id}}")
    async def ticket(ticket_id: int) -> dict[str, str | None]:
        return {{"traceparent": current_traceparent()}}

    instrument_http(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        continued = await client.get("/tickets/7", headers={{"traceparent": "{CALLER}"}})
        started = await client.get("/tickets/7")
    print(json.dumps([spans_exported(), continued.json(), started.json()]))

asyncio.run(main())
"""


def test_unexported_a_request_continues_the_callers_trace_or_starts_one() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", UNEXPORTED],
        env=clean,
        capture_output=True,
        check=True,
    )
    exported, continued, started = json.loads(done.stdout.decode().splitlines()[-1])

    assert exported is False
    _, trace_id, span_id, _ = continued["traceparent"].split("-")
    assert trace_id == CALLER_TRACE
    assert span_id != "b7ad6b7169203331"  # the request's own span, under the caller's
    assert started["traceparent"] is not None
    assert started["traceparent"].split("-")[1] != CALLER_TRACE


async def test_exported_a_request_is_one_span_named_by_its_route() -> None:
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter), service_name="request-spans-test")
    transport = httpx.ASGITransport(app=app_answering_its_traceparent())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answer = await client.get("/tickets/7", headers={"traceparent": CALLER})

    spans = [
        span
        for span in exporter.get_finished_spans()
        if format(span.context.trace_id, "032x") == CALLER_TRACE
    ]
    assert [span.name for span in spans] == ["GET /tickets/{ticket_id}"]
    assert answer.json()["traceparent"].split("-")[2] == format(spans[0].context.span_id, "016x")
