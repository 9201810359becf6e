"""Event store throughput against raw asyncpg on the same server, in the same run.

- `store_append_b1` / `store_append_b50`: 8 concurrent writers append batches of 1 / 50 events to
  their own streams with expected-version checks (hash chain, processed-message dedup guard,
  unique constraints, triggers). Baseline: the same rows inserted with raw asyncpg into a bare
  table without constraints or indexes, 8 connections, same batching.
- `store_read_all`: every event read through the transaction-id barrier in batches of 1000 and
  decoded to `RecordedEvent`. Baseline: a raw keyset SELECT of the same table, same batches.
  `ours_held_by_barrier_s`: seconds our reader found nothing because a transaction elsewhere on
  the shared server held the barrier (counted in our time, as a relay would wait)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import asyncpg
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import NO_STREAM, Checkpoint
from lts_events.store.postgres import PostgresEventStore

WRITERS = 8
STREAMS_PER_WRITER = 16
SECONDS = 2.0
READ_BATCH = 1000
READ_CAP = 100_000
ROUNDS = 3
READ_ROUNDS = 2

Writer = Callable[[int, float], Awaitable[int]]


class SampleRecorded(Event):
    type: ClassVar[str] = "lts.bench.sample_recorded"
    ticket_id: str
    severity: str
    summary: str
    affected_versions: list[str]
    score: float


META = Metadata(
    actor=Actor(id="bench-writer", role=Role.AUTOMATION),
    reason="benchmark",
    traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)


def sample(n: int) -> SampleRecorded:
    return SampleRecorded(
        ticket_id=f"LTS-{n}",
        severity="high",
        summary="Heap overflow in the TLS record parser when the peer sends a short record",
        affected_versions=["5.4", "6.1", "6.6"],
        score=7.5,
    )


async def _timed(writer: Writer) -> tuple[int, float, float]:
    """Events written by WRITERS concurrent `writer(index, deadline)` calls, the seconds, and
    this process's CPU seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + SECONDS
    counts = await asyncio.gather(*(writer(w, deadline) for w in range(WRITERS)))
    return sum(counts), time.perf_counter() - started, time.process_time() - cpu


async def _rounds(ours: Writer, baseline: Writer) -> dict[str, tuple[float, float]]:
    """Events/s and client CPU microseconds per event of each, measured in alternating rounds so
    that load from anything else on the machine falls on both alike."""
    totals = {"ours": [0, 0.0, 0.0], "baseline": [0, 0.0, 0.0]}
    for _ in range(ROUNDS):
        for name, writer in (("ours", ours), ("baseline", baseline)):
            for i, value in enumerate(await _timed(writer)):
                totals[name][i] += value
    return {
        name: (events / seconds, cpu / max(events, 1) * 1e6)
        for name, (events, seconds, cpu) in totals.items()
    }


def _store_writer(store: PostgresEventStore, run: str, batch: int) -> Writer:
    versions: dict[str, int] = {}
    appended = [0] * WRITERS

    async def write(index: int, deadline: float) -> int:
        written = 0
        while time.perf_counter() < deadline:
            stream = f"{run}-{index}-{appended[index] % STREAMS_PER_WRITER}"
            version = versions.get(stream, 0)
            events = [NewEvent.of(sample(written + i), META) for i in range(batch)]
            result = await store.append(
                stream, events, expected_version=version if version else NO_STREAM
            )
            versions[stream] = result.version
            appended[index] += 1
            written += batch
        return written

    return write


_BARE = """
CREATE TABLE {t} (position bigserial, stream_id text, stream_version int, event_id uuid,
    type text, schema_version int, data jsonb, metadata jsonb, hash text)
"""
_BARE_INSERT_ONE = (
    "INSERT INTO {t} (stream_id, stream_version, event_id, type, schema_version, data, "
    "metadata, hash) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)"
)
_BARE_INSERT_MANY = (
    "INSERT INTO {t} (stream_id, stream_version, event_id, type, schema_version, data, "
    "metadata, hash) SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], "
    "$5::int[], $6::jsonb[], $7::jsonb[], $8::text[])"
)


def _raw_writer(pool: Any, table: str, run: str, batch: int) -> Writer:
    one, many = _BARE_INSERT_ONE.format(t=table), _BARE_INSERT_MANY.format(t=table)
    metadata = META.model_dump(mode="json")
    digest = "0" * 64

    async def write(index: int, deadline: float) -> int:
        written = 0
        async with pool.acquire() as db:
            while time.perf_counter() < deadline:
                stream = f"{run}-{index}-{written // batch % STREAMS_PER_WRITER}"
                rows = [
                    (
                        stream,
                        written + i + 1,
                        uuid.uuid4(),
                        SampleRecorded.type,
                        1,
                        json.dumps(sample(written + i).to_data()),
                        json.dumps(metadata),
                        digest,
                    )
                    for i in range(batch)
                ]
                if batch == 1:
                    await db.execute(one, *rows[0])
                else:
                    await db.execute(many, *(list(column) for column in zip(*rows, strict=True)))
                written += batch
        return written

    return write


async def _read_store(store: PostgresEventStore, total: int) -> tuple[float, float, float]:
    """Events/s reading `total` events through the barrier. The server is shared: while some
    other session's transaction is open the barrier holds, and the reader polls, as a relay
    would (that time counts). Also returns this process's CPU microseconds per event and the
    seconds spent in polls that found nothing (held back by the barrier)."""
    started, cpu = time.perf_counter(), time.process_time()
    checkpoint, read, held = Checkpoint.start(), 0, 0.0
    while read < total and time.perf_counter() - started < 60:
        asked = time.perf_counter()
        batch = await store.read_all(after=checkpoint, limit=READ_BATCH)
        if not batch:
            await asyncio.sleep(0.005)
            held += time.perf_counter() - asked
            continue
        read += len(batch)
        checkpoint = Checkpoint(batch[-1].transaction_id, batch[-1].position)
    cpu_us = (time.process_time() - cpu) / max(read, 1) * 1e6
    return read / (time.perf_counter() - started), cpu_us, held


async def _read_raw(pool: Any, schema: str, total: int) -> tuple[float, float, float]:
    query = (
        f"SELECT position, transaction_id::text::bigint, stream_id, stream_version, event_id, "
        f'type, schema_version, data, metadata, recorded_at, hash FROM "{schema}".events '
        "WHERE position > $1 ORDER BY position LIMIT $2"
    )
    started, cpu = time.perf_counter(), time.process_time()
    async with pool.acquire() as db:
        position, read = 0, 0
        while read < total:
            rows = await db.fetch(query, position, READ_BATCH)
            if not rows:
                break
            read += len(rows)
            position = rows[-1]["position"]
    cpu_us = (time.process_time() - cpu) / max(read, 1) * 1e6
    return read / (time.perf_counter() - started), cpu_us, 0.0


def _row(name: str, ours: float, baseline: float, **extra: object) -> dict[str, object]:
    return {
        "bench": name,
        "ours": round(ours, 1),
        "baseline": round(baseline, 1),
        "ratio": round(ours / baseline, 3) if baseline else None,
        "unit": "events/s",
        **extra,
    }


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    del kafka_bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    schema, bare = f"bench_store_{tag}", f"bench_store_{tag}_bare"
    store = await PostgresEventStore.connect(database_url, schema=schema, pool_size=WRITERS)
    pool = await asyncpg.create_pool(database_url, min_size=WRITERS, max_size=WRITERS)
    results: list[dict[str, object]] = []
    try:
        await pool.execute(f'CREATE SCHEMA "{bare}"')
        table = f'"{bare}".events'
        await pool.execute(_BARE.format(t=table))
        for batch in (1, 50):
            await _timed(_store_writer(store, f"warm{batch}", batch))  # warm caches, plans
            measured = await _rounds(
                _store_writer(store, f"b{batch}", batch),
                _raw_writer(pool, table, f"b{batch}", batch),
            )
            results.append(
                _row(
                    f"store_append_b{batch}",
                    measured["ours"][0],
                    measured["baseline"][0],
                    batch=batch,
                    writers=WRITERS,
                    ours_cpu_us_per_event=round(measured["ours"][1], 1),
                    baseline_cpu_us_per_event=round(measured["baseline"][1], 1),
                )
            )
        # Settle the freshly written table (hint bits, statistics) so that neither reader pays
        # for that on behalf of the other, then alternate them.
        await pool.execute(f'VACUUM (ANALYZE) "{schema}".events')
        read = min(READ_CAP, await pool.fetchval(f'SELECT count(*) FROM "{schema}".events'))
        reads = {"ours": [0.0, 0.0, 0.0], "baseline": [0.0, 0.0, 0.0]}
        for _ in range(READ_ROUNDS):
            for name, measured_read in (
                ("ours", await _read_store(store, read)),
                ("baseline", await _read_raw(pool, schema, read)),
            ):
                reads[name][0] += measured_read[0] / READ_ROUNDS
                reads[name][1] += measured_read[1] / READ_ROUNDS
                reads[name][2] += measured_read[2]
        (ours, ours_cpu, held), (baseline, baseline_cpu, _) = reads["ours"], reads["baseline"]
        results.append(
            _row(
                "store_read_all",
                ours,
                baseline,
                events=read,
                batch=READ_BATCH,
                ours_cpu_us_per_event=round(ours_cpu, 1),
                baseline_cpu_us_per_event=round(baseline_cpu, 1),
                ours_held_by_barrier_s=round(held, 3),
            )
        )
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{bare}" CASCADE')
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
        await store.close()
    return results


if __name__ == "__main__":
    import os

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:15432/postgres")
    for line in asyncio.run(main(kafka_bootstrap_servers="", database_url=url)):
        print(json.dumps(line))
