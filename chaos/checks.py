"""The exact counts after quiescence, and what they must be.

- every input (alert fingerprint) has exactly one ticket (`TicketOpened`), and no ticket id
  was given twice;
- every ticket has exactly one of each triage decision event (the triage store);
- every ticket's approval reminder (a durable timer, due as soon as its plan is made: see
  `run.STACK_ENV`) had its effect once, and no due timer is left unfired;
- every event stored by the run's services (but metrics) was audited once by metrics (same
  event id), and the audit log holds nothing that no store holds (phantoms);
- with a release load, each of release's and comms' decisions it asked for was taken once,
  each mail sent and each file uploaded once (`release_checks.py`);
- the DLQ holds nothing from this run (every input was healthy);
- `lts store verify` passes for every schema, and `lts audit reconcile` for the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import (
    ApprovalReminderDue,
    BackportDecided,
    BackportPlanned,
    OwnerAssigned,
    RiskScored,
    SeverityProposed,
    TicketReceived,
    TicketTriaged,
)

from chaos.observe import relayed
from chaos.release_checks import ReleaseCounts

DECISIONS = tuple(
    cls.type
    for cls in (
        TicketReceived,
        SeverityProposed,
        TicketTriaged,
        RiskScored,
        BackportDecided,
        OwnerAssigned,
        BackportPlanned,
    )
)
"""What triage decides for each of the load's tickets (a critical alert on an LTS version)."""


@dataclass
class Counts:
    inputs: int
    one_ticket: int = 0
    no_ticket: int = 0
    several_tickets: int = 0
    reused_ticket_ids: int = 0
    tickets: int = 0
    """Distinct ticket ids opened by intake (each must be triaged once)."""
    orphan_claims: int = 0
    """Ticket ids claimed by intake for which no event was stored (a claim without its events)."""
    triaged_once: int = 0
    triage_missing: int = 0
    triage_doubled: int = 0
    reminded_once: int = 0
    """Tickets whose approval reminder (a durable timer's effect) is stored exactly once."""
    reminder_missing: int = 0
    reminder_doubled: int = 0
    timers_unfired: int = 0
    """Triage's timers due before the count and not marked fired."""
    stored: int = 0
    audited_once: int = 0
    not_audited: int = 0
    phantoms: int = 0
    dead_letters: int = 0
    verify_failed: list[str] = field(default_factory=list)
    reconciled: bool = True
    """`lts audit reconcile` passed."""
    quiescent: bool = True
    unplanned_restarts: int = 0
    leader_takeover_s: float | None = None
    """With replicas: the longest time from killing a service's leader until another replica
    led (None without a leader fault)."""
    releases_asked: int = 0
    releases: ReleaseCounts | None = None
    """What the release load asked of release and comms, and how often each was done (None:
    no release load)."""


TAKEOVER_LIMIT_S = 10.0
"""A killed leader's work must move within seconds (the lock goes with its database session;
the others try every LTS_<SERVICE>_LEADER_RETRY_INTERVAL, 2 s)."""


def failures(counts: Counts) -> list[str]:
    """Every way the counts differ from a run that lost and duplicated nothing."""
    found = []
    if counts.one_ticket != counts.inputs:
        found.append(
            f"{counts.inputs - counts.one_ticket} inputs without exactly one ticket "
            f"({counts.no_ticket} none, {counts.several_tickets} several)"
        )
    if counts.reused_ticket_ids:
        found.append(f"{counts.reused_ticket_ids} ticket ids opened more than once")
    if counts.orphan_claims:
        found.append(f"{counts.orphan_claims} claimed ticket ids without events")
    if counts.triaged_once != counts.tickets or counts.triage_doubled:
        found.append(
            f"triage: {counts.triage_missing} tickets missing a decision, "
            f"{counts.triage_doubled} with a decision twice"
        )
    if counts.reminded_once != counts.tickets or counts.reminder_doubled or counts.timers_unfired:
        found.append(
            f"timers: {counts.reminder_missing} tickets without their reminder, "
            f"{counts.reminder_doubled} reminded twice, {counts.timers_unfired} due timers unfired"
        )
    if counts.not_audited or counts.phantoms or counts.audited_once != counts.stored:
        found.append(f"audit: {counts.not_audited} not audited, {counts.phantoms} phantoms")
    if counts.dead_letters:
        found.append(f"{counts.dead_letters} healthy messages in the DLQ")
    if counts.verify_failed:
        found.append(f"lts store verify failed for {', '.join(counts.verify_failed)}")
    if not counts.reconciled:
        found.append("lts audit reconcile failed")
    if not counts.quiescent:
        found.append("not quiescent before the timeout")
    if counts.leader_takeover_s is not None and counts.leader_takeover_s > TAKEOVER_LIMIT_S:
        found.append(f"a killed leader was replaced after {counts.leader_takeover_s}s")
    if counts.releases is not None:
        found += counts.releases.failures(counts.releases_asked)
    return found


def tally_tickets(
    counts: Counts, fingerprints: Iterable[str], opened: list[tuple[str, int]]
) -> None:
    """`opened`: (alert fingerprint, ticket id) of every `TicketOpened`."""
    per_input = Counter(fingerprint for fingerprint, _ in opened)
    for fingerprint in fingerprints:
        n = per_input.get(fingerprint, 0)
        counts.one_ticket += n == 1
        counts.no_ticket += n == 0
        counts.several_tickets += n > 1
    per_id = Counter(ticket_id for _, ticket_id in opened)
    counts.tickets = len(per_id)
    counts.reused_ticket_ids = sum(1 for n in per_id.values() if n > 1)


def tally_triage(counts: Counts, ticket_ids: Iterable[int], decided: list[tuple[str, str]]) -> None:
    """`decided`: (stream, type) of every triage decision event."""
    per_stream = Counter(decided)
    for ticket_id in set(ticket_ids):
        seen = [per_stream.get((ticket_stream(ticket_id), kind), 0) for kind in DECISIONS]
        counts.triaged_once += all(n == 1 for n in seen)
        counts.triage_missing += any(n == 0 for n in seen)
        counts.triage_doubled += any(n > 1 for n in seen)


def tally_reminders(
    counts: Counts,
    ticket_ids: Iterable[int],
    reminded: list[str],
    *,
    approved: Collection[int] = (),
) -> None:
    """`reminded`: the stream of every `ApprovalReminderDue` (the load's tickets are planned
    once, so each has one reminder timer and one reminder). `approved`: the tickets whose plan
    the release load approved, perhaps before their reminder fell due: triage reminds only of
    plans awaiting approval, so those owe none, and none counts as once for them."""
    per_stream = Counter(reminded)
    for ticket_id in set(ticket_ids):
        n = per_stream.get(ticket_stream(ticket_id), 0)
        owed = ticket_id not in approved
        counts.reminded_once += n == 1 or (n == 0 and not owed)
        counts.reminder_missing += n == 0 and owed
        counts.reminder_doubled += n > 1


def tally_audit(counts: Counts, stored: set[str], audited: list[str]) -> None:
    copies = Counter(audited)
    counts.stored = len(stored)
    counts.audited_once = sum(1 for event_id in stored if copies.get(event_id) == 1)
    counts.not_audited = sum(1 for event_id in stored if event_id not in copies)
    counts.phantoms = sum(1 for event_id in copies if event_id not in stored)


async def count_stores(
    database_url: str,
    counts: Counts,
    fingerprints: list[str],
    services: Sequence[str],
    *,
    approved: Collection[int] = (),
) -> None:
    """`approved`: the tickets whose plan the release load approved (`tally_reminders`)."""
    conn = await asyncpg.connect(database_url)
    try:
        opened = await conn.fetch(
            "SELECT data->>'alert_fingerprint' AS fingerprint, (data->>'ticket_id')::bigint AS id "
            "FROM intake.events WHERE type = $1",
            TicketOpened.type,
        )
        tally_tickets(counts, fingerprints, [(r["fingerprint"], r["id"]) for r in opened])
        claimed = await conn.fetch("SELECT DISTINCT ticket_id FROM intake.ticket_keys")
        streams = {r[0] for r in await conn.fetch("SELECT DISTINCT stream_id FROM intake.events")}
        counts.orphan_claims = sum(1 for r in claimed if ticket_stream(r[0]) not in streams)
        decided = await conn.fetch(
            "SELECT stream_id, type FROM triage.events WHERE type = ANY($1::text[])",
            list(DECISIONS),
        )
        tally_triage(counts, [r["id"] for r in opened], [(r[0], r[1]) for r in decided])
        reminded = await conn.fetch(
            "SELECT stream_id FROM triage.events WHERE type = $1", ApprovalReminderDue.type
        )
        tally_reminders(
            counts, [r["id"] for r in opened], [r[0] for r in reminded], approved=approved
        )
        counts.timers_unfired = await conn.fetchval(
            "SELECT count(*) FROM triage.timers WHERE fired_at IS NULL AND due_at <= now()"
        )
        stored = {
            r[0]
            for s in relayed(services)
            for r in await conn.fetch(f"SELECT event_id::text FROM {s}.events")
        }
        audited = await conn.fetch(
            "SELECT event_id::text FROM metrics.events WHERE split_part(stream_id, ':', 1) = "
            "ANY($1::text[])",
            list(relayed(services)),
        )
        tally_audit(counts, stored, [r[0] for r in audited])
    finally:
        await conn.close()


def _lts(*arguments: str, env: dict[str, str]) -> bool:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lts"), *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def verify_stores(database_url: str, services: Sequence[str]) -> list[str]:
    """The schemas for which `lts store verify` fails."""
    env = {**os.environ, "DATABASE_URL": database_url}
    return [s for s in services if not _lts("store", "verify", "--schema", s, env=env)]


def reconciled(database_url: str, bootstrap_servers: str, namespace: str) -> bool:
    """Whether `lts audit reconcile` passes (nothing missing from the audit log, no phantom)."""
    env = {**os.environ, "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers}
    return _lts("audit", "reconcile", "--namespace", namespace, "--settle", "0", env=env)
