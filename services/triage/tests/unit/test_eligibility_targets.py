"""Issue 12, items 4-9: backport targets are the supported lines the issue affects, on the one
support matrix; a version is counted once; an unknown version needs a person."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import (
    AffectedVersionsRequested,
    BackportDecided,
    Decision,
    Effort,
    SeverityProposed,
    TicketTriaged,
    TriageChecklist,
)
from lts_events.support import DEFAULT_LINES
from lts_triage.api import status_of
from lts_triage.domain import FireTimer, ReceiveTicket, TicketState, decide, fold
from lts_triage.policy import Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
TODAY = T0.date()
POLICY = Policy()  # the default support matrix: 1.2 ended 2026-06-30, 1.3 and 1.4 supported


def checklist(*versions: str, security: bool = False) -> TriageChecklist:
    return TriageChecklist(
        reproduced=True,
        affected_versions=versions,
        public_exploit=False,
        workaround=True,
        api_change=False,
        effort=Effort.SMALL,
        security=security,
    )


def verdict_for(answers: TriageChecklist) -> tuple[Decision, str, list[str]]:
    risk = POLICY.risk(Severity.HIGH, answers, today=TODAY)
    verdict = POLICY.eligibility(answers, risk, today=TODAY, emergency=False)
    return verdict.decision, verdict.rule, [line.branch for line in verdict.targets]


def test_a_security_fix_targets_only_the_supported_lines_it_affects() -> None:
    assert verdict_for(checklist("1.4.2", security=True)) == (
        Decision.BACKPORT,
        "security",
        ["release-lts/v1.4"],
    )


@pytest.mark.parametrize("version", ["9.9.9", "1.2.5", "release-lts/v1.2"])
def test_a_security_fix_for_no_supported_line_targets_nothing(version: str) -> None:
    decision, rule, targets = verdict_for(checklist(version, security=True))

    assert (decision, rule, targets) == (Decision.REJECT, "unsupported_lines", [])


def test_a_range_covers_the_lines_between_its_bounds() -> None:
    assert verdict_for(checklist(">=1.2,<1.4.5"))[2] == ["release-lts/v1.4", "release-lts/v1.3"]


def test_a_blank_version_matches_no_line() -> None:
    decision, rule, targets = verdict_for(checklist(" ", security=True))

    assert (decision, rule, targets) == (Decision.DEFER, "affected_versions_unknown", [])


def test_the_default_policy_uses_the_one_support_matrix() -> None:
    assert POLICY.lines == DEFAULT_LINES


def test_a_version_and_its_branch_count_once_in_the_risk_score() -> None:
    once = POLICY.risk(Severity.HIGH, checklist("1.4.2"), today=TODAY)
    with_branch = POLICY.risk(Severity.HIGH, checklist("1.4.2", "release-lts/v1.4"), today=TODAY)

    assert with_branch == once
    assert {p.name: p.points for p in once.parts}["affected_lines"] == 4


def critical_alert(**overrides: object) -> TicketOpened:
    values: dict[str, object] = {
        "ticket_id": 9,
        "title": "ApiDown: every request fails",
        "source": TicketSource.ALERTMANAGER,
        "kind": TicketKind.ALERT,
        "alert_severity": "critical",
        "severity_guess": Severity.CRITICAL,
        "opened_at": T0,
    }
    values.update(overrides)
    return TicketOpened(**values)  # type: ignore[arg-type]


def test_a_critical_alert_without_a_version_waits_for_a_person_within_the_sla() -> None:
    decided = decide(TicketState(), ReceiveTicket(critical_alert()), now=T0, policy=POLICY)

    assert not [e for e in decided.events if isinstance(e, TicketTriaged | BackportDecided)]
    [proposed] = [e for e in decided.events if isinstance(e, SeverityProposed)]
    [requested] = [e for e in decided.events if isinstance(e, AffectedVersionsRequested)]
    assert proposed.triage_deadline == T0 + timedelta(hours=4)
    assert requested.triage_deadline == proposed.triage_deadline
    state = fold(decided.events)
    assert state.versions_requested
    assert state.triage is None
    assert status_of(state) == "needs_versions"


def test_a_critical_alert_without_a_version_breaches_its_sla_when_nobody_triages() -> None:
    state = fold(
        decide(TicketState(), ReceiveTicket(critical_alert()), now=T0, policy=POLICY).events
    )
    due = T0 + timedelta(hours=4)

    fired = decide(state, FireTimer("triage_sla", due), now=due, policy=POLICY)

    assert [e.type for e in fired.events] == [
        "lts.triage.triage_sla_breached",
        "lts.triage.breach_notification_requested",  # somebody is told (issue 12, item 12)
    ]


def test_a_critical_alert_with_a_version_is_still_triaged_automatically() -> None:
    alert = critical_alert(affected_versions=["1.4.2"])

    decided = decide(TicketState(), ReceiveTicket(alert), now=T0, policy=POLICY)

    [decision] = [e for e in decided.events if isinstance(e, BackportDecided)]
    assert decision.targets == ("release-lts/v1.4",)


def test_the_matrix_default_keeps_1_2_as_an_ended_line() -> None:
    assert [(line.version, line.end_of_support) for line in DEFAULT_LINES][-1] == (
        "1.2",
        date(2026, 6, 30),
    )
