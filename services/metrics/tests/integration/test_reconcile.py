"""`lts audit reconcile` on the real broker and database: a producer's store, its relay, the
metrics audit consumer, then the command as an operator runs it. A consistent pair passes; an
audit copy deleted (as a superuser, triggers disabled) is named missing; a stored event deleted
is named phantom; an event not relayed yet is in flight, not missing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from lts_events.actors import Actor, Role
from lts_events.consumer import Subscriptions
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics, events_topic
from lts_events.relay import Relay
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore

from .conftest import Metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ALICE = Actor(id="alice", role=Role.MAINTAINER)
WITHIN = 60.0


class NoteTaken(Event):
    type: ClassVar[str] = "lts.reconciletest.note_taken"
    note: str


@dataclass
class Pipeline:
    service: str
    store: PostgresEventStore
    relay: Relay
    metrics: Metrics
    group: str
    database_url: str
    kafka: str

    async def append(self, stream: str, *notes: str) -> list[str]:
        result = await self.store.append(
            stream,
            [NewEvent.of(NoteTaken(note=n), Metadata(actor=ALICE)) for n in notes],
            expected_version=ANY,
        )
        return [str(e.event_id) for e in result.recorded]

    async def relay_all(self, expected: int) -> None:
        published = 0
        async with asyncio.timeout(WITHIN):
            while published < expected:
                published += await self.relay.publish_pending()
                if published < expected:
                    await asyncio.sleep(0.1)

    async def audited(self) -> int:
        async with self.metrics.store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            count: int = await raw.driver_connection.fetchval(
                f"SELECT count(*) FROM {self.metrics.store.schema}.events WHERE stream_id LIKE $1",
                f"{self.service}:%",
            )
        return count

    async def until_audited(self, expected: int) -> None:
        async with asyncio.timeout(WITHIN):
            while True:
                if await self.audited() >= expected:
                    return
                await asyncio.sleep(0.2)

    def reconcile(self, *, settle: float = 30.0) -> tuple[int, list[dict[str, Any]], str]:
        """The command's exit code, its JSON report and its standard error."""
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "lts"),
                "audit",
                "reconcile",
                "--service",
                self.service,
                "--audit-schema",
                self.metrics.store.schema,
                "--group",
                self.group,
                "--settle",
                str(settle),
                "--json",
            ],
            env={
                **os.environ,
                "DATABASE_URL": self.database_url,
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        report = json.loads(done.stdout) if done.stdout.strip() else []
        return done.returncode, report, done.stderr


@pytest.fixture
async def pipeline(database_url: str, kafka: str, metrics: Metrics) -> AsyncIterator[Pipeline]:
    """A producer named uniquely (its schema, its topic `lts.<name>.events`, its audit streams
    `<name>:...`), relayed by hand and audited by a running metrics consumer of its own group."""
    service = f"rc_{uuid.uuid4().hex[:10]}"
    topic, group = events_topic(service), f"metrics-{service}"
    await ensure_topics(kafka, [topic])
    store = await PostgresEventStore.connect(database_url, schema=service)
    relay = Relay(store, bootstrap_servers=kafka, topic=topic, source=f"lts-flow/{service}")
    subscriptions = Subscriptions(group, store=metrics.store).on_raw_batch(
        topic, metrics.audit.on_batch
    )
    broker = KafkaBroker(kafka)
    subscriptions.attach(broker)
    try:
        async with relay, broker:
            await broker.start()
            yield Pipeline(service, store, relay, metrics, group, database_url, kafka)
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{service}" CASCADE')
        finally:
            await conn.close()
        await store.close()


async def a_consistent_pair(pipeline: Pipeline) -> list[str]:
    ids = await pipeline.append("ticket-1", "a", "b", "c")
    ids += await pipeline.append("ticket-2", "d", "e")
    await pipeline.relay_all(len(ids))
    await pipeline.until_audited(len(ids))
    return ids


async def delete_event(database_url: str, schema: str, event_id: str) -> None:
    """What only a superuser can do to an append-only store: its triggers disabled."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            deleted = await conn.execute(
                f'DELETE FROM "{schema}".events WHERE event_id = $1::uuid', event_id
            )
        assert deleted == "DELETE 1"
    finally:
        await conn.close()


async def test_a_store_and_its_audit_log_that_agree_reconcile(pipeline: Pipeline) -> None:
    ids = await a_consistent_pair(pipeline)

    code, [report], _ = await asyncio.to_thread(pipeline.reconcile)

    assert code == 0
    assert (report["stored"], report["audited"], report["matched"]) == (len(ids), len(ids), 5)
    assert (report["missing"], report["phantoms"], report["in_flight"]) == ([], [], [])
    assert report["streams"] == 2


async def test_an_audit_copy_deleted_is_named_missing(pipeline: Pipeline) -> None:
    ids = await a_consistent_pair(pipeline)
    lost = ids[1]
    await delete_event(pipeline.database_url, pipeline.metrics.store.schema, lost)

    code, [report], _ = await asyncio.to_thread(pipeline.reconcile)

    assert code == 1
    assert [(m["event_id"], m["stream"], m["version"]) for m in report["missing"]] == [
        (lost, "ticket-1", 2)
    ]
    assert report["phantoms"] == []
    assert report["differing_streams"] == [
        {
            "stream": "ticket-1",
            "stored": 3,
            "audited": 2,
            "missing": 1,
            "phantom": 0,
            "in_flight": 0,
        }
    ]


async def test_a_stored_event_deleted_is_named_phantom(pipeline: Pipeline) -> None:
    ids = await a_consistent_pair(pipeline)
    vanished = ids[-1]
    await delete_event(pipeline.database_url, pipeline.service, vanished)

    code, [report], _ = await asyncio.to_thread(pipeline.reconcile)

    assert code == 1
    assert [(p["event_id"], p["stream"], p["version"]) for p in report["phantoms"]] == [
        (vanished, "ticket-2", 2)
    ]
    assert report["missing"] == []


async def test_an_event_not_relayed_yet_is_in_flight_not_missing(pipeline: Pipeline) -> None:
    await a_consistent_pair(pipeline)
    [pending] = await pipeline.append("ticket-3", "not relayed")

    code, [report], _ = await asyncio.to_thread(pipeline.reconcile, settle=0.0)

    assert code == 0
    assert [f["event_id"] for f in report["in_flight"]] == [pending]
    assert report["missing"] == []
