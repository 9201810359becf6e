"""Two replicas of one service on the real broker and server: one relays (the leader, holding the
service's advisory lock); when its lock connection dies the other takes over within seconds, and
every event is published exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from lts_events.leadership import Leadership
from lts_events.service import ServiceParts, ServiceSpec, build_app
from lts_events.settings import RuntimeSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .test_outages import _end_offset
from .test_service_host import drop_schema, routers

pytestmark = pytest.mark.integration


def _leading(app: FastAPI) -> bool:
    leadership = app.state.runtime.leadership
    return bool(leadership is not None and leadership.leading)


async def _until(check: Callable[[], bool], *, within: float = 20) -> None:
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.05)


@pytest.fixture
async def replicas(
    database_url: str, kafka: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[str, list[FastAPI]]]:
    name = unique("rtlead").replace("-", "_")
    settings = RuntimeSettings.for_service(
        name,
        kafka_bootstrap_servers=kafka,
        database_url=database_url,
        leader_check_interval=0.2,
        leader_retry_interval=0.5,
    )
    apps = [
        build_app(
            ServiceSpec(name=name, build=lambda ctx: ServiceParts(routers=routers(ctx))), settings
        )
        for _ in range(2)
    ]
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=60, shutdown_timeout=30)
            )
        yield name, apps
    await drop_schema(database_url, name)


async def _ping(app: FastAPI, ping: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        assert (await http.post(f"/pings/{ping}")).status_code == 201


async def _published(kafka: str, topic: str, count: int) -> int:
    async with asyncio.timeout(30):
        while True:
            found = await _end_offset(kafka, topic)
            if found >= count:
                return found
            await asyncio.sleep(0.1)


async def _terminate(database_url: str, pid: int) -> None:
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await engine.dispose()


async def test_one_replica_relays_and_the_other_takes_over_when_its_lock_connection_dies(
    replicas: tuple[str, list[FastAPI]], kafka: str, database_url: str
) -> None:
    name, apps = replicas
    topic = f"lts.{name}.events"
    await _until(lambda: any(_leading(app) for app in apps))
    leader, follower = sorted(apps, key=_leading, reverse=True)
    both_leading_at_start = _leading(follower)

    for n in range(10):
        await _ping(apps[n % 2], f"before-{n}")
    before = await _published(kafka, topic, 10)

    await _terminate(database_url, leader.state.runtime.leadership.backend_pid)
    await _until(lambda: _leading(follower) and not _leading(leader))
    for n in range(10):
        await _ping(apps[n % 2], f"after-{n}")
    await _published(kafka, topic, 20)
    await _until(lambda: follower.state.runtime.relay.caught_up)
    after = await _end_offset(kafka, topic)  # exact: a second relay would have added more

    assert not both_leading_at_start
    assert before == 10
    assert after == 20
    assert leader.state.runtime.leadership.terms == 1
    assert follower.state.runtime.leadership.terms == 1


async def test_a_replica_whose_lock_connection_dies_stops_saying_it_leads_before_its_work_ends(
    database_url: str, unique: Callable[[str], str]
) -> None:
    leadership = Leadership(
        database_url, unique("rtlost"), check_interval=0.1, retry_interval=60, stop_timeout=30
    )
    stop, round_done = asyncio.Event(), asyncio.Event()

    async def work_finishing_its_round(until: asyncio.Event) -> None:
        await until.wait()
        await round_done.wait()

    running = asyncio.create_task(leadership.run(stop, work_finishing_its_round))
    try:
        await _until(lambda: leadership.leading)
        assert leadership.backend_pid is not None

        await _terminate(database_url, leadership.backend_pid)
        await _until(lambda: not leadership.leading, within=5)

        assert not round_done.is_set()
    finally:
        round_done.set()
        stop.set()
        await running


async def test_a_follower_names_the_replica_that_leads(
    database_url: str, unique: Callable[[str], str]
) -> None:
    name = unique("rtnames")
    replicas = [
        Leadership(database_url, name, check_interval=0.2, retry_interval=0.2, replica=r)
        for r in ("pod-a:1", "pod-b:2")
    ]
    stop = asyncio.Event()

    async def work(until: asyncio.Event) -> None:
        await until.wait()

    running = [asyncio.create_task(r.run(stop, work)) for r in replicas]
    try:
        await _until(lambda: any(r.leading for r in replicas))
        leader, follower = sorted(replicas, key=lambda r: r.leading, reverse=True)
        await _until(lambda: follower.leader is not None)

        assert (leader.leader, follower.leader) == (leader.replica, leader.replica)
        assert not follower.leading
    finally:
        stop.set()
        await asyncio.gather(*running)


async def test_a_frozen_leader_loses_the_lock_to_another_replica_within_its_idle_timeout(
    database_url: str, unique: Callable[[str], str]
) -> None:
    """A leader that stops checking its connection (a paused VM, a stopped process, a network
    dropping its packets) leaves it open: the server closes it once idle for the idle timeout,
    and another replica leads. Without that it would keep the lock until TCP gave up (hours)."""
    name = unique("rtfrozen")
    frozen = Leadership(database_url, name, check_interval=3600, idle_timeout=1.0)
    other = Leadership(database_url, name, check_interval=0.2, retry_interval=0.2)
    stop = asyncio.Event()

    async def work(until: asyncio.Event) -> None:
        await until.wait()

    first = asyncio.create_task(frozen.run(stop, work))
    try:
        await _until(lambda: frozen.leading)
        second = asyncio.create_task(other.run(stop, work))
        await _until(lambda: other.leading, within=10)
    finally:
        stop.set()
    await asyncio.gather(first, second)
