"""Intake labels reports with the rubric's words and the shared vocabulary only: keyword labels
are weak hints, and the misfires of the issue do not happen."""

from __future__ import annotations

from datetime import UTC, datetime

from lts_events.contracts.common import Severity, TicketSource
from lts_intake.formats import AlertIn, ReportIn
from lts_intake.model import OpenTicket
from lts_intake.standardize import IntakePolicy, from_alerts, from_report

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
POLICY = IntakePolicy()
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/src/ltsapp/config.py", line 12, in load\n'
    "    raise ValueError(name)\n"
    "ValueError: settings.toml\n"
)


def labels_of(**report: object) -> list[str]:
    body = {"description": "as the title says", **report}
    command = from_report(
        ReportIn.model_validate(body), reporter="rita", contact=None, now=NOW, policy=POLICY
    )
    return command.draft.labels


def test_a_remote_code_execution_report_is_labelled_with_the_rubrics_words() -> None:
    labels = labels_of(
        title="Remote code execution via crafted pickle in cache loader", kind="security"
    )

    assert "remote-code-execution" in labels


def test_an_outage_is_labelled_service_down() -> None:
    labels = labels_of(title="Outage: all API calls fail with a timeout", severity="critical")

    assert "service-down" in labels


def test_a_corrupted_config_file_is_not_data_loss() -> None:
    labels = labels_of(title="Unclear error for corrupted config file", kind="feature")

    assert "data-loss" not in labels


def test_a_pasted_traceback_alone_does_not_make_a_crash() -> None:
    labels = labels_of(title="Config loader rejects a valid file", traceback=TRACEBACK)

    assert "crash" not in labels


def test_a_report_may_say_blocker() -> None:
    command = from_report(
        ReportIn.model_validate(
            {"title": "Nothing starts", "description": "after 1.4.3", "severity": "blocker"}
        ),
        reporter="rita",
        contact=None,
        now=NOW,
        policy=POLICY,
    )

    assert command.draft.severity_guess is Severity.BLOCKER


def test_a_page_alert_is_critical_as_in_triage() -> None:
    alert = AlertIn.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "ApiDown", "severity": "page"},
            "startsAt": "2026-11-22T00:59:00Z",
        }
    )

    [command] = from_alerts([alert], source=TicketSource.ALERTMANAGER, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.severity_guess is Severity.CRITICAL
