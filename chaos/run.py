"""One scenario from start to verdict: a fresh database and Kafka namespace on the chaos run's
own broker and server, the stack, the load with the scenario's faults, quiescence, the counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from lts_events.dlq.messages import DeadLetterRecord
from lts_intake.kafka import INBOUND_ALERTS

from chaos.checks import Counts, count_stores, reconciled, verify_stores
from chaos.faults import World, inject, supervise
from chaos.infra import ChaosInfrastructure
from chaos.load import Progress, deliveries, fingerprint, send
from chaos.observe import dead_letters, snapshot
from chaos.quiescence import wait_quiescent
from chaos.scenarios import Scenario
from harness.database import create_database
from harness.stack import build_stack

log = logging.getLogger(__name__)


STACK_ENV = {"LTS_TRIAGE_REMINDER_BEFORE_HOURS": str(24 * 365 * 100)}
"""Triage's approval reminder falls due as soon as a plan is made (not 24 h before its
deadline): every ticket of the load then has a durable timer that fires during the run, so the
faults hit the timer loop (and its leader) too, and `checks` counts each timer's effect."""


@dataclass(frozen=True)
class Load:
    n: int
    rate: float
    quiescence_timeout: float = 300.0
    seed: int = 11


@dataclass
class Outcome:
    counts: Counts
    logs: Path
    dead_letters: list[DeadLetterRecord]


async def run_scenario(infra: ChaosInfrastructure, scenario: Scenario, load: Load) -> Outcome:
    tag = uuid.uuid4().hex[:6]
    run = f"{scenario.name}-{tag}"
    database = f"chaos_{scenario.name.replace('-', '_')}_{tag}"
    namespace = f"chaos-{tag}."
    logs = infra.home / "logs" / run
    logs.mkdir(parents=True)
    url = await asyncio.to_thread(create_database, infra.server_url, database)
    stack = build_stack(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=url,
        database=database,
        logs=logs,
        namespace=namespace,
        extra_env=STACK_ENV,
        replicas=scenario.replicas,
        services=scenario.services,
    )
    world = World(infra, stack)
    try:
        await asyncio.to_thread(stack.start)
        quiescent = await _load_with_faults(world, scenario, load, run, namespace)
        counts = Counts(
            inputs=load.n,
            quiescent=quiescent,
            unplanned_restarts=sum(world.unplanned_restarts.values()),
            leader_takeover_s=max(world.takeovers.values(), default=None),
        )
        fingerprints = [fingerprint(run, i) for i in range(load.n)]
        await count_stores(url, counts, fingerprints, scenario.services)
        letters = await dead_letters(infra.kafka_bootstrap_servers, namespace)
        counts.dead_letters = len(letters)
        counts.verify_failed = await asyncio.to_thread(verify_stores, url, scenario.services)
        counts.reconciled = await asyncio.to_thread(
            reconciled, url, infra.kafka_bootstrap_servers, namespace
        )
        return Outcome(counts, logs, letters)
    finally:
        await asyncio.to_thread(stack.stop)


async def _load_with_faults(
    world: World, scenario: Scenario, load: Load, run: str, namespace: str
) -> bool:
    planned = deliveries(run, load.n, seed=load.seed)
    progress = Progress(len(planned))
    supervisor = asyncio.create_task(supervise(world))
    infra = world.infra
    try:
        await asyncio.gather(
            send(
                infra.kafka_bootstrap_servers,
                namespace + INBOUND_ALERTS,
                planned,
                rate=load.rate,
                progress=progress,
            ),
            inject(world, scenario.faults, progress),
        )
        log.info("%s: load sent; waiting for quiescence", scenario.name)
        return await wait_quiescent(
            lambda: snapshot(
                world.stack.database_url,
                infra.kafka_bootstrap_servers,
                namespace,
                scenario.services,
            ),
            within=load.quiescence_timeout,
        )
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
