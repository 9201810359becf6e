"""Micro benchmark of the store's CPU per appended event before any SQL is sent: building the
7 `NewEvent`s (with their `Metadata`) of one triage ticket as the triage handler does, and
chaining them (`chain`: canonical JSON and hashes). No Kafka, no database:

    flock /tmp/lts-bench.lock uv run python -m bench.micro_chain

Each ticket is decided first (not measured), so what is measured works on objects just made,
as in the service. The CPU time (`time.process_time`) of each step is taken around each call,
less what an empty interval measures. Prints one JSON line per step: the median over ROUNDS
rounds of TICKETS tickets of the CPU per ticket in microseconds, with the spread (min, max).
Steps: `new_events` (validated `Metadata`, as the triage shell makes them today),
`new_events_trusted` (`Metadata.trusted`, where it exists), `chain`."""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.envelope import Metadata, NewEvent
from lts_events.hashing import GENESIS
from lts_events.store.chaining import chain

os.environ.setdefault("LTS_TRIAGE_AUTO_TRIAGE", "evidence")

from lts_triage.config import Settings  # (reads the environment set above)
from lts_triage.domain import Outcome, ReceiveTicket, TicketState, decide
from lts_triage.policy import Policy

TICKETS = 1000
ROUNDS = 7
Builder: TypeAlias = Callable[[tuple[Outcome, ...], tuple[str, str]], list[NewEvent]]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _decided(ticket_id: int, policy: Policy) -> tuple[Outcome, ...]:
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    ticket = TicketOpened(
        ticket_id=ticket_id,
        title=f"bench ticket {ticket_id}",
        source=TicketSource.OSV,
        kind=TicketKind.SECURITY,
        affected_versions=["1.4.2", "1.3.7"],
        cvss_vectors=["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
        opened_at=now,
    )
    outcomes = decide(TicketState(), ReceiveTicket(ticket), now=now, policy=policy).outcomes
    if len(outcomes) != 7:
        raise SystemExit(f"expected 7 events per ticket, decide gave {len(outcomes)}")
    return outcomes


def _new_events(outcomes: tuple[Outcome, ...], origin: tuple[str, str]) -> list[NewEvent]:
    """What `TriageHandlers._append` builds: one validated Metadata per outcome."""
    correlation_id, causation_id = origin
    return [
        NewEvent.of(
            o.event,
            Metadata(
                actor=o.actor,
                reason=o.reason,
                causation_id=causation_id,
                traceparent=TRACEPARENT,
                correlation_id=correlation_id,
            ),
        )
        for o in outcomes
    ]


def _trusted_new_events(outcomes: tuple[Outcome, ...], origin: tuple[str, str]) -> list[NewEvent]:
    """The same with `Metadata.trusted` (the outcomes' actors are validated Actors, the rest
    strings from the inbound envelope)."""
    correlation_id, causation_id = origin
    return [
        NewEvent.of(
            o.event,
            Metadata.trusted(
                actor=o.actor,
                reason=o.reason,
                causation_id=causation_id,
                traceparent=TRACEPARENT,
                correlation_id=correlation_id,
            ),
        )
        for o in outcomes
    ]


def _clock_overhead() -> float:
    """What an empty interval between two process_time() calls measures, in seconds."""
    clock = time.process_time
    samples = []
    for _ in range(20000):
        started = clock()
        samples.append(clock() - started)
    return statistics.fmean(samples)


def _rounds(steps: dict[str, Builder]) -> dict[str, list[float]]:
    """Per round, the CPU per ticket (us) of each builder and of chaining what it built."""
    policy = Settings().policy()
    clock, overhead = time.process_time, _clock_overhead()
    per_round: dict[str, list[float]] = {name: [] for name in [*steps, "chain"]}
    for round_ in range(ROUNDS + 1):  # the first warms up: caches, lazily built serializers
        spent = dict.fromkeys(per_round, 0.0)
        for ticket_id in range(round_ * TICKETS + 1, (round_ + 1) * TICKETS + 1):
            outcomes = _decided(ticket_id, policy)
            origin = (str(uuid.uuid4()), str(uuid.uuid4()))  # the inbound envelope's ids
            for name, build in steps.items():
                started = clock()
                events = build(outcomes, origin)
                spent[name] += clock() - started - overhead
            started = clock()
            chain("ticket-1", events, head_version=0, head_hash=GENESIS)
            spent["chain"] += clock() - started - overhead
        if round_:
            for name, seconds in spent.items():
                per_round[name].append(seconds / TICKETS * 1e6)
    return per_round


def _row(name: str, rounds: list[float]) -> dict[str, object]:
    return {
        "bench": name,
        "us_per_ticket": round(statistics.median(rounds), 1),
        "min": round(min(rounds), 1),
        "max": round(max(rounds), 1),
        "events_per_ticket": 7,
    }


def main() -> None:
    steps: dict[str, Builder] = {"new_events": _new_events}
    if hasattr(Metadata, "trusted"):  # not before it existed: the script also measures those
        steps["new_events_trusted"] = _trusted_new_events
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's sight, as in a service
    for name, rounds in _rounds(steps).items():
        print(json.dumps(_row(name, rounds)), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
