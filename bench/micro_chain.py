"""Micro benchmark of the store's CPU per appended event before any SQL is sent: building the
7 `NewEvent`s (with their `Metadata`) of one triage ticket as the triage handler does, and
chaining them (`chain`: canonical JSON and hashes). No Kafka, no database:

    flock /tmp/lts-bench.lock uv run python -m bench.micro_chain

Prints one JSON line per measurement: the median over ROUNDS rounds of the CPU time
(`time.process_time`) per ticket, in microseconds, with the spread (min, max)."""

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

from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.envelope import Metadata, NewEvent
from lts_events.hashing import GENESIS
from lts_events.store.chaining import chain

os.environ.setdefault("LTS_TRIAGE_AUTO_TRIAGE", "evidence")

from lts_triage.config import Settings  # (reads the environment set above)
from lts_triage.domain import Outcome, ReceiveTicket, TicketState, decide

TICKETS = 2000
ROUNDS = 7
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _outcomes(count: int) -> list[tuple[Outcome, ...]]:
    policy = Settings().policy()
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    decided: list[tuple[Outcome, ...]] = []
    for ticket_id in range(1, count + 1):
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
        decided.append(outcomes)
    return decided


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


def _per_ticket_us(work: Callable[[], object]) -> list[float]:
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        work()
        rounds.append((time.process_time() - started) / TICKETS * 1e6)
    return rounds


def _row(name: str, rounds: list[float]) -> dict[str, object]:
    return {
        "bench": name,
        "us_per_ticket": round(statistics.median(rounds), 1),
        "min": round(min(rounds), 1),
        "max": round(max(rounds), 1),
        "events_per_ticket": 7,
    }


def main() -> None:
    decided = _outcomes(TICKETS)
    origins = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in decided]  # the inbound envelopes'
    built = [
        _new_events(outcomes, origin) for outcomes, origin in zip(decided, origins, strict=True)
    ]
    # The inputs stay alive for the whole run: out of the collector's sight, as a service's
    # start-up objects are (`freeze_startup_objects`), so that the young collections the
    # measured code causes are counted but not passes over thousands of idle inputs.
    gc.collect()
    gc.freeze()

    def build() -> None:
        for outcomes, origin in zip(decided, origins, strict=True):
            _new_events(outcomes, origin)

    def build_trusted() -> None:
        for outcomes, origin in zip(decided, origins, strict=True):
            _trusted_new_events(outcomes, origin)

    def chain_all() -> None:
        for events in built:
            chain("ticket-1", events, head_version=0, head_hash=GENESIS)

    works = [("new_events", build), ("chain", chain_all)]
    if hasattr(Metadata, "trusted"):  # not before it existed: the script also measures those
        works.insert(1, ("new_events_trusted", build_trusted))
    for name, work in works:
        work()  # warm up: caches, lazily built serializers
        print(json.dumps(_row(name, _per_ticket_us(work))), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
