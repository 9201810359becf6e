"""`replicas_scaling`: the triage pipeline with one and then two replicas of each service.

Intake and triage run as processes (harness/stack.py, as bench_pipeline runs them), first one of
each, then two of each, each time on a fresh database and Kafka namespace of their own with the
same input: ALERTS distinct alerts offered at once on `lts.inbound.alerts` after a warm-up. An
alert is done when triage has stored its `BackportPlanned` (critical, on an LTS line: planned
automatically). Topics get PARTITIONS partitions in both runs, so two replicas split each
consumer group's partitions evenly; the relay stays single-active (the replica holding the
service's lock), as in production.

Rows: alerts/s with one and with two replicas, from the first send to the last alert done, and
their ratio (two over one); CPU seconds per 1,000 alerts of every process (user + system, from
/proc), which shows how the work splits over the replicas. On this 2-core machine, shared with
Kafka and PostgreSQL, a second process of each service cannot add cores: the ratio says that
replicas work and cost little, not how they scale on more cores. Each run is checked exact
once every consumer has committed all it consumed: every alert opened one ticket, every ticket
was triaged once; anything else fails the bench."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import BackportPlanned, TicketTriaged

from bench._processes import RunningStack, alerts, cpu_per_1000, running_stack
from harness.stack import ServiceProcess

SERVICES = ("intake", "triage")
ALERTS = 3000
WARM_UP = 200
PARTITIONS = 4  # even shares for 1 and 2 replicas (the default, 3, gives two replicas 2:1)
DONE_TIMEOUT = 120.0
SETTLE_TIMEOUT = 60.0

_PLANNED = "SELECT count(*) FROM triage.events WHERE type = $1"
# Exact counts: alerts that opened a ticket, tickets (ids), TicketOpened events; tickets
# triaged, TicketTriaged events (an automatic triage decides once per ticket).
_EXACT = """
SELECT
  (SELECT count(DISTINCT data->>'alert_fingerprint') FROM intake.events WHERE type = $1) AS alerts,
  (SELECT count(DISTINCT data->>'ticket_id') FROM intake.events WHERE type = $1) AS tickets,
  (SELECT count(*) FROM intake.events WHERE type = $1) AS opened,
  (SELECT count(DISTINCT stream_id) FROM triage.events WHERE type = $2) AS triaged_tickets,
  (SELECT count(*) FROM triage.events WHERE type = $2) AS triaged
"""


class NotExact(AssertionError):
    """An alert lost or duplicated on its way through the replicas."""


@dataclass(frozen=True)
class Measured:
    replicas: int
    rate: float
    cpu_s_per_1000_alerts: dict[str, float]


def _progress(service: ServiceProcess) -> dict[str, Any]:
    """The process's `/readyz/details` (answered with 503 while it waits out an outage)."""
    try:
        with urllib.request.urlopen(f"{service.url}/readyz/details", timeout=3) as answer:
            details: dict[str, Any] = json.load(answer)
    except urllib.error.HTTPError as error:
        details = json.load(error)
    return details


def _assigned(running: RunningStack) -> bool:
    """Every process consumes, and each service's partitions are shared out once among its
    replicas (none claimed twice: no rebalance under way), so none starts during the burst."""
    claimed: dict[str, list[str]] = {}
    for service in running.stack.services.values():
        partitions = list(_progress(service).get("consumer_lag", {}))
        if not partitions:
            return False
        claimed.setdefault(service.name, []).extend(partitions)
    for partitions in claimed.values():
        topics = {partition.rsplit(":", 1)[0] for partition in partitions}
        if len(partitions) != len(set(partitions)) or len(partitions) != PARTITIONS * len(topics):
            return False
    return True


def _settled(running: RunningStack) -> bool:
    """No consumer of any process has anything uncommitted, and every relay that runs is at its
    store's head: nothing of the run is still on its way."""
    for service in running.stack.services.values():
        details = _progress(service)
        if any(details.get("consumer_lag", {}).values()):
            return False
        relay = details.get("relay")
        leading = details.get("leader", {}).get("leading", True)
        if relay is not None and leading and not relay.get("caught_up"):
            return False
    return True


async def _wait_until(condition: Callable[[RunningStack], bool], running: RunningStack) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not await asyncio.to_thread(condition, running):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {condition.__name__.strip('_')} after {SETTLE_TIMEOUT:.0f}s")
        await asyncio.sleep(0.2)


async def _check_exact(running: RunningStack, sent: int) -> None:
    row = await running.conn.fetchrow(_EXACT, TicketOpened.type, TicketTriaged.type)
    found = dict(row)
    if any(count != sent for count in found.values()):
        raise NotExact(f"{sent} alerts sent, found {found}")


async def _measure(replicas: int, *, kafka_bootstrap_servers: str, database_url: str) -> Measured:
    async with running_stack(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        prefix=f"bench_replicas{replicas}",
        services=SERVICES,
        replicas=replicas,
        extra_env={"LTS_KAFKA_PARTITIONS": str(PARTITIONS)},
    ) as running:
        warm = alerts(f"warm-{running.tag}", WARM_UP)
        await running.send(warm, rate=None)
        await running.wait_count(
            _PLANNED, BackportPlanned.type, at_least=WARM_UP, within=DONE_TIMEOUT
        )
        await _wait_until(_assigned, running)

        burst = alerts(f"burst-{running.tag}", ALERTS)
        cpu_before = running.cpu_seconds()
        started = time.time()
        await running.send(burst, rate=None)
        finished = await running.wait_count(
            _PLANNED, BackportPlanned.type, at_least=WARM_UP + ALERTS, within=DONE_TIMEOUT
        )
        cpu = cpu_per_1000(cpu_before, running.cpu_seconds(), ALERTS)

        await _wait_until(_settled, running)
        await _check_exact(running, WARM_UP + ALERTS)
    return Measured(replicas, ALERTS / (finished - started), cpu)


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    infra = {"kafka_bootstrap_servers": kafka_bootstrap_servers, "database_url": database_url}
    one = await _measure(1, **infra)
    two = await _measure(2, **infra)
    return [
        {
            "bench": "replicas_scaling",
            "ours": round(two.rate, 1),
            "baseline": round(one.rate, 1),
            "ratio": round(two.rate / one.rate, 3),
            "unit": "alerts/s",
            "ours_is": "2 replicas of intake and triage",
            "baseline_is": "1 replica of each",
            "alerts": ALERTS,
            "partitions": PARTITIONS,
            "checked_exact": f"{WARM_UP + ALERTS} alerts -> as many tickets, each triaged once",
            "cpu_s_per_1000_alerts_1_replica": one.cpu_s_per_1000_alerts,
            "cpu_s_per_1000_alerts_2_replicas": two.cpu_s_per_1000_alerts,
        }
    ]
