"""A secret a client put in a URL's query string never reaches an exported span, as it never
reaches the access log: spans go to a collector and are kept like log lines."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from lts_events.telemetry import add_span_processor, instrument_http
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


async def test_a_token_in_the_query_string_is_redacted_in_the_request_span() -> None:
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter), service_name="query-secrets-test")
    app = FastAPI()

    @app.get("/tickets")
    async def tickets() -> list[str]:
        return []

    instrument_http(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/tickets?token=s3cr3t-value&page=2")

    [span] = [s for s in exporter.get_finished_spans() if s.name == "GET /tickets"]
    recorded = dict(span.attributes or {})
    assert response.status_code == 200
    assert not [name for name, value in recorded.items() if "s3cr3t" in str(value)]
    assert recorded["url.query"] == "token=REDACTED&page=2"
