"""Intake and triage read the severity rubric the same way: a report goes through intake's
standardization and triage's proposal (both pure), as it would through the running services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_events.contracts.common import Severity
from lts_events.contracts.triage import SeverityProposed
from lts_intake.domain import opened_from
from lts_intake.formats import ReportIn
from lts_intake.standardize import IntakePolicy, from_report
from lts_triage.domain import ReceiveTicket, TicketState, decide
from lts_triage.policy import Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def proposed_for(**report: object) -> SeverityProposed:
    body = {"description": "as the title says", **report}
    command = from_report(
        ReportIn.model_validate(body), reporter="rita", contact=None, now=T0, policy=IntakePolicy()
    )
    ticket = opened_from(command.draft, ticket_id=1, labels=list(command.draft.labels))
    decided = decide(TicketState(), ReceiveTicket(ticket), now=T0, policy=Policy())
    [proposed] = [e for e in decided.events if isinstance(e, SeverityProposed)]
    return proposed


def test_remote_code_execution_is_critical_with_a_four_hour_deadline() -> None:
    proposed = proposed_for(
        title="Remote code execution via crafted pickle in cache loader", kind="security"
    )

    assert proposed.severity is Severity.CRITICAL
    assert proposed.triage_deadline == T0 + timedelta(hours=4)
    assert proposed.rule == "rubric"


def test_an_outage_reported_critical_stays_critical_despite_the_word_timeout() -> None:
    proposed = proposed_for(title="Outage: all API calls fail with a timeout", severity="critical")

    assert proposed.severity is Severity.CRITICAL


def test_a_feature_request_about_a_corrupted_config_file_is_low() -> None:
    proposed = proposed_for(title="Unclear error for corrupted config file", kind="feature")

    assert proposed.severity is Severity.LOW


def test_a_pasted_traceback_does_not_raise_a_bug_to_high() -> None:
    proposed = proposed_for(
        title="Config loader rejects a valid file",
        traceback='Traceback (most recent call last):\n  File "/app/src/ltsapp/c.py", line 1, '
        "in load\n    x()\nValueError: settings.toml\n",
    )

    assert proposed.severity is Severity.MEDIUM


def test_a_blocker_report_is_proposed_blocker_with_the_critical_deadline() -> None:
    proposed = proposed_for(title="Nothing starts after 1.4.3", severity="blocker")

    assert proposed.severity is Severity.BLOCKER
    assert proposed.triage_deadline == T0 + timedelta(hours=4)


def test_intake_and_triage_share_one_support_matrix() -> None:
    assert IntakePolicy().lines == Policy().lines
