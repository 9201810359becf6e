"""release_gates: CI results/s from CloudEvents on `lts.inbound.ci` through recording and the
gates, in the real release service (the `SPEC` in the shared host): the consumer runtime, the CI
recorder (`CiResultRecorded` appended to the branch's stream with its delivery id), the relay
publishing it on the service's own topic, and the backports' gate evaluation consuming it back
(the backport and its branch's CI results read, readiness decided, the answer appended).

BACKPORTS open backports (seeded in the store: `BackportOpened` requiring lint, unit and
integration, QA signed on the head commit) each get RESULTS_PER_BRANCH results on their patch
branch, keyed by branch: every job pending, then running, then re-runs, with the integration
pass last, so the backport becomes ready (`BackportReady`) at its branch's last result and not
before. The clock runs from the first send to the receipt of the last `BackportReady`: by then
every result of every branch went through the gates (a branch's results are handled in order).
`recorded_per_s` counts only as far as the last `CiResultRecorded` published. A warm-up set of
other backports runs first. Baseline, same run and broker: intake's raw aiokafka
consume-and-produce passthrough of the same records (`bench_intake._baseline`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from asgi_lifespan import LifespanManager
from lts_events.actors import Actor, Role
from lts_events.contracts.release.backports import (
    BackportOpened,
    BackportReady,
    SignOffKind,
    SignOffRecorded,
    backport_stream,
)
from lts_events.contracts.release.ci import CiResultRecorded, Gate
from lts_events.contracts.triage import RolloutStrategy
from lts_events.envelope import Metadata, NewEvent
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import NO_STREAM
from lts_events.store.postgres import PostgresEventStore
from lts_release.main import SPEC

from bench.bench_intake import Record, _baseline, _delete_topics, _drop_schema, _env

BACKPORTS = int(os.environ.get("BENCH_RELEASE_BACKPORTS", "200"))
WARM_UP_BACKPORTS = 20
RESULTS_PER_BRANCH = 30
LINE = "1.4"
GATES = (Gate.LINT, Gate.UNIT, Gate.INTEGRATION)
JOBS = {Gate.LINT: "lint", Gate.UNIT: "unit (3.11)", Gate.INTEGRATION: "integration"}
RECORDED, READY = CiResultRecorded.type.encode(), BackportReady.type.encode()


def _commit(ticket: int) -> str:
    return f"{ticket:040x}"


def _branch(ticket: int) -> str:
    return f"lts/v{LINE}/issue-{ticket}"


def _results(ticket: int, run: str) -> list[Record]:
    """A branch's results in order; the integration pass is the last and the only one that
    completes the gates (lint and unit pass before it)."""
    statuses = ["pending", "running", "failed", "running"]
    plan = [(gate, status) for status in statuses for gate in GATES]
    while len(plan) < RESULTS_PER_BRANCH - 3:
        plan.append((GATES[len(plan) % 2], "running"))  # re-runs of lint and unit
    plan += [(Gate.LINT, "passed"), (Gate.UNIT, "passed"), (Gate.INTEGRATION, "passed")]
    records: list[Record] = []
    for index, (gate, status) in enumerate(plan):
        data = {
            "branch": _branch(ticket),
            "commit": _commit(ticket),
            "job": JOBS[gate],
            "status": status,
            "run_url": f"https://ci.example.org/{ticket}/{index}",
        }
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", f"{run}-{ticket}-{index}".encode()),
            ("ce_source", b"//bench/ci"),
            ("ce_type", b"lts.ci.result"),
            ("content-type", b"application/json"),
        ]
        records.append((_branch(ticket).encode(), json.dumps(data).encode(), headers))
    return records


def _interleaved(tickets: range, run: str) -> list[Record]:
    """Every branch's results, round-robin over the branches (as many CI jobs run at once)."""
    per_branch = [_results(ticket, run) for ticket in tickets]
    return [branch[i] for i in range(RESULTS_PER_BRANCH) for branch in per_branch]


async def _seed(store: PostgresEventStore, tickets: range) -> None:
    """Open backports, QA signed on the commit their results will be for."""
    now = datetime.now(UTC)
    qa = Metadata(actor=Actor(id="qa-bench", role=Role.QA), reason="bench")
    for ticket in tickets:
        opened = BackportOpened(
            ticket_id=ticket,
            line=LINE,
            revision=1,
            target_branch=f"release-lts/v{LINE}",
            patch_branch=_branch(ticket),
            tests_required=("lint", "unit", "integration"),
            required_gates=GATES,
            essential_gates=GATES,
            security_sign_off_required=False,
            rollout_strategy=RolloutStrategy.IMMEDIATE,
            emergency=False,
            severity=None,
            approved_at=now,
            release_deadline=None,
        )
        signed = SignOffRecorded(
            ticket_id=ticket,
            line=LINE,
            kind=SignOffKind.QA,
            commit=_commit(ticket),
            signed_by="qa-bench",
            role=Role.QA,
            signed_at=now,
        )
        await store.append(
            backport_stream(ticket, LINE),
            [NewEvent.of(opened, qa), NewEvent.of(signed, qa)],
            expected_version=NO_STREAM,
        )


@dataclasses.dataclass
class _Seen:
    counts: Counter[bytes] = dataclasses.field(default_factory=Counter)
    last: dict[bytes, float] = dataclasses.field(default_factory=dict)
    moved: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def until(self, kind: bytes, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.counts[kind] < count:
                self.moved.clear()
                await self.moved.wait()


async def _watch(bootstrap: str, topic: str, seen: _Seen) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        seen.ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batch.values():
                for record in records:
                    kind = dict(record.headers).get("ce_type")
                    if kind in (RECORDED, READY):
                        seen.counts[kind] += 1
                        seen.last[kind] = time.perf_counter()
            seen.moved.set()
    finally:
        await consumer.stop()


@dataclasses.dataclass(frozen=True)
class Measured:
    through_gates_per_s: float
    recorded_per_s: float
    cpu_ms_per_result: float


async def _send(producer: AIOKafkaProducer, topic: str, records: list[Record]) -> None:
    for key, value, headers in records:
        await producer.send(topic, value, key=key, headers=headers)
    await producer.flush()


async def _ours(bootstrap: str, database_url: str, run: str) -> Measured:
    name, inbound = f"release_bench_{run}", f"lts.inbound.ci_bench_{run}"
    warm_tickets = range(1, WARM_UP_BACKPORTS + 1)
    tickets = range(1000, 1000 + BACKPORTS)
    warm, burst = _interleaved(warm_tickets, run), _interleaved(tickets, run)
    sink = f"lts.{name}.events"
    with _env(
        LTS_RELEASE_CI_INBOUND_TOPIC=inbound,
        LTS_RELEASE_TRIAGE_TOPIC=f"lts.triage_bench_{run}.events",
        LTS_RELEASE_ROLLOUT_HEALTH_TOPIC=f"lts.inbound.health_bench_{run}",
    ):
        app = build_app(
            dataclasses.replace(SPEC, name=name),
            RuntimeSettings(kafka_bootstrap_servers=bootstrap, database_url=database_url),
        )
        try:
            async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
                store = await PostgresEventStore.connect(database_url, schema=name, migrate=False)
                try:
                    await _seed(store, range(1, WARM_UP_BACKPORTS + 1))
                    await _seed(store, tickets)
                finally:
                    await store.close()
                return await _measure(bootstrap, inbound, sink, warm, burst)
        finally:
            await _drop_schema(database_url, name)
            await _delete_topics(
                bootstrap,
                [
                    inbound,
                    sink,
                    f"lts.triage_bench_{run}.events",
                    f"lts.inbound.health_bench_{run}",
                ],
            )


async def _measure(
    bootstrap: str, inbound: str, sink: str, warm: list[Record], burst: list[Record]
) -> Measured:
    seen = _Seen()
    watcher = asyncio.create_task(_watch(bootstrap, sink, seen))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await asyncio.wait_for(seen.ready.wait(), 30)
        await _send(producer, inbound, warm)
        await seen.until(READY, WARM_UP_BACKPORTS, within=300)
        started, cpu = time.perf_counter(), time.process_time()
        await _send(producer, inbound, burst)
        await seen.until(READY, WARM_UP_BACKPORTS + BACKPORTS, within=600)
        await seen.until(RECORDED, len(warm) + len(burst), within=60)
        cpu = time.process_time() - cpu
    finally:
        await producer.stop()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return Measured(
        through_gates_per_s=len(burst) / (seen.last[READY] - started),
        recorded_per_s=len(burst) / (seen.last[RECORDED] - started),
        cpu_ms_per_result=1000 * cpu / len(burst),
    )


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    run = uuid.uuid4().hex[:8]
    records = _interleaved(range(1, WARM_UP_BACKPORTS + 1), run) + _interleaved(
        range(1000, 1000 + BACKPORTS), run
    )
    baseline = await _baseline(kafka_bootstrap_servers, records, run)
    ours = await _ours(kafka_bootstrap_servers, database_url, run)
    return [
        {
            "bench": "release_gates",
            "ours": round(ours.through_gates_per_s, 1),
            "baseline": round(baseline.per_second, 1),
            "ratio": round(ours.through_gates_per_s / baseline.per_second, 3),
            "unit": "CI results/s",
            "recorded_per_s": round(ours.recorded_per_s, 1),
            "results": BACKPORTS * RESULTS_PER_BRANCH,
            "branches": BACKPORTS,
            "results_per_branch": RESULTS_PER_BRANCH,
            "cpu_ms_per_result": round(ours.cpu_ms_per_result, 3),
            "target": ">= 1000 CI results/s",
        }
    ]


if __name__ == "__main__":
    print(
        asyncio.run(
            main(
                kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                database_url=os.environ["DATABASE_URL"],
            )
        )
    )
