"""Chain anchors on the real database: `lts store verify` sees what the hash chains cannot, a
stream's tail cut off after an anchor, a store restored from an older backup (its witness holds
a newer anchor), and an anchor not signed with the key; the service host's writer anchors when
enough events came, and not again while nothing new is stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import asyncpg
import pytest
from lts_devtools.infra import Infrastructure
from lts_events.actors import Actor, Role
from lts_events.cli import app
from lts_events.contracts.anchors import ChainAnchored
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store import inspect
from lts_events.store.anchoring import ChainAnchors, connection_of
from lts_events.store.anchors import ANCHOR_STREAM
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text
from typer.testing import CliRunner, Result

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEY = "test-anchor-key"
META = Metadata(actor=Actor(id="carol", role=Role.RELEASE_MANAGER))


class Noted(Event):
    type: ClassVar[str] = "lts.test.anchors.noted"
    text: str


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Stores = Callable[[], Awaitable[PostgresEventStore]]


@pytest.fixture
def anchor_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("LTS_ANCHOR_KEY", KEY)
    return KEY.encode()


@pytest.fixture
async def stores(infra: Infrastructure) -> AsyncIterator[Stores]:
    opened: list[PostgresEventStore] = []

    async def open_store() -> PostgresEventStore:
        store = await PostgresEventStore.connect(
            infra.database_url, schema=f"anchors_{uuid.uuid4().hex[:10]}"
        )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))
        await store.close()


async def note(store: PostgresEventStore, stream: str, *texts: str) -> None:
    events = [NewEvent.of(Noted(text=t), META) for t in texts]
    await store.append(stream, events, expected_version=ANY)


async def settled(store: PostgresEventStore) -> None:
    """Until everything stored is settled (a transaction left open elsewhere on the shared
    server holds the settled point back)."""
    async with connection_of(store) as conn, asyncio.timeout(60):
        last = await conn.fetchval(f'SELECT max(position) FROM "{store.schema}".events')
        while True:
            point = await inspect.settled_end(conn, store.schema)
            if point is not None and point.position >= last:
                return
            await asyncio.sleep(0.1)


async def anchored(anchors: ChainAnchors, store: PostgresEventStore) -> ChainAnchored:
    """Anchor once everything stored is settled."""
    await settled(store)
    found = await anchors.step(force=True)
    assert found is not None
    return found


def writer(store: PostgresEventStore, key: bytes, **overrides: float) -> ChainAnchors:
    settings: dict[str, float] = {"every_seconds": 300.0, "every_events": 10_000} | overrides
    return ChainAnchors(
        store,
        service="test",
        key=key,
        every_seconds=settings["every_seconds"],
        every_events=int(settings["every_events"]),
        clock=Clock(),
    )


async def superuser(url: str, statement: str, *args: object) -> str:
    """What only a superuser can do to an append-only store: its triggers disabled."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            done: str = await conn.execute(statement, *args)
    finally:
        await conn.close()
    return done


async def verify(schema: str, *, witness: str = "") -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(
            app, ["store", "verify", "--schema", schema, "--witness", witness]
        )

    return await asyncio.to_thread(invoke)


async def test_a_store_that_still_holds_what_its_anchor_pinned_verifies(
    stores: Stores, anchor_key: bytes
) -> None:
    store = await stores()
    await note(store, "ticket-1", "a", "b", "c")
    await note(store, "ticket-2", "d")
    await anchored(writer(store, anchor_key), store)

    result = await verify(store.schema)

    assert result.exit_code == 0, result.output
    assert "4 events in 2 streams up to position" in result.stdout
    assert ": holds" in result.stdout


async def test_a_tail_cut_after_an_anchor_fails_verify_though_every_chain_still_holds(
    stores: Stores, infra: Infrastructure, anchor_key: bytes
) -> None:
    store = await stores()
    await note(store, "ticket-1", "a", "b", "c")
    await note(store, "ticket-2", "d")
    await anchored(writer(store, anchor_key), store)
    cut = await superuser(
        infra.database_url,
        f'DELETE FROM "{store.schema}".events WHERE stream_id = $1 AND stream_version = 3',
        "ticket-1",
    )

    result = await verify(store.schema)

    assert cut == "DELETE 1"
    assert (await store.verify()).ok  # the chains alone cannot see it
    assert result.exit_code == 1, result.output
    assert "1 events lost" in result.stdout


async def test_a_store_restored_from_an_older_backup_fails_against_its_witness(
    stores: Stores, infra: Infrastructure, anchor_key: bytes
) -> None:
    store, witness = await stores(), await stores()
    anchors = writer(store, anchor_key)
    await note(store, "ticket-1", "a", "b")
    await anchored(anchors, store)
    older_backup = await store.read_stream(ANCHOR_STREAM)
    await note(store, "ticket-1", "c")
    await note(store, "ticket-2", "d")
    newer = await anchored(anchors, store)
    [copy] = (await store.read_stream(ANCHOR_STREAM)).events[1:]
    await witness.append(  # what the audit log keeps: the same event, same id, same data
        f"{store.schema}:{ANCHOR_STREAM}",
        [NewEvent.of(newer, META, event_id=copy.event_id)],
        expected_version=ANY,
    )
    last_kept = older_backup.events[-1]
    await superuser(
        infra.database_url,
        f'DELETE FROM "{store.schema}".events WHERE position > $1',
        last_kept.position,
    )

    alone = await verify(store.schema)
    witnessed = await verify(store.schema, witness=witness.schema)

    assert alone.exit_code == 0, alone.output  # the backup is consistent in itself
    assert witnessed.exit_code == 1, witnessed.output
    assert f"anchor {copy.event_id} (latest copy in {witness.schema})" in witnessed.stdout
    assert "the store does not hold this anchor" in witnessed.stdout
    assert "2 events lost" in witnessed.stdout


async def test_an_anchor_not_signed_with_the_key_fails_verify(
    stores: Stores, anchor_key: bytes
) -> None:
    store = await stores()
    await note(store, "ticket-1", "a")
    await anchored(writer(store, b"someone else's key"), store)

    result = await verify(store.schema)

    assert result.exit_code == 1, result.output
    assert "signature does not match" in result.stdout


async def test_the_writer_anchors_after_enough_events_and_not_again_without_new_ones(
    stores: Stores, anchor_key: bytes
) -> None:
    store = await stores()
    clock = Clock()
    anchors = ChainAnchors(
        store, service="test", key=anchor_key, every_seconds=60.0, every_events=3, clock=clock
    )
    await note(store, "ticket-1", "a", "b")
    too_few = await anchors.step()
    await note(store, "ticket-1", "c")
    first = await anchored_when_due(anchors)
    clock.now += 3600
    nothing_new = await anchors.step()
    await note(store, "ticket-2", "d")
    clock.now += 3600
    second = await anchored_when_due(anchors)

    assert too_few is None
    assert (first.events, first.streams) == (3, 1)
    assert nothing_new is None  # its own anchor is not news
    assert (second.events, second.streams) == (5, 3)  # ticket-1, ticket-2 and the first anchor


async def test_a_large_store_is_anchored_after_a_fiftieth_of_its_events_not_after_every_events(
    stores: Stores, anchor_key: bytes
) -> None:
    """Each anchor reads every stream's head: at a fixed count the cost per event would grow
    with the store. A writer started on a store whose last anchor pinned 500 events waits
    for 500 / 50 = 10 new ones, not for its `every_events` of 3."""
    store = await stores()
    await note(store, "ticket-1", *(f"n{i}" for i in range(500)))
    anchors = writer(store, anchor_key, every_events=3)
    first = await anchored(anchors, store)
    restarted = writer(store, anchor_key, every_events=3)  # reads the last anchor
    await note(store, "ticket-2", *(f"m{i}" for i in range(9)))
    await settled(store)
    nine_new = (await anchors.step(), await restarted.step())
    await note(store, "ticket-2", "m9")
    await settled(store)
    ten_new = await anchors.step()

    assert first.events == 500
    assert nine_new == (None, None)
    assert ten_new is not None
    assert ten_new.events == first.events + 1 + 10  # the first anchor itself and ten notes


async def anchored_when_due(anchors: ChainAnchors) -> ChainAnchored:
    async with asyncio.timeout(60):
        while True:
            found = await anchors.step()
            if found is not None:
                return found
            await asyncio.sleep(0.1)
