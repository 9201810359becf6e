"""`Idempotency-Key` on a real service host (real PostgreSQL, real Kafka): a retried POST is
answered from the first answer and carried out once; a reused key with another body, a key in
flight, a 5xx answer and another caller each behave as the header's draft says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import ClassVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, HTTPException
from lts_events.actors import automation
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.idempotency import Refuse, Replay, Stored, decide, key_problem
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import ANY
from lts_events.store.postgres import asyncpg_url
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration


class OrderPlaced(Event):
    type: ClassVar[str] = "lts.idemtest.order_placed"
    item: str


class Order(BaseModel):
    item: str


def routers(ctx: ServiceContext, gate: asyncio.Event, failures: list[int]) -> Sequence[APIRouter]:
    router = APIRouter()

    @router.post("/orders", status_code=201)
    async def place(order: Order) -> dict[str, object]:
        await gate.wait()
        metadata = Metadata(actor=automation(ctx.name))
        result = await ctx.store.append(
            "orders", [NewEvent.of(OrderPlaced(item=order.item), metadata)], expected_version=ANY
        )
        return {"item": order.item, "version": result.version}

    @router.post("/flaky", status_code=201)
    async def flaky() -> dict[str, int]:
        failures.append(1)
        if len(failures) == 1:
            raise HTTPException(503, "try again")
        return {"attempts": len(failures)}

    return [router]


@pytest.fixture
async def service(
    kafka: str, database_url: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[FastAPI, asyncio.Event, list[int]]]:
    name = unique("idem").replace("-", "_")
    settings = RuntimeSettings.for_service(
        name, kafka_bootstrap_servers=kafka, database_url=database_url
    )
    gate, failures = asyncio.Event(), []
    gate.set()
    spec = ServiceSpec(
        name=name, build=lambda ctx: ServiceParts(routers=routers(ctx, gate, failures))
    )
    app = build_app(spec, settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        yield app, gate, failures
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()


def client(app: FastAPI, token: str = "alice") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://svc",
        headers={"Authorization": f"Bearer {token}"},
    )


async def _orders(app: FastAPI) -> int:
    return len((await app.state.runtime.store.read_stream("orders")).events)


async def test_a_retried_post_is_answered_again_and_carried_out_once(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, _, _ = service
    async with client(app) as http:
        first = await http.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "k1"})
        again = await http.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "k1"})
        other = await http.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "k2"})
        unkeyed = await http.post("/orders", json={"item": "a"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"item": "a", "version": 1}
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other.json()["version"] == 2
    assert unkeyed.json()["version"] == 3
    assert await _orders(app) == 3


async def test_a_key_reused_for_another_body_is_422_and_another_caller_has_its_own_keys(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, _, _ = service
    async with client(app) as alice, client(app, "bob") as bob:
        await alice.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "k"})
        reused = await alice.post("/orders", json={"item": "b"}, headers={"Idempotency-Key": "k"})
        bobs = await bob.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "k"})

    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in reused.json()["detail"]
    assert bobs.status_code == 201
    assert "idempotent-replayed" not in bobs.headers
    assert await _orders(app) == 2


async def test_a_key_reused_with_another_if_match_is_422_not_a_replay(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, _, _ = service
    async with client(app) as alice:
        first = {"Idempotency-Key": "k", "If-Match": '"3"'}
        await alice.post("/orders", json={"item": "a"}, headers=first)
        again = await alice.post("/orders", json={"item": "a"}, headers=first)
        reread = {"Idempotency-Key": "k", "If-Match": '"4"'}
        renamed = await alice.post("/orders", json={"item": "a"}, headers=reread)

    assert again.headers["idempotent-replayed"] == "true"
    assert renamed.status_code == 422
    assert await _orders(app) == 1


async def test_a_copy_racing_the_first_request_gets_409_and_is_not_carried_out(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, gate, _ = service
    gate.clear()
    async with client(app) as http:
        first = asyncio.create_task(
            http.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "race"})
        )
        await _reserved(app)
        racing = await http.post("/orders", json={"item": "a"}, headers={"Idempotency-Key": "race"})
        gate.set()
        answered = await first

    assert racing.status_code == 409
    assert racing.headers["retry-after"]
    assert answered.status_code == 201
    assert await _orders(app) == 1


async def test_a_5xx_answer_is_not_kept_so_the_retry_runs_again(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, _, failures = service
    async with client(app) as http:
        failed = await http.post("/flaky", headers={"Idempotency-Key": "f"})
        retried = await http.post("/flaky", headers={"Idempotency-Key": "f"})
        replayed = await http.post("/flaky", headers={"Idempotency-Key": "f"})

    assert failed.status_code == 503
    assert retried.status_code == 201
    assert retried.json() == {"attempts": 2}
    assert replayed.json() == {"attempts": 2}
    assert len(failures) == 2


async def test_an_unusable_key_is_400_naming_the_header(
    service: tuple[FastAPI, asyncio.Event, list[int]],
) -> None:
    app, _, _ = service
    async with client(app) as http:
        refused = await http.post(
            "/orders", json={"item": "a"}, headers={"Idempotency-Key": "x" * 300}
        )

    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("header Idempotency-Key")
    assert await _orders(app) == 0


async def _reserved(app: FastAPI) -> None:
    """Until the first request holds its reservation (a condition, not a sleep)."""
    store = app.state.runtime.store
    for _ in range(500):
        async with store.transaction() as db:
            if await db.fetchval(f'SELECT count(*) FROM "{store.schema}".idempotency_keys'):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the first request never reserved its key")


def test_the_decision_for_a_taken_key() -> None:
    done = Stored(fingerprint="f", status=201, headers=[(b"etag", b'"3"')], body=b"{}")
    assert decide(done, "f") == Replay(
        201, [(b"etag", b'"3"'), (b"idempotent-replayed", b"true")], b"{}"
    )
    mismatch = decide(done, "g")
    assert isinstance(mismatch, Refuse)
    assert mismatch.status == 422
    waiting = decide(Stored(fingerprint="f", status=None, headers=[], body=b""), "f")
    assert isinstance(waiting, Refuse)
    assert waiting.status == 409
    assert key_problem("a") is None
    assert key_problem("")
    assert key_problem("é")
