"""Event-grain rows of the release service's events (`lts_events.contracts.release`): releases
and the tickets they ship, the backports' release deadlines, candidates' commits, rollouts and
rollbacks, CI results. Registered on `rows.ROWS`; the metrics are the views over them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lts_events.contracts.release import backports, candidates, ci, publication, rollout

from lts_metrics.facts import AuditFact, named_tickets, parse_time
from lts_metrics.rows import ROWS, Mapper, Rows, RowTable
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
TABLES = (PUBLICATIONS, RELEASED_TICKETS, BACKPORTS, CANDIDATE_COMMITS, ROLLOUTS, CI_RESULTS)


def _at(data: Mapping[str, Any], name: str, fact: AuditFact) -> Any:
    return parse_time(data.get(name)) or fact.occurred_at


@ROWS.on(publication.ReleasePublished.type)
def _published(fact: AuditFact) -> Rows:
    data, at = fact.data, _at(fact.data, "published_at", fact)
    version = str(data.get("version", ""))
    line = data.get("line") or line_of(version)
    patch = (line_and_patch(version) or (None, None))[1]
    tickets = named_tickets(data)
    rows: Rows = [
        (
            PUBLICATIONS.name,
            (fact.event_id, data.get("candidate_id"), version, line, at, len(tickets), patch),
        )
    ]
    if line:
        rows += [
            (RELEASED_TICKETS.name, (fact.event_id, ticket, line, version, at))
            for ticket in tickets
        ]
    return rows


def _backport(kind: str) -> Mapper:
    def rows(fact: AuditFact) -> Rows:
        data = fact.data
        if fact.ticket_id is None or not data.get("line"):
            return []
        deadline_field = "deadline" if kind == "sla_breached" else "release_deadline"
        row = (
            fact.event_id,
            fact.ticket_id,
            data["line"],
            kind,
            parse_time(data.get("approved_at")),
            parse_time(data.get(deadline_field)),
            _at(data, "detected_at", fact) if kind == "sla_breached" else fact.occurred_at,
        )
        return [(BACKPORTS.name, row)]

    return rows


ROWS.on(backports.BackportOpened.type)(_backport("opened"))
ROWS.on(backports.BackportRevised.type)(_backport("revised"))
ROWS.on(backports.ReleaseSlaBreached.type)(_backport("sla_breached"))


@ROWS.on(candidates.CandidateOpened.type)
def _candidate(fact: AuditFact) -> Rows:
    data = fact.data
    at, seen = _at(data, "opened_at", fact), set()
    rows: Rows = []
    for backport in data.get("backports") or ():
        ticket = backport.get("ticket_id")
        if not isinstance(ticket, int) or ticket in seen:
            continue
        seen.add(ticket)
        row = (
            fact.event_id,
            ticket,
            data.get("candidate_id"),
            data.get("line"),
            data.get("version"),
            backport.get("commit"),
            at,
        )
        rows.append((CANDIDATE_COMMITS.name, row))
    return rows


def _rollout(kind: str, at_field: str, version_field: str = "version") -> Mapper:
    def rows(fact: AuditFact) -> Rows:
        data = fact.data
        version = data.get(version_field)
        row = (
            fact.event_id,
            data.get("rollout_id"),
            kind,
            data.get("line") or (line_of(version) if isinstance(version, str) else None),
            version,
            _at(data, at_field, fact),
            parse_time(data.get("detected_at")),
            parse_time(data.get("deadline")),
            data.get("rollback_limit_seconds"),
        )
        return [(ROLLOUTS.name, row)]

    return rows


ROWS.on(rollout.RolloutStarted.type)(_rollout("started", "started_at"))
ROWS.on(rollout.RolloutCompleted.type)(_rollout("completed", "completed_at"))
ROWS.on(rollout.RollbackStarted.type)(_rollout("rollback_started", "started_at", "from_version"))
ROWS.on(rollout.RolledBack.type)(_rollout("rolled_back", "completed_at", "from_version"))
ROWS.on(rollout.RollbackOverdue.type)(_rollout("rollback_overdue", "overdue_at", "from_version"))


@ROWS.on(ci.CiResultRecorded.type)
def _ci_result(fact: AuditFact) -> Rows:
    """One row per test suite of the report; a result without test counts is one row named
    after its job, counting the job itself as one passed or failed test (other statuses:
    pending, running, cancelled, skipped count nothing)."""
    data = fact.data
    branch, status, job = str(data.get("branch", "")), str(data.get("status", "")), data.get("job")
    head = (fact.event_id,)
    tail = (branch, line_of(branch), data.get("commit"), job, data.get("gate"), status)
    at = _at(data, "reported_at", fact)
    suites = ((data.get("evidence") or {}).get("tests") or {}).get("suites") or ()
    if not suites:
        passed, failed = int(status == "passed"), int(status == "failed")
        return [(CI_RESULTS.name, (*head, job, *tail, passed, failed, 0, at))]
    return [
        (
            CI_RESULTS.name,
            (
                *head,
                suite.get("name"),
                *tail,
                int(suite.get("passed", 0)),
                int(suite.get("failed", 0)) + int(suite.get("errors", 0)),
                int(suite.get("skipped", 0)),
                at,
            ),
        )
        for suite in dict((s.get("name"), s) for s in suites).values()
    ]
