"""One scenario from start to verdict: a fresh database and Kafka namespace on the chaos run's
own broker and server, the stack, the load with the scenario's faults, quiescence, the counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from chaos.release_checks import count_releases
from chaos.releases import STEPS_PER_RELEASE, ReleaseLeg
from chaos.replay import publish_again
from chaos.scenarios import Scenario
from harness.database import create_database
from harness.stack import Stack, build_stack

log = logging.getLogger(__name__)


STACK_ENV = {"LTS_TRIAGE_REMINDER_BEFORE_HOURS": str(24 * 365 * 100)}
"""Triage's approval reminder falls due as soon as a plan is made (not 24 h before its
deadline): every ticket of the load then has a durable timer that fires during the run, so the
faults hit the timer loop (and its leader) too, and `checks` counts each timer's effect."""
RELEASED_BEFORE = {"1.4": "1.4.2", "1.3": "1.3.8"}
"""The lines' versions out before the service (the process doc's example): the first release
of a line then has a safe version, so its publication starts a canary that can be rolled back."""


def mailing_lists(tag: str) -> dict[str, list[str]]:
    """Who comms mails in the run, per document kind: two addresses each, so that each
    delivery (revision x recipient) is counted on its own."""
    return {
        kind: [f"{kind.replace('_', '-')}-{n}-{tag}@lists.chaos.test" for n in (1, 2)]
        for kind in ("internal_status", "release_note")
    }


def release_env(
    infra: ChaosInfrastructure, files: Path, mailed: dict[str, list[str]]
) -> dict[str, str]:
    """Release and comms on the run's own package index and SMTP server; the release's files
    in one directory every replica shares; the documents mailed as `mailed` says."""
    index = infra.package_index
    return {
        "LTS_RELEASE_STAGE_DATA_DIR": str(files / "stage"),
        "LTS_RELEASE_PUB_PAGE_DIR": str(files / "pages"),
        "LTS_RELEASE_PYPI_URL": index.url,
        "LTS_RELEASE_PYPI_USERNAME": index.username or "",
        "LTS_RELEASE_PYPI_PASSWORD": index.password or "",
        "LTS_RELEASE_CORE_RELEASED_VERSIONS": json.dumps(RELEASED_BEFORE),
        "LTS_COMMS_SMTP_HOST": infra.smtp[0],
        "LTS_COMMS_SMTP_PORT": str(infra.smtp[1]),
        "LTS_COMMS_MAIL_LISTS": json.dumps(mailed),
    }


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
    mailed = mailing_lists(tag)
    url = await asyncio.to_thread(create_database, infra.server_url, database)
    stack = build_stack(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=url,
        database=database,
        logs=logs,
        namespace=namespace,
        extra_env={**STACK_ENV, **release_env(infra, logs / "release-files", mailed)},
        replicas=scenario.replicas,
        services=scenario.services,
    )
    world = World(infra, stack)
    leg = ReleaseLeg(
        urls=_replica_urls(stack),
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        namespace=namespace,
        project=f"chaos-{tag}",
        progress=Progress(scenario.releases * STEPS_PER_RELEASE),
    )
    try:
        await asyncio.to_thread(stack.start)
        quiescent = await _load_with_faults(world, scenario, load, run, namespace, leg)
        counts = Counts(
            inputs=load.n,
            quiescent=quiescent,
            unplanned_restarts=sum(world.unplanned_restarts.values()),
            leader_takeover_s=max(world.takeovers.values(), default=None),
        )
        fingerprints = [fingerprint(run, i) for i in range(load.n)]
        await count_stores(url, counts, fingerprints, scenario.services, approved=leg.approved)
        if scenario.releases:
            counts.releases_asked = scenario.releases
            counts.releases = await count_releases(
                url,
                leg.released,
                mailed=mailed,
                maildir=infra.maildir,
                index_files=_index_files(infra, leg.project),
            )
            counts.releases.replayed = leg.replayed
        letters = await dead_letters(infra.kafka_bootstrap_servers, namespace)
        counts.dead_letters = len(letters)
        counts.verify_failed = await asyncio.to_thread(verify_stores, url, scenario.services)
        counts.reconciled = await asyncio.to_thread(
            reconciled, url, infra.kafka_bootstrap_servers, namespace
        )
        return Outcome(counts, logs, letters)
    finally:
        await asyncio.to_thread(stack.stop)


def _replica_urls(stack: Stack) -> dict[str, tuple[str, ...]]:
    urls: dict[str, tuple[str, ...]] = {}
    for process in stack.services.values():
        urls[process.name] = (*urls.get(process.name, ()), process.url)
    return urls


def _index_files(infra: ChaosInfrastructure, project: str) -> list[str]:
    """The run's files in its package index (the project's, named by its module)."""
    module = project.replace("-", "_")
    return sorted(p.name for p in infra.packages.iterdir() if p.name.startswith(module + "-"))


async def _load_with_faults(
    world: World, scenario: Scenario, load: Load, run: str, namespace: str, leg: ReleaseLeg
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
            leg.run(scenario.releases),
            inject(world, scenario.faults, {"alerts": progress, "releases": leg.progress}),
        )
        if scenario.releases:
            leg.replayed = await publish_again(infra.kafka_bootstrap_servers, namespace)
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
