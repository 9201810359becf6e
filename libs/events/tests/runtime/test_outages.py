"""A database outage longer than the retry policy's budget, on the real broker and the real
server (through a proxy the test cuts): messages wait for the database instead of going to the
dead-letter topic, and each is applied once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from faststream.kafka import KafkaBroker
from lts_events.actors import automation
from lts_events.consumer import Inbound, RetryPolicy, Subscriptions
from lts_events.envelope import Envelope, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics
from lts_events.relay import envelope_record
from lts_events.service import ServiceParts, ServiceSpec, build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore

from .tcp_proxy import TcpProxy
from .test_relay_and_consumer import _send, eventually
from .test_service_host import drop_schema, routers

pytestmark = pytest.mark.integration

RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


class OutageProbe(Event):
    type: ClassVar[str] = "lts.rtout.probe"
    n: int


class OutageCopy(Event):
    type: ClassVar[str] = "lts.rtout.copy"
    n: int


@pytest.fixture
async def proxied_store(
    database_url: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[PostgresEventStore, TcpProxy]]:
    proxy, through = TcpProxy.in_front_of(database_url)
    await proxy.up()
    store = await PostgresEventStore.connect(through, schema=unique("rt_outage"))
    yield store, proxy
    if not proxy.listening:
        await proxy.up()
    async with store.engine.begin() as connection:
        await connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
    await store.close()
    await proxy.down()


def _probe(n: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    _, value, headers = envelope_record(
        Envelope(id=f"probe-{n}", source="lts-flow/test", type=OutageProbe.type, data={"n": n})
    )
    return value, headers


async def _end_offset(kafka: str, topic: str) -> int:
    """How many records `topic` holds (the sum of its partitions' end offsets). The admin client
    names the partitions: a consumer without a subscription knows no topic's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    assert partitions, f"{topic} has no partitions"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_messages_wait_out_a_database_outage_longer_than_the_retry_budget(
    proxied_store: tuple[PostgresEventStore, TcpProxy], kafka: str, unique: Callable[[str], str]
) -> None:
    store, proxy = proxied_store
    topic, dlq = unique("rt-out"), unique("rt-out-dlq")
    await ensure_topics(kafka, [topic, dlq])
    calls: list[int] = []

    async def copy(inbound: Inbound[OutageProbe]) -> None:
        calls.append(inbound.event.n)
        await store.append(
            "copies",
            [NewEvent.of(OutageCopy(n=inbound.event.n), inbound.follow_up(actor=automation("t")))],
            expected_version=ANY,
            processed=inbound.processed,
        )

    subscriptions = Subscriptions(
        unique("rt-out-group"),
        store=store,
        dlq_topic=dlq,
        retry=RETRY,
        topics={"lts.rtout.events": topic},
    ).on(OutageProbe, copy)
    broker = KafkaBroker(kafka)
    subscriptions.attach(broker)
    copied: Callable[[int], Callable[[], Awaitable[bool]]] = lambda count: (  # noqa: E731
        lambda: _copies(store, count)
    )
    async with broker:
        await broker.start()
        await _send(kafka, topic, [_probe(n) for n in range(5)])
        await eventually(copied(5))

        await proxy.down()
        await _send(kafka, topic, [_probe(n) for n in range(5, 15)])

        async def waited_beyond_the_budget() -> bool:
            return subscriptions.outage.failures > 2 * RETRY.attempts

        await eventually(waited_beyond_the_budget)
        status = subscriptions.outage.status()
        await proxy.up()
        await eventually(copied(15))

    assert status is not None
    assert "ConnectionRefusedError" in status
    assert subscriptions.outage.status() is None
    assert sorted({e.data["n"] for e in (await store.read_stream("copies")).events}) == list(
        range(15)
    )
    assert len((await store.read_stream("copies")).events) == 15
    assert await _end_offset(kafka, dlq) == 0


async def _copies(store: PostgresEventStore, count: int) -> bool:
    try:
        return (await store.read_stream("copies")).version >= count
    except Exception:
        return False  # read while the database is cut off


async def test_a_service_whose_database_is_cut_answers_503_with_reasons_then_recovers(
    database_url: str, kafka: str, unique: Callable[[str], str]
) -> None:
    proxy, through = TcpProxy.in_front_of(database_url)
    await proxy.up()
    name = unique("rtcut").replace("-", "_")
    settings = RuntimeSettings.for_service(
        name, kafka_bootstrap_servers=kafka, database_url=through
    )
    app = build_app(
        ServiceSpec(name=name, build=lambda ctx: ServiceParts(routers=routers(ctx))), settings
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30), http:
            before = await http.post("/pings/p1")
            await proxy.down()
            unready = await http.get("/readyz")
            refused = await http.post("/pings/p2")
            await proxy.up()
            after = await _eventually_ok(lambda: http.post("/pings/p3"))
            ready = await _eventually_ok(lambda: http.get("/readyz"))
    finally:
        if not proxy.listening:
            await proxy.up()
        await drop_schema(database_url, name)
        await proxy.down()

    assert before.status_code == 201
    assert unready.status_code == 503
    assert any("database unreachable" in reason for reason in unready.json()["reasons"])
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.headers["content-type"] == "application/problem+json"
    assert "ConnectionRefusedError" in refused.json()["detail"]
    assert after.status_code == 201
    assert ready.json() == {"ready": True}


async def _eventually_ok(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    last: httpx.Response | None = None
    try:
        async with asyncio.timeout(30):
            while True:
                last = await call()
                if last.status_code < 500:
                    return last
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"still failing: {last and last.text}") from None


async def test_a_service_started_while_its_database_is_down_waits_for_it_then_serves(
    database_url: str, kafka: str, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, through = TcpProxy.in_front_of(database_url)  # not listening yet: refused
    name = unique("rtlate").replace("-", "_")
    settings = RuntimeSettings.for_service(
        name, kafka_bootstrap_servers=kafka, database_url=through
    )
    app = build_app(
        ServiceSpec(name=name, build=lambda ctx: ServiceParts(routers=routers(ctx))), settings
    )
    manager = LifespanManager(app, startup_timeout=60, shutdown_timeout=30)

    async def waiting_for_the_database() -> bool:
        return any("start-up: the database" in r.getMessage() for r in caplog.records)

    caplog.set_level(logging.WARNING, logger="lts_events.service")
    starting = asyncio.create_task(manager.__aenter__())
    try:
        await eventually(waiting_for_the_database)
        waited = not starting.done()
        await proxy.up()
        await starting
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            ready = await _eventually_ok(lambda: http.get("/readyz"))
            created = await http.post("/pings/late")
    finally:
        if starting.done() and starting.exception() is None:
            await manager.__aexit__(None, None, None)
        else:
            starting.cancel()
        if not proxy.listening:
            await proxy.up()
        await drop_schema(database_url, name)
        await proxy.down()

    assert waited
    assert ready.json() == {"ready": True}
    assert created.status_code == 201
