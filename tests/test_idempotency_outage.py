"""A POST with an `Idempotency-Key` while the service's PostgreSQL is away, on a server of its
own that the test stops and starts: the request is a 503 with Retry-After (not a 500), and once
the server is back the client's retry with the same key runs, once (not a minute of 409s for a
reservation that could not be released while the database was away)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from lts_devtools.infra import Infrastructure, local_postgres
from lts_events.actors import automation
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import ANY
from pydantic import BaseModel

pytestmark = pytest.mark.integration


class OrderPlaced(Event):
    type: ClassVar[str] = "lts.outagetest.order_placed"
    item: str


class Order(BaseModel):
    item: str


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL of this test's own (not under pytest's basetemp: the server's user must
    traverse the home's parents, see test_infra.fresh_home)."""
    home = Path(tempfile.mkdtemp(prefix="lts-test-home-"))
    monkeypatch.setenv("LTS_HOME", str(home))
    try:
        yield local_postgres.start()
    finally:
        local_postgres.stop()
        shutil.rmtree(home, ignore_errors=True)


def routers(ctx: ServiceContext, outage: list[bool]) -> Sequence[APIRouter]:
    router = APIRouter()

    @router.post("/orders", status_code=201)
    async def place(order: Order) -> dict[str, object]:
        if outage and outage.pop():  # the database goes away while this request runs
            await asyncio.to_thread(local_postgres.stop)
        metadata = Metadata(actor=automation(ctx.name))
        result = await ctx.store.append(
            "orders", [NewEvent.of(OrderPlaced(item=order.item), metadata)], expected_version=ANY
        )
        return {"item": order.item, "version": result.version}

    return [router]


@pytest.fixture
async def client(
    infra: Infrastructure, own_postgres: str
) -> AsyncIterator[tuple[httpx.AsyncClient, list[bool]]]:
    settings = RuntimeSettings.for_service(
        "outage", kafka_bootstrap_servers=infra.kafka_bootstrap_servers, database_url=own_postgres
    )
    outage: list[bool] = []
    spec = ServiceSpec(name="outage", build=lambda ctx: ServiceParts(routers=routers(ctx, outage)))
    app = build_app(spec, settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://outage") as http:
            yield http, outage


@pytest.mark.timeout(180)
async def test_a_post_in_a_database_outage_is_503_and_its_retry_runs_once_after_it(
    client: tuple[httpx.AsyncClient, list[bool]],
) -> None:
    http, outage = client
    first = {"Idempotency-Key": "order-1"}
    outage.append(True)

    during = await http.post("/orders", json={"item": "disk"}, headers=first)
    while_down = await http.post(
        "/orders", json={"item": "tape"}, headers={"Idempotency-Key": "order-2"}
    )
    await asyncio.to_thread(local_postgres.start)
    retried = await http.post("/orders", json={"item": "disk"}, headers=first)
    replayed = await http.post("/orders", json={"item": "disk"}, headers=first)

    assert (during.status_code, during.headers.get("retry-after")) == (503, "5"), during.text
    assert (while_down.status_code, while_down.headers.get("retry-after")) == (503, "5")
    assert retried.status_code == 201, retried.text
    assert retried.json() == {"item": "disk", "version": 1}  # carried out once
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.json() == retried.json()
