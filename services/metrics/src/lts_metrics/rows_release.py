"""Event-grain rows of the release service's events (`lts_events.contracts.release`): releases
and the tickets they ship, the backports' release deadlines, candidates' commits, rollouts and
rollbacks, CI results. Registered on `rows.ROWS` by event class; the metrics are the views over
them."""

from __future__ import annotations

from datetime import datetime

from lts_events.contracts.release import backports, candidates, ci, publication, rollout

from lts_metrics.facts import AuditFact
from lts_metrics.rows import ROWS, Rows, RowTable
from lts_metrics.versions import line_and_patch, line_of

PUBLICATIONS = RowTable(
    "release_publications",
    (
        ("event_id", "uuid NOT NULL"),
        ("candidate_id", "text"),
        ("version", "text NOT NULL"),
        ("line", "text"),
        ("published_at", "timestamptz NOT NULL"),
        ("tickets", "integer NOT NULL"),
        ("patch", "integer"),  # Z of X.Y.Z (`versions.line_and_patch`): adoption's newest patch
    ),
    ("event_id",),
    (("release_publications_line", "(line, published_at)"),),
)
YANKS = RowTable(
    "release_yanks",
    (
        ("event_id", "uuid NOT NULL"),
        ("version", "text NOT NULL"),
        ("line", "text"),
        ("patch", "integer"),  # a yanked patch is no longer its line's newest (adoption)
        ("channel", "text NOT NULL"),
        ("yanked_at", "timestamptz NOT NULL"),
    ),
    ("event_id",),
    (("release_yanks_line", "(line, patch)"),),
)
RELEASED_TICKETS = RowTable(
    "release_tickets",
    (
        ("event_id", "uuid NOT NULL"),
        ("ticket_id", "bigint NOT NULL"),
        ("line", "text NOT NULL"),
        ("version", "text NOT NULL"),
        ("published_at", "timestamptz NOT NULL"),
    ),
    ("event_id", "ticket_id"),
    (("release_tickets_ticket", "(ticket_id, line, published_at)"),),
)
BACKPORTS = RowTable(
    "release_backports",
    (
        ("event_id", "uuid NOT NULL"),
        ("ticket_id", "bigint NOT NULL"),
        ("line", "text NOT NULL"),
        ("kind", "text NOT NULL"),  # opened | revised | sla_breached
        ("approved_at", "timestamptz"),
        ("release_deadline", "timestamptz"),
        ("at", "timestamptz NOT NULL"),
    ),
    ("event_id",),
    (("release_backports_ticket", "(ticket_id, line)"),),
)
CANDIDATE_COMMITS = RowTable(
    "candidate_commits",
    (
        ("event_id", "uuid NOT NULL"),
        ("ticket_id", "bigint NOT NULL"),
        ("candidate_id", "text NOT NULL"),
        ("line", "text NOT NULL"),
        ("version", "text NOT NULL"),
        ("commit", "text NOT NULL"),
        ("opened_at", "timestamptz NOT NULL"),
    ),
    ("event_id", "ticket_id"),
    (("candidate_commits_commit", "(commit)"),),
)
ROLLOUTS = RowTable(
    "rollout_events",
    (
        ("event_id", "uuid NOT NULL"),
        ("rollout_id", "text NOT NULL"),
        ("kind", "text NOT NULL"),  # started | completed | rollback_started | rolled_back | ...
        ("line", "text"),
        ("version", "text"),
        ("at", "timestamptz NOT NULL"),
        ("detected_at", "timestamptz"),
        ("deadline", "timestamptz"),
        ("limit_seconds", "integer"),
    ),
    ("event_id",),
    (("rollout_events_rollout", "(rollout_id, kind)"),),
)
CI_RESULTS = RowTable(
    "ci_results",
    (
        ("event_id", "uuid NOT NULL"),
        ("suite", "text NOT NULL"),
        ("branch", "text NOT NULL"),
        ("line", "text"),
        ("commit", "text NOT NULL"),
        ("job", "text NOT NULL"),
        ("gate", "text"),
        ("status", "text NOT NULL"),
        ("passed", "integer NOT NULL"),
        ("failed", "integer NOT NULL"),
        ("skipped", "integer NOT NULL"),
        ("reported_at", "timestamptz NOT NULL"),
    ),
    ("event_id", "suite"),
    (
        ("ci_results_commit", "(commit, job, suite, reported_at)"),
        ("ci_results_failing", "(commit, job, suite, reported_at) WHERE failed > 0"),
    ),
)
TABLES = (PUBLICATIONS, YANKS, RELEASED_TICKETS, BACKPORTS, CANDIDATE_COMMITS, ROLLOUTS, CI_RESULTS)


@ROWS.on(publication.ReleasePublished)
def _published(e: publication.ReleasePublished, fact: AuditFact) -> Rows:
    version, at = e.version, e.published_at
    line = e.line or line_of(version)
    patch = (line_and_patch(version) or (None, None))[1]
    tickets = list(dict.fromkeys(e.ticket_ids))
    rows: Rows = [
        (
            PUBLICATIONS.name,
            (fact.event_id, e.candidate_id, version, line, at, len(tickets), patch),
        )
    ]
    if line:
        rows += [
            (RELEASED_TICKETS.name, (fact.event_id, ticket, line, version, at))
            for ticket in tickets
        ]
    return rows


@ROWS.on(publication.ReleaseYanked)
def _yanked(e: publication.ReleaseYanked, fact: AuditFact) -> Rows:
    line = e.line or line_of(e.version)
    patch = (line_and_patch(e.version) or (None, None))[1]
    return [(YANKS.name, (fact.event_id, e.version, line, patch, e.channel, e.yanked_at))]


@ROWS.on(backports.BackportOpened)
def _backport_opened(e: backports.BackportOpened, fact: AuditFact) -> Rows:
    return _backport(fact, e.ticket_id, e.line, "opened", e.approved_at, e.release_deadline)


@ROWS.on(backports.BackportRevised)
def _backport_revised(e: backports.BackportRevised, fact: AuditFact) -> Rows:
    return _backport(fact, e.ticket_id, e.line, "revised", e.approved_at, e.release_deadline)


@ROWS.on(backports.ReleaseSlaBreached)
def _release_sla_breached(e: backports.ReleaseSlaBreached, fact: AuditFact) -> Rows:
    return _backport(fact, e.ticket_id, e.line, "sla_breached", None, e.deadline, e.detected_at)


def _backport(
    fact: AuditFact,
    ticket_id: int,
    line: str,
    kind: str,
    approved_at: datetime | None,
    deadline: datetime | None,
    at: datetime | None = None,
) -> Rows:
    """A backport's row, at `at` or else when the event occurred; none without a line."""
    if not line:
        return []
    row = (fact.event_id, ticket_id, line, kind, approved_at, deadline, at or fact.occurred_at)
    return [(BACKPORTS.name, row)]


@ROWS.on(candidates.CandidateOpened)
def _candidate(e: candidates.CandidateOpened, fact: AuditFact) -> Rows:
    seen: set[int] = set()
    rows: Rows = []
    for backport in e.backports:
        if backport.ticket_id in seen:
            continue
        seen.add(backport.ticket_id)
        row = (
            fact.event_id,
            backport.ticket_id,
            e.candidate_id,
            e.line,
            e.version,
            backport.commit,
            e.opened_at,
        )
        rows.append((CANDIDATE_COMMITS.name, row))
    return rows


@ROWS.on(rollout.RolloutStarted)
def _rollout_started(e: rollout.RolloutStarted, fact: AuditFact) -> Rows:
    row = _rollout(fact, e.rollout_id, "started", e.line, e.version, e.started_at)
    return [(ROLLOUTS.name, (*row, None, None, e.rollback_limit_seconds))]


@ROWS.on(rollout.RolloutCompleted)
def _rollout_completed(e: rollout.RolloutCompleted, fact: AuditFact) -> Rows:
    row = _rollout(fact, e.rollout_id, "completed", e.line, e.version, e.completed_at)
    return [(ROLLOUTS.name, (*row, None, None, None))]


@ROWS.on(rollout.RollbackStarted)
def _rollback_started(e: rollout.RollbackStarted, fact: AuditFact) -> Rows:
    row = _rollout(fact, e.rollout_id, "rollback_started", e.line, e.from_version, e.started_at)
    return [(ROLLOUTS.name, (*row, e.detected_at, e.deadline, None))]


@ROWS.on(rollout.RolledBack)
def _rolled_back(e: rollout.RolledBack, fact: AuditFact) -> Rows:
    row = _rollout(fact, e.rollout_id, "rolled_back", e.line, e.from_version, e.completed_at)
    return [(ROLLOUTS.name, (*row, e.detected_at, None, None))]


@ROWS.on(rollout.RollbackOverdue)
def _rollback_overdue(e: rollout.RollbackOverdue, fact: AuditFact) -> Rows:
    row = _rollout(fact, e.rollout_id, "rollback_overdue", None, e.from_version, e.overdue_at)
    return [(ROLLOUTS.name, (*row, e.detected_at, e.deadline, None))]


def _rollout(
    fact: AuditFact, rollout_id: str, kind: str, line: str | None, version: str, at: datetime
) -> tuple[object, ...]:
    """The columns every rollout row has: which rollout, what happened, to which line and
    version (the line of the version when the event names none), when."""
    return (fact.event_id, rollout_id, kind, line or line_of(version), version, at)


@ROWS.on(ci.CiResultRecorded)
def _ci_result(e: ci.CiResultRecorded, fact: AuditFact) -> Rows:
    """One row per test suite of the report; a result without test counts is one row named
    after its job, counting the job itself as one passed or failed test (other statuses:
    pending, running, cancelled, skipped count nothing)."""
    status, gate = e.status.value, None if e.gate is None else e.gate.value
    head = (fact.event_id,)
    tail = (e.branch, line_of(e.branch), e.commit, e.job, gate, status)
    at = e.reported_at
    suites = () if e.evidence.tests is None else e.evidence.tests.suites
    if not suites:
        passed, failed = int(status == "passed"), int(status == "failed")
        return [(CI_RESULTS.name, (*head, e.job, *tail, passed, failed, 0, at))]
    return [
        (
            CI_RESULTS.name,
            (
                *head,
                suite.name,
                *tail,
                suite.passed,
                suite.failed + suite.errors,
                suite.skipped,
                at,
            ),
        )
        for suite in {s.name: s for s in suites}.values()
    ]
