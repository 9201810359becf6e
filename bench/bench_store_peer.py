"""Our event store against the best-known Python event store, on the same server, in one run.

`store_append_peer_b1` / `store_append_peer_b50`: 8 concurrent writers append batches of 1 / 50
events to their own streams, as in `store_append_b*` (bench_store.py). The peer is the
`eventsourcing` library's `PostgresApplicationRecorder`: the recorder that, like ours, gives
every event a place in one total order that readers follow (its notification id; our position
and transaction-id barrier), each event's version checked by a unique key. Its writers are
threads (the library is synchronous, psycopg 3 with its pool of 8). The peer stores the same
bytes as ours: the event's JSON data and metadata. `ratio` = ours / peer; the raw-insert baseline
of bench_store gives the absolute scale.

Both sides share this machine's cores with PostgreSQL (and, here, other engineers' jobs), so
each row also gives the CPU each side costs per event: this process's (`*_cpu_us_per_event`)
and its PostgreSQL backends' (`*_server_cpu_us_per_event`, from /proc when the server runs on
this machine; the backends are found by their application name). Those move far less with the
machine's load than events/s do.

Both sides run with the cyclic collector as a service host runs it once started
(`lts_events.service.settle_gc`: start-up heap frozen, young collections every 100,000
objects): left at CPython's default, its passes over the start-up heap (SQLAlchemy, alembic,
pydantic, the peer's library) cost ours 5-10% of its client CPU per event at 50 events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from lts_events.service import restore_gc, settle_gc
from lts_events.store.postgres import PostgresEventStore

from bench.bench_store import (
    META,
    ROUNDS,
    STREAMS_PER_WRITER,
    WRITERS,
    SampleRecorded,
    Writer,
    _row,
    _store_writer,
    _timed,
    sample,
)

PEER_APPLICATION = "bench-peer-eventsourcing"


class ServerCpu:
    """CPU seconds used so far by the PostgreSQL backends of an application name, read from
    /proc (None when a backend's process is not visible here: the server runs elsewhere)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._ticks = os.sysconf("SC_CLK_TCK")

    async def by_backend(self, application: str) -> dict[int, float] | None:
        rows = await self._conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application
        )
        return _cpu_seconds([pid for (pid,) in rows], self._ticks)


def _cpu_seconds(pids: list[int], ticks: int) -> dict[int, float] | None:
    """User + system CPU seconds of each process so far (None when one is not visible here)."""
    used = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def _spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """Seconds between two `by_backend` readings (a backend started meanwhile counts whole)."""
    if before is None or after is None:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@contextlib.contextmanager
def _libpq_application_name(name: str) -> Iterator[None]:
    """Connections libpq opens meanwhile (psycopg: the peer's pool) carry `name`."""
    before = os.environ.get("PGAPPNAME")
    os.environ["PGAPPNAME"] = name
    try:
        yield
    finally:
        if before is None:
            del os.environ["PGAPPNAME"]
        else:
            os.environ["PGAPPNAME"] = before


def _datastore(database_url: str, schema: str) -> PostgresDatastore:
    url = urlsplit(database_url)
    return PostgresDatastore(
        dbname=url.path.lstrip("/") or "postgres",
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=unquote(url.username or "postgres"),
        password=unquote(url.password or ""),
        pool_size=WRITERS,
        schema=schema,
    )


def _peer_writer(recorder: PostgresApplicationRecorder, batch: int) -> Writer:
    """Each writer appends to its own streams (originators), versions counted here."""
    streams = [[uuid.uuid4() for _ in range(STREAMS_PER_WRITER)] for _ in range(WRITERS)]
    versions: dict[uuid.UUID, int] = {}
    metadata = META.model_dump(mode="json")
    appended = [0] * WRITERS

    def write_sync(index: int, deadline: float) -> int:
        written = 0
        while time.perf_counter() < deadline:
            stream = streams[index][appended[index] % STREAMS_PER_WRITER]
            version = versions.get(stream, 0)
            events = [
                StoredEvent(
                    originator_id=stream,
                    originator_version=version + i + 1,
                    topic=SampleRecorded.type,
                    state=json.dumps(
                        {"data": sample(written + i).to_data(), "metadata": metadata}
                    ).encode(),
                )
                for i in range(batch)
            ]
            recorder.insert_events(events)
            versions[stream] = version + batch
            appended[index] += 1
            written += batch
        return written

    async def write(index: int, deadline: float) -> int:
        return await asyncio.to_thread(write_sync, index, deadline)

    return write


Side = tuple[str, Writer, str]  # name, writer, application name of its PostgreSQL sessions


@dataclass
class _Totals:
    events: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    server_cpu: float | None = 0.0  # None: not measurable here

    def add(self, events: int, seconds: float, cpu: float, server_cpu: float | None) -> None:
        self.events += events
        self.seconds += seconds
        self.cpu += cpu
        if self.server_cpu is not None:
            self.server_cpu = None if server_cpu is None else self.server_cpu + server_cpu

    def per_event_us(self, seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / max(self.events, 1) * 1e6, 1)


async def _alternate(sides: tuple[Side, Side], server: ServerCpu) -> dict[str, _Totals]:
    """Events, seconds, this process's CPU seconds and its PostgreSQL backends' of each side,
    summed over alternating rounds."""
    totals = {name: _Totals() for name, *_ in sides}
    for _ in range(ROUNDS):
        for name, writer, application in sides:
            before = await server.by_backend(application)
            events, seconds, cpu = await _timed(writer)
            after = await server.by_backend(application)
            totals[name].add(events, seconds, cpu, _spent(before, after))
    return totals


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    del kafka_bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    ours_schema, peer_schema = f"bench_peer_{tag}_ours", f"bench_peer_{tag}_es"
    ours_application = f"lts-{ours_schema}"  # what PostgresEventStore names its sessions
    store = await PostgresEventStore.connect(database_url, schema=ours_schema, pool_size=WRITERS)
    monitor = await asyncpg.connect(database_url)
    datastore: Any = None
    results: list[dict[str, object]] = []
    try:
        async with store.engine.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{peer_schema}"')
        with _libpq_application_name(PEER_APPLICATION):
            datastore = _datastore(database_url, peer_schema)
            recorder = PostgresApplicationRecorder(datastore, events_table_name="stored_events")
            await asyncio.to_thread(recorder.create_table)
            settle_gc()  # both sides: the collector as the service host runs it
            for batch in (1, 50):
                await _timed(_store_writer(store, f"warm{batch}", batch))
                await _timed(_peer_writer(recorder, batch))
                measured = await _alternate(
                    (
                        ("ours", _store_writer(store, f"b{batch}", batch), ours_application),
                        ("peer", _peer_writer(recorder, batch), PEER_APPLICATION),
                    ),
                    ServerCpu(monitor),
                )
                ours, peer = measured["ours"], measured["peer"]
                results.append(
                    {
                        **_row(
                            f"store_append_peer_b{batch}",
                            ours.events / ours.seconds,
                            peer.events / peer.seconds,
                        ),
                        "baseline_is": "eventsourcing PostgresApplicationRecorder",
                        "batch": batch,
                        "writers": WRITERS,
                        "ours_cpu_us_per_event": ours.per_event_us(ours.cpu),
                        "peer_cpu_us_per_event": peer.per_event_us(peer.cpu),
                        "ours_server_cpu_us_per_event": ours.per_event_us(ours.server_cpu),
                        "peer_server_cpu_us_per_event": peer.per_event_us(peer.server_cpu),
                        "load_average": round(os.getloadavg()[0], 1),
                    }
                )
    finally:
        restore_gc()  # for whatever runs in this process next
        if datastore is not None:
            datastore.close()
        await monitor.close()
        async with store.engine.begin() as connection:
            for schema in (ours_schema, peer_schema):
                await connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await store.close()
    return results


if __name__ == "__main__":
    import os

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:15432/postgres")
    for line in asyncio.run(main(kafka_bootstrap_servers="", database_url=url)):
        print(json.dumps(line))
