"""The service host against real Kafka and PostgreSQL: lifespan, probes, metrics, AsyncAPI, and a
request's trace travelling HTTP -> store -> relay -> Kafka -> a batch consumer's follow-ups."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from lts_events.actors import automation
from lts_events.consumer import Inbound, PermanentError, RawMessage, Subscriptions
from lts_events.contracts.anchors import ChainAnchored
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import header, topic_for_type
from lts_events.relay import envelope_record
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.anchors import ANCHOR_STREAM, key_id
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY
from lts_events.store.postgres import asyncpg_url
from lts_events.telemetry import add_span_processor, current_traceparent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

INCOMING_TRACE = "5b8efff798038103d269b633813fc60c"


class PingRecorded(Event):
    type: ClassVar[str] = "lts.rthost.ping_recorded"
    ping_id: str


def routers(ctx: ServiceContext) -> Sequence[APIRouter]:
    router = APIRouter()

    @router.post("/pings/{ping_id}", status_code=201)
    async def record_ping(ping_id: str) -> dict[str, str]:
        metadata = Metadata(actor=automation(ctx.name), traceparent=current_traceparent())
        await ctx.store.append(
            f"ping-{ping_id}",
            [NewEvent.of(PingRecorded(ping_id=ping_id), metadata)],
            expected_version=ANY,
        )
        return {"ping_id": ping_id}

    return [router]


class PingEchoed(Event):
    type: ClassVar[str] = "lts.rthost.ping_echoed"
    ping_id: str


def echo(ctx: ServiceContext) -> Subscriptions:
    """The service consumes its own topic and records an echo per ping, exactly once."""

    async def on_ping(inbound: Inbound[PingRecorded]) -> None:
        metadata = inbound.follow_up(actor=automation(ctx.name))
        await ctx.store.append(
            f"echo-{inbound.event.ping_id}",
            [NewEvent.of(PingEchoed(ping_id=inbound.event.ping_id), metadata)],
            expected_version=ANY,
            processed=inbound.processed,
        )

    own_topic = {"lts.rthost.events": f"lts.{ctx.name}.events"}
    return Subscriptions(f"{ctx.name}-echo", store=ctx.store, topics=own_topic).on(
        PingRecorded, on_ping
    )


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Finished spans of this test process (an exporter makes the relay emit producer spans)."""
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


NamedSettings = Callable[[str], tuple[str, RuntimeSettings]]


@pytest.fixture
def named_settings(kafka: str, database_url: str, unique: Callable[[str], str]) -> NamedSettings:
    """A new service name with that prefix, and its settings on the test infrastructure."""

    def make(prefix: str) -> tuple[str, RuntimeSettings]:
        name = unique(prefix).replace("-", "_")
        return name, RuntimeSettings.for_service(
            name, kafka_bootstrap_servers=kafka, database_url=database_url
        )

    return make


async def drop_schema(database_url: str, name: str) -> None:
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()


@pytest.fixture
async def service(
    named_settings: NamedSettings, database_url: str
) -> AsyncIterator[tuple[str, FastAPI]]:
    name, settings = named_settings("rthost")
    spec = ServiceSpec(
        name=name,
        build=lambda ctx: ServiceParts(routers=routers(ctx), subscriptions=echo(ctx)),
        title="runtime host test",
    )
    app = build_app(spec, settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        yield name, app
    await drop_schema(database_url, name)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


async def test_a_started_service_is_alive_ready_and_exposes_metrics_and_asyncapi(
    service: tuple[str, FastAPI],
) -> None:
    name, app = service
    async with client(app) as http:
        alive = await http.get("/healthz")
        ready = await _ready(http)
        details = await _relay_caught_up(http)
        metrics = await http.get("/metrics")
        asyncapi = await http.get("/asyncapi")

    assert alive.status_code == 200
    assert ready.json() == {"ready": True}
    assert details["ready"] is True
    assert details["relay"]["topic"] == f"lts.{name}.events"
    assert gc.get_freeze_count() > 10_000  # start-up objects are out of the cyclic GC's walks
    assert gc.get_threshold()[0] >= 100_000  # and young collections are rare
    assert f'lts_relay_caught_up{{service="{name}",topic="lts.{name}.events"}} 1.0' in metrics.text
    assert asyncapi.json()["asyncapi"].startswith("3.")


async def test_an_event_appended_by_a_request_reaches_kafka_in_the_requests_trace(
    service: tuple[str, FastAPI], kafka: str, spans: InMemorySpanExporter
) -> None:
    name, app = service
    async with client(app) as http:
        response = await http.post(
            "/pings/p1", headers={"traceparent": f"00-{INCOMING_TRACE}-b7ad6b7169203331-01"}
        )

    [record] = await _read(kafka, f"lts.{name}.events", 1)
    assert response.status_code == 201
    assert record.key == b"ping-p1"
    assert header(record.headers, "ce_type") == PingRecorded.type
    assert header(record.headers, "ce_source") == f"lts-flow/{name}"
    [stored] = (await app.state.runtime.store.read_stream("ping-p1")).events
    stored_trace, stored_span = _ids(stored.metadata.traceparent)
    published_trace, published_span = _ids(header(record.headers, "traceparent"))
    assert stored_trace == published_trace == INCOMING_TRACE
    finished = spans.get_finished_spans()
    [request_span] = [s for s in finished if _span_id(s) == stored_span]
    assert request_span.name == "POST /pings/{ping_id}"  # the route, not the ping's id
    assert request_span.kind is SpanKind.SERVER
    statements = [s for s in finished if _parent_id(s) == stored_span and s.kind is SpanKind.CLIENT]
    assert statements  # the append's SQL, in the request's trace
    [producer_span] = [s for s in finished if _span_id(s) == published_span]
    assert producer_span.name == f"lts.{name}.events publish"
    assert _parent_id(producer_span) == stored_span
    assert header(record.headers, "ce_traceparent") == header(record.headers, "traceparent")


def _ids(traceparent: str | None) -> tuple[str, str]:
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def _span_id(span: ReadableSpan) -> str:
    context = span.get_span_context()
    return format(context.span_id, "016x") if context else ""


def _parent_id(span: ReadableSpan) -> str:
    return format(span.parent.span_id, "016x") if span.parent else ""


async def test_published_events_are_counted(service: tuple[str, FastAPI]) -> None:
    name, app = service
    async with client(app) as http:
        await http.post("/pings/p3")
        await _published(http, 2)  # the ping and its echo; nothing else is published
        metrics = (await http.get("/metrics")).text

    assert "# TYPE lts_relay_published_events_total counter" in metrics
    labels = f'service="{name}",topic="lts.{name}.events"'
    assert f"lts_relay_published_events_total{{{labels}}} 2.0" in metrics


async def test_the_services_subscriptions_consume_what_its_relay_published(
    service: tuple[str, FastAPI],
) -> None:
    _, app = service
    async with client(app) as http:
        await http.post("/pings/p2")
    store = app.state.runtime.store

    async with asyncio.timeout(45):
        while True:
            echo = await store.read_stream("echo-p2")
            if echo.exists:
                break
            await asyncio.sleep(0.2)

    [echoed] = echo.events
    assert echoed.data == {"ping_id": "p2"}
    assert echoed.metadata.causation_id is not None


async def test_readiness_reports_why_when_the_store_is_gone(
    service: tuple[str, FastAPI],
) -> None:
    _, app = service
    await app.state.runtime.store.engine.dispose()
    app.state.runtime.store = None
    async with client(app) as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert "store not connected" in response.json()["reasons"]


async def _ready(http: httpx.AsyncClient) -> httpx.Response:
    async with asyncio.timeout(30):
        while True:
            response = await http.get("/readyz")
            if response.status_code == 200:
                return response
            await asyncio.sleep(0.2)


async def _relay_caught_up(http: httpx.AsyncClient) -> dict[str, Any]:
    """/readyz/details once the relay has published everything (lag is shown there, not a
    reason to be unready)."""
    async with asyncio.timeout(30):
        while True:
            details: dict[str, Any] = (await http.get("/readyz/details")).json()
            if details.get("relay", {}).get("caught_up"):
                return details
            await asyncio.sleep(0.1)


async def _published(http: httpx.AsyncClient, count: int) -> None:
    async with asyncio.timeout(30):
        while True:
            details = (await http.get("/readyz/details")).json()
            if details.get("relay", {}).get("published", 0) >= count:
                return
            await asyncio.sleep(0.1)


async def _read(kafka: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_a_service_that_does_not_publish_is_ready_without_a_relay_and_says_why_not(
    named_settings: NamedSettings,
) -> None:
    name, settings = named_settings("rtquiet")
    waiting = ["projections behind"]

    def readiness(ctx: ServiceContext) -> Callable[[], Awaitable[list[str]]]:
        async def reasons() -> list[str]:
            return list(waiting)

        return reasons

    spec = ServiceSpec(
        name=name, publishes=False, build=lambda ctx: ServiceParts(readiness=readiness(ctx))
    )
    app = build_app(spec, settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30), client(app) as http:
        behind = await http.get("/readyz")
        waiting.clear()
        ready = await _ready(http)

    assert behind.status_code == 503
    assert behind.json()["reasons"] == ["projections behind"]
    assert ready.json() == {"ready": True}
    assert app.state.runtime.relay is None


async def test_a_batch_handler_runs_in_one_consumer_span_marked_when_it_dead_letters(
    spans: InMemorySpanExporter,
) -> None:
    topic = "lts.spanned.batch"

    async def refuse_second(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        return [None, PermanentError("not wanted"), None][: len(messages)]

    messages = [RawMessage("v", (), b"k", topic, 0, offset, f"m-{offset}") for offset in range(3)]
    subs = Subscriptions("spanned", store=InMemoryEventStore()).on_raw_batch(topic, refuse_second)

    dead = await subs.process_batch(messages)

    [span] = [s for s in spans.get_finished_spans() if s.name == f"{topic} process"]
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 3
    assert span.status.status_code is StatusCode.ERROR
    assert [m.message_id for m, _ in dead] == ["m-1"]


async def test_a_batch_of_one_trace_is_processed_in_it_and_what_it_causes_continues_its_span(
    spans: InMemorySpanExporter,
) -> None:
    topic = topic_for_type(PingRecorded.type)
    sent = f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"
    received: list[str | None] = []

    async def follow(inbounds: Sequence[Inbound[Event]]) -> list[PermanentError | None]:
        received.extend(inbound.envelope.traceparent for inbound in inbounds)
        return [None] * len(inbounds)

    messages = [_ping_message(topic, f"b{n}", offset=n, traceparent=sent) for n in range(2)]
    subs = Subscriptions("spanned", store=InMemoryEventStore()).on_batch([PingRecorded], follow)

    await subs.process_batch(messages)

    [span] = [s for s in spans.get_finished_spans() if _span_id(s) == _ids(received[0])[1]]
    assert span.name == f"{topic} process"
    assert span.kind is SpanKind.CONSUMER
    assert _ids(received[0])[0] == INCOMING_TRACE  # in the messages' trace
    assert _parent_id(span) == "00f067aa0ba902b7"  # the span whose traceparent they carried
    assert received[1] == received[0]


def _ping_message(topic: str, ping_id: str, *, offset: int, traceparent: str) -> RawMessage:
    event = PingRecorded(ping_id=ping_id)
    envelope = Envelope(
        id=f"ping-{offset}",
        source="test",
        type=event.type,
        data=event.model_dump(mode="json"),
        traceparent=traceparent,  # the ce_traceparent header, which the relay also sends as
    )
    _, value, headers = envelope_record(envelope)
    return RawMessage.of(
        value=value,
        headers=[*headers, ("traceparent", traceparent.encode())],  # <- this one
        key=b"ping",
        topic=topic,
        partition=0,
        offset=offset,
    )


async def test_a_services_background_loop_runs_until_the_service_stops_then_is_cancelled(
    named_settings: NamedSettings, database_url: str
) -> None:
    name, settings = named_settings("rtloop")
    rounds: list[int] = []
    ended: list[str] = []
    running = asyncio.Event()

    async def loop(ctx: ServiceContext) -> None:
        try:
            while True:
                async with ctx.store.engine.connect() as connection:  # the store is open
                    rounds.append((await connection.execute(text("SELECT 1"))).scalar_one())
                if len(rounds) >= 3:
                    running.set()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def on_start(ctx: ServiceContext) -> None:
        ctx.run_in_background(loop(ctx), name="loop")

    app = build_app(
        ServiceSpec(
            name=name,
            build=lambda ctx: ServiceParts(on_start=lambda: on_start(ctx)),
            publishes=False,
        ),
        settings,
    )
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        await asyncio.wait_for(running.wait(), timeout=30)
    (loop_task,) = app.state.runtime.background
    over_when_stopped = loop_task.done()  # then nothing of it can run after the stop

    assert over_when_stopped
    assert ended == ["cancelled"]  # by the host's stop, not by a failing query on a closed store
    assert loop_task.cancelled()
    await drop_schema(database_url, name)


async def test_the_host_anchors_its_store_and_the_relay_publishes_the_anchor(
    named_settings: NamedSettings, database_url: str, kafka: str
) -> None:
    name, settings = named_settings("rtanchor")
    anchoring = settings.model_copy(
        update={"anchor_interval": 0.2, "anchor_key": SecretStr("host-test-key")}
    )
    app = build_app(
        ServiceSpec(name=name, build=lambda ctx: ServiceParts(routers=routers(ctx))), anchoring
    )
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            async with client(app) as http:
                await http.post("/pings/p1")
            records = await _read_until(kafka, f"lts.{name}.events", ChainAnchored.type)
    finally:
        await drop_schema(database_url, name)

    anchored = ChainAnchored.model_validate_json(records[-1].value)
    assert records[-1].key == ANCHOR_STREAM.encode()
    assert (anchored.store, anchored.streams, anchored.events) == (name, 1, 1)
    assert anchored.key_id == key_id(b"host-test-key")


async def _read_until(kafka: str, topic: str, ce_type: str) -> list[Any]:
    """The records of `topic` up to the first of type `ce_type`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(45):
            while not records or header(records[-1].headers, "ce_type") != ce_type:
                for batch in (await consumer.getmany(timeout_ms=500, max_records=1)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records
