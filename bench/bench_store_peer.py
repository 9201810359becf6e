"""Our event store against the best-known Python event store, on the same server, in one run.

`store_append_peer_b1` / `store_append_peer_b50`: 8 concurrent writers append batches of 1 / 50
events to their own streams, as in `store_append_b*` (bench_store.py). The peer is the
`eventsourcing` library's `PostgresApplicationRecorder`: the recorder that, like ours, gives
every event a place in one total order that readers follow (its notification id; our position
and transaction-id barrier), each event's version checked by a unique key. Its writers are
threads (the library is synchronous, psycopg 3 with its pool of 8). The peer stores the same
bytes as ours: the event's JSON data and metadata. `ratio` = ours / peer; the raw-insert baseline
of bench_store gives the absolute scale."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
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


async def _alternate(ours: Writer, peer: Writer) -> dict[str, tuple[float, float]]:
    """Events/s and this process's CPU microseconds per event of each, in alternating rounds."""
    totals = {"ours": [0, 0.0, 0.0], "peer": [0, 0.0, 0.0]}
    for _ in range(ROUNDS):
        for name, writer in (("ours", ours), ("peer", peer)):
            for i, value in enumerate(await _timed(writer)):
                totals[name][i] += value
    return {
        name: (events / seconds, cpu / max(events, 1) * 1e6)
        for name, (events, seconds, cpu) in totals.items()
    }


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    del kafka_bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    ours_schema, peer_schema = f"bench_peer_{tag}_ours", f"bench_peer_{tag}_es"
    store = await PostgresEventStore.connect(database_url, schema=ours_schema, pool_size=WRITERS)
    datastore: Any = None
    results: list[dict[str, object]] = []
    try:
        async with store.engine.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{peer_schema}"')
        datastore = _datastore(database_url, peer_schema)
        recorder = PostgresApplicationRecorder(datastore, events_table_name="stored_events")
        await asyncio.to_thread(recorder.create_table)
        for batch in (1, 50):
            await _timed(_store_writer(store, f"warm{batch}", batch))
            await _timed(_peer_writer(recorder, batch))
            measured = await _alternate(
                _store_writer(store, f"b{batch}", batch), _peer_writer(recorder, batch)
            )
            (ours, ours_cpu), (peer, peer_cpu) = measured["ours"], measured["peer"]
            results.append(
                {
                    **_row(f"store_append_peer_b{batch}", ours, peer),
                    "baseline_is": "eventsourcing PostgresApplicationRecorder",
                    "batch": batch,
                    "writers": WRITERS,
                    "ours_cpu_us_per_event": round(ours_cpu, 1),
                    "peer_cpu_us_per_event": round(peer_cpu, 1),
                }
            )
    finally:
        if datastore is not None:
            datastore.close()
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
