"""Metrics service throughput, in the same run, against raw baselines on the same server.

- `metrics_rebuild`: events/s replaying the metrics store into the projections
  (`ProjectionEngine.rebuild`: gap-free scan, decode, the lifecycle and timeline folds, COPY
  into new tables, the swap). Dataset: 12,000 tickets audited as opened -> triaged ->
  planned (-> approved for a third), with their envelope rows. Baseline: a raw asyncpg keyset scan
  of the same rows in the same batches. Target: >= 20,000 events/s. Three rebuilds alternate
  with three baseline scans; the medians count (every round is listed: this machine is shared,
  and one round can land on someone else's burst). `ours_cpu_us_per_event`: this process's CPU
  per event during a rebuild (median; the server's work is not in it).
- `metrics_query_p99`: milliseconds for the time-to-triage query (count, p50/p90/p95 by
  `percentile_cont`, max, SLA compliance) over 100,000 tickets, p99 over 200 runs with varied
  filters (none, a month, a severity, a source, a label). The projection rows are inserted
  directly, then vacuumed and analyzed; one warm-up query per filter shape is not measured.
  Baseline: the same figures computed in Python over the fetched durations (what a client-side
  report would do). Both with the garbage collector as the service runs it once started
  (`lts_events.service.settle_gc`). Target: p99 < 50 ms."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from lts_events.envelope import Envelope, NewEvent
from lts_events.hashing import GENESIS, appended_hash
from lts_events.service import restore_gc, settle_gc
from lts_events.store.postgres import PostgresEventStore
from lts_metrics.audit import COLUMNS, audit_copy, facts_of
from lts_metrics.percentiles import percentile_cont
from lts_metrics.projector import ProjectionEngine
from lts_metrics.queries import Filters, MetricsQueries
from lts_metrics.samples import TicketStory
from lts_metrics.samples_release import (
    backport_opened,
    candidate_opened,
    ci_result,
    release_published,
    rolled_back,
    rollout_started,
)
from lts_metrics.schema import ensure_schema
from sqlalchemy import text

from bench import metrics_release_queries

TICKETS = 12_000
RELEASES = 600
"""Releases of the rebuild's data set, each shipping 10 of the tickets (with their backports,
its candidate, a rollout, CI results; one in ten rolled back): about 8,000 release events next
to the tickets' 40,000, so the event-grain rows and `ticket_releases` are replayed too."""
BATCH = 5000
REBUILD_ROUNDS = 3
QUERY_TICKETS = 100_000
QUERY_RUNS = 200
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    suffix = uuid.uuid4().hex[:8]
    schema, role = f"bench_metrics_{suffix}", f"bench_analyst_{suffix}"
    store = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        async with store.engine.begin() as conn:
            await ensure_schema(conn, schema=schema, analyst_role=role, analyst_password=None)
        return [
            await _rebuild(store, database_url),
            await _query(store),
            await metrics_release_queries.release_queries(store),
        ]
    finally:
        async with store.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await store.close()


def _story(n: int) -> TicketStory:
    rng = random.Random(n)
    triaged = timedelta(minutes=rng.randint(5, 2000))
    return TicketStory(
        ticket_id=n,
        opened_at=T0 + timedelta(minutes=n),
        triaged_after=triaged,
        planned_after=triaged + timedelta(hours=rng.randint(1, 60)),
        approved_after=triaged + timedelta(hours=70) if n % 3 == 0 else None,
    )


async def _populate(store: PostgresEventStore) -> int:
    """Audit copies of every story's events, chained as the store chains them, loaded with COPY
    (the store's own append is measured by `store_append_*`), plus their envelope rows."""
    events: list[tuple[object, ...]] = []
    envelope_rows: list[tuple[object, ...]] = []
    stories = [_story(n).envelopes() for n in range(1, TICKETS + 1)]
    by_stream: dict[str, list[NewEvent]] = {}  # a branch's CI stream spans releases
    for envelopes in [*stories, *(_release(r) for r in range(RELEASES))]:
        for envelope in envelopes:
            topic = "lts." + envelope.source.removeprefix("lts-flow/") + ".events"
            facts = facts_of(envelope, topic=topic)
            by_stream.setdefault(facts.stream_id, []).append(audit_copy(envelope, facts))
            envelope_rows.append(tuple(facts.row().values()))
    for stream_id, new in by_stream.items():
        events.extend(_chained(stream_id, new))
    async with store.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.copy_records_to_table(
            "events", schema_name=store.schema, records=events, columns=EVENT_COLUMNS
        )
        await raw.copy_records_to_table(
            "audit_envelopes",
            schema_name=store.schema,
            records=envelope_rows,
            columns=COLUMNS,  # audit_envelopes, in EnvelopeFacts' order
        )
    # Settle the freshly written tables (hint bits, visibility, statistics) as an audit log that
    # has been in use is: otherwise the first scan pays for it and autovacuum wakes up mid-run.
    async with store.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM ANALYZE {store.schema}.events"))
        await conn.execute(text(f"VACUUM ANALYZE {store.schema}.audit_envelopes"))
    await _visible(store, len(events))
    return len(events)


async def _visible(store: PostgresEventStore, total: int, *, within: float = 120.0) -> None:
    """Wait until the gap-free reader sees every loaded event: a transaction left open elsewhere
    on the shared server holds back its barrier (the rebuild would replay nothing)."""
    deadline = time.monotonic() + within
    sql = (
        f"SELECT count(*) FROM {store.schema}.events"
        " WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
    )
    while time.monotonic() < deadline:
        async with store.engine.connect() as conn:
            if (await conn.execute(text(sql))).scalar_one() == total:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the store's barrier held back the loaded events for {within} s")


def _release(r: int) -> list[Envelope]:
    """Release r of line 1.(r % 4): its ten tickets' backports, candidate, CI results (a flaky
    suite every fifth), publication, rollout (every tenth rolled back)."""
    line, at = f"1.{r % 4}", T0 + timedelta(hours=r)
    version, tickets = f"{line}.{r}", tuple(range(10 * r + 1, 10 * r + 11))
    commits = {t: f"commit-{t}" for t in tickets}
    out = [
        *(
            backport_opened(t, line, approved_at=at, deadline=at + timedelta(days=9))
            for t in tickets
        ),
        candidate_opened(f"{version}rc1", line, version, commits, at=at),
        ci_result(
            f"release-lts/v{line}",
            f"commit-{tickets[0]}",
            at=at,
            suites={"unit": (90, int(r % 5 == 0))},
        ),
        ci_result(
            f"release-lts/v{line}",
            f"commit-{tickets[0]}",
            at=at + timedelta(minutes=5),
            suites={"unit": (91, 0)},
        ),
        release_published(version, line, tickets, at=at + timedelta(days=2)),
        rollout_started(
            f"r{r}", version, line, at=at + timedelta(days=2), limit=timedelta(hours=1)
        ),
    ]
    if r % 10 == 0:
        out += rolled_back(
            f"r{r}",
            version,
            line,
            detected_at=at + timedelta(days=2, hours=1),
            took=timedelta(minutes=20 + r % 60),
            deadline=timedelta(hours=1),
        )
    return out


def _chained(stream_id: str, new: list[NewEvent]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    previous = GENESIS
    for version, item in enumerate(new, start=1):
        data, metadata = item.event.to_data(), item.metadata.model_dump(mode="json")
        hash_version, previous = appended_hash(
            previous_hash=previous,
            event_id=item.event_id,
            stream_id=stream_id,
            stream_version=version,
            type_=item.event.type,
            schema_version=item.event.schema_version,
            data=data,
            metadata=metadata,
        )
        rows.append(
            (
                stream_id,
                version,
                item.event_id,
                item.event.type,
                item.event.schema_version,
                json.dumps(data),
                json.dumps(metadata),
                previous,
                hash_version,
            )
        )
    return rows


EVENT_COLUMNS = [
    "stream_id",
    "stream_version",
    "event_id",
    "type",
    "schema_version",
    "data",
    "metadata",
    "hash",
    "hash_version",
]


async def _rebuild(store: PostgresEventStore, database_url: str) -> dict[str, object]:
    await _populate(store)
    engine = ProjectionEngine(store, store.engine, schema=store.schema)
    rates, cpu_us, baselines = [], [], []
    for _ in range(REBUILD_ROUNDS):  # alternating, so that load from elsewhere falls on both
        started, cpu = time.perf_counter(), time.process_time()
        replayed = await engine.rebuild(batch=BATCH)
        rates.append(replayed / (time.perf_counter() - started))
        cpu_us.append((time.process_time() - cpu) / max(replayed, 1) * 1e6)
        baselines.append(await _raw_scan(database_url, store.schema))
    ours, baseline = statistics.median(rates), statistics.median(baselines)
    return {
        "bench": "metrics_rebuild",
        "ours": round(ours),
        "baseline": round(baseline),
        "ratio": round(ours / baseline, 3),
        "unit": "events/s",
        "events": replayed,
        "ours_rounds": [round(r) for r in rates],
        "baseline_rounds": [round(r) for r in baselines],
        "ours_cpu_us_per_event": round(statistics.median(cpu_us), 1),
        "target": ">= 20000 events/s",
    }


async def _raw_scan(database_url: str, schema: str) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        started, last, total = time.perf_counter(), (0, 0), 0
        while True:
            rows = await conn.fetch(
                f"SELECT position, transaction_id::text::bigint AS tx, stream_id, event_id, type,"
                f" schema_version, data, metadata, recorded_at FROM {schema}.events"
                " WHERE (transaction_id, position) > ($1::text::xid8, $2)"
                " ORDER BY transaction_id, position LIMIT $3",
                str(last[0]),
                last[1],
                BATCH,
            )
            if not rows:
                break
            total += len(rows)
            last = (rows[-1]["tx"], rows[-1]["position"])
        return total / (time.perf_counter() - started)
    finally:
        await conn.close()


async def _query(store: PostgresEventStore) -> dict[str, object]:
    s = store.schema
    async with store.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {s}.ticket_lifecycle"))
        await conn.execute(text(_DATASET.format(s=s)), {"n": QUERY_TICKETS, "t0": T0})
    async with store.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM ANALYZE {s}.ticket_lifecycle"))
    queries = MetricsQueries(store.engine, schema=s)
    filters = [
        Filters(),
        Filters(start=T0 + timedelta(days=30), end=T0 + timedelta(days=60)),
        Filters(severity="high"),
        Filters(source="osv"),
        Filters(label="security"),
    ]
    settle_gc()  # as the service runs (see metrics_release_queries), for both sides
    try:
        for shape in filters:  # warm-up, not measured: the pool's connection, plans, caches
            await queries.duration("time-to-triage", shape)
            await _client_side(store, shape)
        ours = [
            await _timed(queries.duration("time-to-triage", filters[i % 5]))
            for i in range(QUERY_RUNS)
        ]
        baseline = [
            await _timed(_client_side(store, filters[i % 5])) for i in range(QUERY_RUNS // 4)
        ]
    finally:
        restore_gc()
    p99, base99 = _p99(ours), _p99(baseline)
    return {
        "bench": "metrics_query_p99",
        "ours": round(p99, 2),
        "baseline": round(base99, 2),
        "ratio": round(p99 / base99, 3),
        "unit": "ms",
        "tickets": QUERY_TICKETS,
        "p50_ms": round(percentile_cont(ours, 0.5) or 0.0, 2),
        "target": "< 50 ms",
    }


async def _client_side(store: PostgresEventStore, filters: Filters) -> None:
    where, params = filters.where("time_to_triage_s IS NOT NULL")
    async with store.engine.connect() as conn:
        rows = list(
            await conn.execute(
                text(
                    f"SELECT time_to_triage_s, triage_within_sla"
                    f" FROM {store.schema}.ticket_lifecycle{where}"
                ),
                params,
            )
        )
    values = [r[0] for r in rows]
    for fraction in (0.5, 0.9, 0.95):
        percentile_cont(values, fraction)
    _ = (max(values, default=None), sum(1 for r in rows if r[1]))


async def _timed(call: object) -> float:
    started = time.perf_counter()
    await call  # type: ignore[misc]
    return (time.perf_counter() - started) * 1000


def _p99(samples: list[float]) -> float:
    return percentile_cont(samples, 0.99) or 0.0


_DATASET = """
INSERT INTO {s}.ticket_lifecycle
    (ticket_id, state, severity, source, labels, opened_at, triaged_at, triage_deadline,
     planned_at, plan_deadline, approved_at, events)
SELECT g,
       CASE WHEN g % 5 = 0 THEN 'opened' WHEN g % 3 = 0 THEN 'approved' ELSE 'planned' END,
       (ARRAY['critical', 'high', 'medium', 'low'])[1 + g % 4],
       (ARRAY['report', 'alertmanager', 'osv', 'github', 'grafana'])[1 + g % 5],
       CASE WHEN g % 7 = 0 THEN ARRAY['security', 'cve'] WHEN g % 11 = 0 THEN ARRAY['regression']
            ELSE ARRAY[]::text[] END,
       CAST(:t0 AS timestamptz) + g * interval '3 minutes',
       CASE WHEN g % 5 <> 0 THEN CAST(:t0 AS timestamptz) + g * interval '3 minutes'
            + (random() * 48) * interval '1 hour' END,
       CAST(:t0 AS timestamptz) + g * interval '3 minutes' + interval '24 hours',
       CASE WHEN g % 5 <> 0 THEN CAST(:t0 AS timestamptz) + g * interval '3 minutes'
            + interval '60 hours' END,
       CAST(:t0 AS timestamptz) + g * interval '3 minutes' + interval '5 days',
       CASE WHEN g % 15 = 0 THEN CAST(:t0 AS timestamptz) + g * interval '3 minutes'
            + interval '80 hours' END,
       4
FROM generate_series(1, :n) AS g
"""
