"""`pipeline_e2e`: the pipeline as a user feels it, every stage a real process as in `make dev`.

Intake, triage and metrics run as their own processes (harness/stack.py) on a database of their
own and a Kafka namespace of their own on the bench's broker and server. Distinct alerts go as
CloudEvents onto `lts.inbound.alerts`; each one becomes a ticket (intake), is triaged, scored,
decided and planned (triage: a critical alert on an LTS version is planned automatically), and
every event is audited by metrics. An alert is done when metrics has audited its
`BackportPlanned`.

- `pipeline_e2e` (alerts/s): N alerts offered at once; the sustained rate from the first send to
  the last alert done, against the target (no baseline can stand for a whole pipeline; each
  stage's own ratio is in its bench). Also CPU seconds per 1,000 alerts of each service process
  and of the PostgreSQL backends of the run's database together (`postgres`; user + system,
  from /proc), which says where the time goes, and the load average before and after the burst:
  on this shared 2-core machine the rate follows the load, the CPU per alert much less. With
  the local broker (`lts infra up`), its CPU too (`kafka`), and this process's (`bench`: the
  load's producer and the counting); then `cpu_bound_alerts_per_s`, the rate the machine's
  cores could sustain at that CPU per alert if every one of them were busy all along: the
  ceiling of `ours` on this machine, whatever the batching.
- `pipeline_e2e_latency` (ms): alerts offered at a steady 200/s; for each, from the moment its
  chunk was sent to the moment metrics recorded its `BackportPlanned`: p50, p99, max."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import asyncpg
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import BackportPlanned
from lts_metrics.percentiles import percentile_cont

from bench._processes import (
    RunningStack,
    alerts,
    backends_cpu_per_1000,
    cores_bound,
    cpu_per_1000,
    local_broker_pid,
    process_cpu_seconds,
    running_stack,
)

SUSTAINED = 4000
TARGET_RATE = 800  # alerts/s on this 2-core machine (issue: scale out)
OFFERED_RATE = 200.0
OFFERED_SECONDS = 15.0
DONE_TIMEOUT = 300.0

_DONE = "SELECT count(*) FROM metrics.events WHERE type = $1 AND stream_id LIKE 'triage:%'"
# 1 once the metrics projections applied every audited event (their checkpoint row exists
# once the warm-up was projected).
_PROJECTED = """
SELECT (NOT EXISTS (
    SELECT 1 FROM metrics.events AS e
    WHERE (e.transaction_id::text::bigint, e.position) > (
        SELECT transaction_id, position FROM metrics.projection_checkpoints WHERE name = 'tickets')
))::int
"""
_LATENCY = """
SELECT o.data->>'alert_fingerprint' AS fingerprint, m.recorded_at
FROM intake.events o
JOIN metrics.events m
  ON m.stream_id = 'triage:ticket-' || (o.data->>'ticket_id') AND m.type = $2
WHERE o.type = $1 AND o.data->>'alert_fingerprint' = ANY($3::text[])
"""


async def _wait_done(running: RunningStack, planned_in_all: int) -> float:
    """Until metrics audited `planned_in_all` plans in the run's database (cheap: one count);
    the wall-clock time it was seen done."""
    return await running.wait_count(
        _DONE, BackportPlanned.type, at_least=planned_in_all, within=DONE_TIMEOUT
    )


async def _done_times(conn: asyncpg.Connection, fingerprints: Sequence[str]) -> dict[str, float]:
    rows = await conn.fetch(_LATENCY, TicketOpened.type, BackportPlanned.type, list(fingerprints))
    return {r["fingerprint"]: r["recorded_at"].timestamp() for r in rows}


def _percentile(values: Sequence[float], fraction: float) -> float:
    found = percentile_cont(values, fraction)
    assert found is not None, "no latencies measured"
    return round(found, 1)


def _outside_cpu_seconds(broker: int | None) -> dict[str, float]:
    """CPU seconds so far of this process and of the local broker (when it is one)."""
    used = {"bench": time.process_time()}
    seconds = None if broker is None else process_cpu_seconds(broker)
    if seconds is not None:
        used["kafka"] = seconds
    return used


def _cpu_bound(cpu: dict[str, float | None]) -> float | None:
    """Alerts/s that every core of this machine, busy all along, would sustain at the CPU
    per alert measured (None when a share is unknown: the broker or the server elsewhere)."""
    if "kafka" not in cpu or any(seconds is None for seconds in cpu.values()):
        return None
    per_1000 = sum(seconds for seconds in cpu.values() if seconds is not None)
    return round(cores_bound(per_1000), 1)  # s per 1,000 alerts = ms per alert


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    async with running_stack(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        prefix="bench_pipeline",
    ) as running:
        broker = local_broker_pid(kafka_bootstrap_servers)
        tag = running.tag
        warm = alerts(f"warm-{tag}", 200)
        await running.send(warm, rate=None)
        await _wait_done(running, len(warm))

        burst = alerts(f"burst-{tag}", SUSTAINED)
        load_before = os.getloadavg()[0]
        cpu_before = {**running.cpu_seconds(), **_outside_cpu_seconds(broker)}
        backends_before = await running.backends_cpu_seconds()
        started = time.time()
        await running.send(burst, rate=None)
        finished = await _wait_done(running, len(warm) + SUSTAINED)
        # metrics' projections trail its audit log: their work on the burst counts too
        await running.wait_count(_PROJECTED, at_least=1, within=DONE_TIMEOUT)
        cpu: dict[str, float | None] = {
            **cpu_per_1000(
                cpu_before, {**running.cpu_seconds(), **_outside_cpu_seconds(broker)}, SUSTAINED
            ),
            "postgres": backends_cpu_per_1000(
                backends_before, await running.backends_cpu_seconds(), SUSTAINED
            ),
        }
        load_after = os.getloadavg()[0]
        rate = SUSTAINED / (finished - started)

        steady = alerts(f"steady-{tag}", int(OFFERED_RATE * OFFERED_SECONDS))
        sent_at = await running.send(steady, rate=OFFERED_RATE)
        await _wait_done(running, len(warm) + SUSTAINED + len(steady))
        done_at = await _done_times(running.conn, list(sent_at))
        latencies = sorted((done_at[k] - sent_at[k]) * 1000 for k in sent_at)
    return [
        {
            "bench": "pipeline_e2e",
            "ours": round(rate, 1),
            "target": TARGET_RATE,
            "ratio_to_target": round(rate / TARGET_RATE, 3),
            "unit": "alerts/s",
            "alerts": SUSTAINED,
            "cpu_s_per_1000_alerts": cpu,
            "cpu_bound_alerts_per_s": _cpu_bound(cpu),
            "load_1m": [round(load_before, 1), round(load_after, 1)],
        },
        {
            "bench": "pipeline_e2e_latency",
            "offered_per_s": OFFERED_RATE,
            "alerts": len(latencies),
            "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99),
            "max_ms": round(latencies[-1], 1),
            "target_p99_ms": 300,
            "unit": "ms",
        },
    ]
