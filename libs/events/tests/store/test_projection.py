"""The projection runner on a real PostgreSQL: a late-committing transaction is never skipped,
a batch and its checkpoint commit together, runners overlapping apply a batch once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, cast

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.projection import ProjectionRunner
from lts_events.store.port import NO_STREAM, Checkpoint, SqlEventStore, StreamAppend
from lts_events.store.postgres import PostgresEventStore


class StepTaken(Event):
    type: ClassVar[str] = "lts.test.projection.step_taken"
    text: str


META = Metadata(actor=Actor(id="ann", role=Role.RELEASE_MANAGER))


def taken(text: str) -> list[NewEvent]:
    return [NewEvent.of(StepTaken(text=text), META)]


class SeenSteps:
    """A projection writing each event's text into a table of the store's schema."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.table = f'"{store.schema}".seen_steps'
        self.fail_on: str | None = None

    async def create(self, store: PostgresEventStore) -> None:
        async with store.transaction() as db:
            await db.execute(f"CREATE TABLE {self.table} (text text PRIMARY KEY)")

    async def apply(self, db: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.event
            assert isinstance(event, StepTaken)
            await db.execute(f"INSERT INTO {self.table} (text) VALUES ($1)", event.text)
            if event.text == self.fail_on:
                raise RuntimeError(f"cannot project {event.text}")

    async def seen(self, store: PostgresEventStore) -> list[str]:
        async with store.transaction() as db:
            rows = await db.fetch(f"SELECT text FROM {self.table} ORDER BY text")
        return [row[0] for row in rows]


@pytest.fixture
async def steps(postgres_store: PostgresEventStore) -> SeenSteps:
    projection = SeenSteps(postgres_store)
    await projection.create(postgres_store)
    return projection


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until `check` holds: the database is shared, and a transaction open anywhere on it
    holds the barrier back for a moment."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_transaction_begun_before_and_committed_after_a_later_one_is_projected(
    postgres_store: PostgresEventStore, steps: SeenSteps
) -> None:
    runner = ProjectionRunner(postgres_store, "steps", steps.apply)
    async with postgres_store.transaction() as late:
        await late.execute("SELECT pg_current_xact_id()")  # its transaction id is taken now
        await postgres_store.append("fast", taken("fast"), expected_version=NO_STREAM)
        await postgres_store.append_within(
            late, [StreamAppend("slow", taken("slow"), expected_version=NO_STREAM)]
        )
        while_open = await runner.catch_up()

    async def both_seen() -> bool:
        await runner.catch_up()
        return await steps.seen(postgres_store) == ["fast", "slow"]

    await eventually(both_seen)
    assert while_open == 0


async def test_a_failing_apply_leaves_the_checkpoint_and_the_tables_as_they_were(
    postgres_store: PostgresEventStore, steps: SeenSteps
) -> None:
    runner = ProjectionRunner(postgres_store, "steps", steps.apply)
    await postgres_store.append("first", taken("first"), expected_version=NO_STREAM)
    await eventually(lambda: _caught_up_to(runner, steps, postgres_store, ["first"]))
    before = await runner.checkpoint()
    both = [*taken("second"), *taken("third")]  # one transaction: settled together
    await postgres_store.append("later", both, expected_version=NO_STREAM)

    async def settled() -> bool:  # step() reads through the barrier; behind() counts unsettled
        return len(await postgres_store.read_all(after=before)) == 2

    await eventually(settled)
    steps.fail_on = "third"

    with pytest.raises(RuntimeError, match="cannot project third"):
        await runner.step()

    assert await runner.checkpoint() == before
    assert await steps.seen(postgres_store) == ["first"]
    steps.fail_on = None
    assert await runner.catch_up() == 2
    assert await steps.seen(postgres_store) == ["first", "second", "third"]
    assert await runner.checkpoint() > before


async def test_runners_of_one_projection_running_at_once_apply_each_batch_once(
    postgres_store: PostgresEventStore, steps: SeenSteps
) -> None:
    texts = [f"step-{n:02d}" for n in range(20)]
    for text in texts:
        await postgres_store.append(text, taken(text), expected_version=NO_STREAM)
    runners = [ProjectionRunner(postgres_store, "steps", steps.apply, batch=3) for _ in range(3)]

    async def all_seen() -> bool:
        await asyncio.gather(*(runner.catch_up() for runner in runners))
        return await steps.seen(postgres_store) == texts

    await eventually(all_seen)  # a batch applied twice fails on the table's primary key


async def test_a_new_projection_starts_at_the_beginning_and_is_not_behind_an_empty_store(
    postgres_store: PostgresEventStore, steps: SeenSteps
) -> None:
    runner = ProjectionRunner(postgres_store, "steps", steps.apply)

    assert await runner.checkpoint() == Checkpoint.start()
    assert await runner.behind() is False
    assert await runner.step() == 0


async def _caught_up_to(
    runner: ProjectionRunner, steps: SeenSteps, store: PostgresEventStore, texts: list[str]
) -> bool:
    await runner.catch_up()
    return await steps.seen(store) == texts


class CutOffMidRead:
    """The store, except that its read is in flight when the service stops, and that the
    cancellation comes out as a connection error, as asyncpg's does for a query on a
    connection being terminated."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store
        self.schema = store.schema
        self.transaction = store.transaction
        self.reads = 0
        self.reading = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def read_all(self, **_: object) -> list[RecordedEvent]:
        self.reads += 1
        self.reading.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            if self.reads > 1:
                raise  # a second cancellation (the test's clean-up) ends the task
            raise ConnectionError("connection was closed in the middle of operation") from None
        return []


async def test_a_running_projection_stops_when_cancelled_even_mid_read(
    postgres_store: PostgresEventStore, steps: SeenSteps
) -> None:
    store = CutOffMidRead(postgres_store)
    runner = ProjectionRunner(cast("SqlEventStore", store), "steps", steps.apply)
    task = asyncio.create_task(runner.run(idle=0.01))
    await asyncio.wait_for(store.reading.wait(), timeout=10)

    task.cancel()  # what the host does at stop
    await asyncio.wait({task}, timeout=5)
    stopped = task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert stopped, "the projection ran on after it was cancelled"
    assert store.reads == 1
