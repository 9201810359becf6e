from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import (
    AdvisoryWithdrawn,
    AlertOccurrenceRecorded,
    AlertResolved,
    DuplicateLinked,
    ReleaseRef,
    TicketEnriched,
    TicketKind,
    TicketLabelled,
    TicketOpened,
)
from lts_intake.domain import Context, decide, fold, opened_from
from lts_intake.formats import (
    AlertmanagerWebhook,
    GithubIssuesEvent,
    GithubSecurityAdvisoryEvent,
    GitlabIssueHook,
    GrafanaWebhook,
    OsvRecord,
    ReportIn,
)
from lts_intake.model import Ignore, OpenTicket, ResolveAlert, WithdrawAdvisory
from lts_intake.standardize import (
    IntakePolicy,
    from_alerts,
    from_github_advisory,
    from_github_issue,
    from_gitlab_issue,
    from_osv,
    from_report,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
POLICY = IntakePolicy(product_packages=())  # the fixtures' packages (jinja2, django...) count


def fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def test_each_firing_alert_of_an_alertmanager_group_opens_its_own_ticket() -> None:
    webhook = AlertmanagerWebhook.model_validate(fixture("alertmanager_firing.json"))

    commands = from_alerts(webhook.alerts, source=TicketSource.ALERTMANAGER, now=NOW, policy=POLICY)

    assert [type(c) for c in commands] == [OpenTicket, OpenTicket]
    first = commands[0]
    assert isinstance(first, OpenTicket)
    assert first.draft.alert_fingerprint == "a1bc48475b20e73d"
    assert first.draft.severity_guess is Severity.CRITICAL
    assert first.draft.alert_severity == "critical"
    assert first.draft.title == "High CPU Temperature: High CPU core temperature"
    assert first.draft.kind is TicketKind.ALERT


def test_a_resolved_grafana_alert_becomes_a_resolution_not_a_ticket() -> None:
    webhook = GrafanaWebhook.model_validate(fixture("grafana_resolved.json"))

    [command] = from_alerts(webhook.alerts, source=TicketSource.GRAFANA, now=NOW, policy=POLICY)

    assert isinstance(command, ResolveAlert)
    assert command.fingerprint == "d8a21484c9c25a60"
    assert command.ends_at == datetime(2022, 6, 17, 0, 51, 24, 67337, tzinfo=UTC)


def test_an_alert_firing_again_with_a_new_start_adds_an_occurrence() -> None:
    webhook = GrafanaWebhook.model_validate(fixture("grafana_firing.json"))
    first = from_alerts(webhook.alerts[:1], source=TicketSource.GRAFANA, now=NOW, policy=POLICY)[0]
    history = decide(None, first, Context(ticket_id=7, now=NOW))
    assert isinstance(first, OpenTicket)
    assert first.alert_starts_at is not None
    refired = OpenTicket(
        draft=first.draft,
        keys=first.keys,
        alert_starts_at=first.alert_starts_at + timedelta(hours=2),
    )

    events = decide(fold(history), refired, Context(ticket_id=8, now=NOW))

    assert len(events) == 1
    assert isinstance(events[0], AlertOccurrenceRecorded)
    assert events[0].ticket_id == 7
    assert events[0].occurrence == 2


def test_the_same_firing_repeated_by_alertmanager_changes_nothing() -> None:
    webhook = AlertmanagerWebhook.model_validate(fixture("alertmanager_firing.json"))
    command = from_alerts(
        webhook.alerts[:1], source=TicketSource.ALERTMANAGER, now=NOW, policy=POLICY
    )[0]
    history = decide(None, command, Context(ticket_id=1, now=NOW))

    assert decide(fold(history), command, Context(ticket_id=2, now=NOW)) == []


def test_a_resolution_is_recorded_once_for_the_open_alert_ticket() -> None:
    webhook = GrafanaWebhook.model_validate(fixture("grafana_resolved.json"))
    resolution = from_alerts(webhook.alerts, source=TicketSource.GRAFANA, now=NOW, policy=POLICY)[0]
    assert isinstance(resolution, ResolveAlert)
    firing = OpenTicket(
        draft=from_alerts(
            GrafanaWebhook.model_validate(fixture("grafana_firing.json")).alerts[:1],
            source=TicketSource.GRAFANA,
            now=NOW,
            policy=POLICY,
        )[0].draft.model_copy(update={"alert_fingerprint": resolution.fingerprint}),  # type: ignore[union-attr]
        keys=resolution.keys,
        alert_starts_at=resolution.starts_at,
    )
    state = fold(decide(None, firing, Context(ticket_id=3, now=NOW)))

    events = decide(state, resolution, Context(ticket_id=4, now=NOW))
    again = decide(
        fold([*decide(None, firing, Context(ticket_id=3, now=NOW)), *events]),
        resolution,
        Context(ticket_id=4, now=NOW),
    )

    assert [type(e) for e in events] == [AlertResolved]
    assert again == []


def test_an_osv_yaml_record_maps_its_ranges_onto_the_supported_lts_lines() -> None:
    record = OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml"))

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    draft = command.draft
    assert draft.kind is TicketKind.SECURITY
    assert draft.cve_ids == ["CVE-2020-28493"]
    assert draft.advisory_ids == ["PYSEC-2021-66", "CVE-2020-28493", "SNYK-PYTHON-JINJA2-1012994"]
    assert draft.affected_lts_lines == ["release-lts/v1.4", "release-lts/v1.3"]
    assert {"security", "cve"} <= set(draft.labels)


def test_an_osv_range_outside_every_lts_line_maps_to_none() -> None:
    record = OsvRecord.model_validate(fixture("PYSEC-0000-CVE-2024-45230.yaml"))

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.affected_lts_lines == []
    assert command.draft.affected_versions == [
        "django >=5.1,<5.1.1",
        "django >=5.0,<5.0.9",
        "django >=4.2,<4.2.16",
    ]


def test_an_osv_json_record_guesses_severity_from_its_cvss_vector() -> None:
    record = OsvRecord.model_validate(fixture("GHSA-mr95-9rr4-668f.json"))

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.cvss_vectors == ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"]
    assert command.draft.severity_guess is Severity.CRITICAL


def test_an_advisory_known_under_an_alias_is_linked_not_reopened() -> None:
    pysec = from_osv(
        OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml")), now=NOW, policy=POLICY
    )
    state = fold(decide(None, pysec, Context(ticket_id=5, now=NOW)))
    ghsa = OsvRecord.model_validate(
        {
            "id": "GHSA-g3rq-g295-4j3m",
            "modified": "2021-03-22T16:34:00Z",
            "aliases": ["CVE-2020-28493"],
        }
    )

    events = decide(state, from_osv(ghsa, now=NOW, policy=POLICY), Context(ticket_id=6, now=NOW))

    assert len(events) == 1
    linked = events[0]
    assert isinstance(linked, DuplicateLinked)
    assert linked.ticket_id == 5
    assert linked.duplicate_ref == "GHSA-g3rq-g295-4j3m"


def test_a_withdrawn_advisory_annotates_its_ticket_and_never_opens_one() -> None:
    event = GithubSecurityAdvisoryEvent.model_validate(
        fixture("github_security_advisory_withdrawn.json")
    )
    command = from_github_advisory(event, now=NOW, policy=POLICY)
    assert isinstance(command, WithdrawAdvisory)

    assert decide(None, command, Context(ticket_id=9, now=NOW)) == []
    opened = TicketOpened(
        ticket_id=9, title="x", source=TicketSource.GITHUB, kind=TicketKind.SECURITY, opened_at=NOW
    )
    [withdrawn] = decide(fold([opened]), command, Context(ticket_id=10, now=NOW))
    assert isinstance(withdrawn, AdvisoryWithdrawn)
    assert withdrawn.advisory_id == "GHSA-8v27-2fg9-7h62"


def test_a_published_github_advisory_is_a_security_ticket_with_its_cve() -> None:
    event = GithubSecurityAdvisoryEvent.model_validate(
        fixture("github_security_advisory_published.json")
    )

    command = from_github_advisory(event, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.cve_ids == ["CVE-2018-6188"]
    assert command.draft.severity_guess is Severity.MEDIUM
    assert command.keys == ("advisory:GHSA-RF4J-J272-FJ86", "advisory:CVE-2018-6188")


def test_a_github_issue_opens_a_bug_ticket_reported_by_its_author() -> None:
    event = GithubIssuesEvent.model_validate(fixture("github_issues_opened.json"))

    command = from_github_issue(event, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.reporter == "Codertocat"
    assert command.draft.kind is TicketKind.BUG
    assert command.draft.external_ref == "https://github.com/Codertocat/Hello-World/issues/1"
    assert "bug" in command.draft.labels


def test_an_issue_action_that_changes_nothing_is_ignored() -> None:
    payload = fixture("github_issues_opened.json") | {"action": "assigned"}

    command = from_github_issue(GithubIssuesEvent.model_validate(payload), now=NOW, policy=POLICY)

    assert isinstance(command, Ignore)


def test_a_gitlab_issue_hook_opens_a_ticket() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_issue_hook_opened.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.source is TicketSource.GITLAB
    assert command.draft.reporter == "adambirds"
    assert command.keys[0] == "gitlab:https://gitlab.com/adambirds/zulip-gitlab-test/issues/2"


TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/src/ltsdemo/api/orders.py", line 88, in create_order
    total = pricing.total(cart)
  File "/srv/app/src/ltsdemo/pricing.py", line 12, in total
    return json.loads(cart.raw)["sum"]
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
"""


def test_a_report_is_enriched_with_its_traceback_environment_and_lts_lines() -> None:
    report = ReportIn(
        title="Checkout crashes after upgrading to 1.4.2",
        description="It used to work in 1.3.9; now every order fails.",
        traceback=TRACEBACK,
        environment="OS: Ubuntu 22.04\nPython: 3.11.6",
        package_versions="ltsdemo==1.4.2\nrequests==2.32.3",
        affected_versions=["1.4.2", "1.3.x"],
        severity=Severity.HIGH,
    )
    command = from_report(
        report, reporter="alice", contact="alice@example.org", now=NOW, policy=POLICY
    )

    events = decide(None, command, Context(ticket_id=42, now=NOW))

    opened, enriched = events
    assert isinstance(opened, TicketOpened)
    assert isinstance(enriched, TicketEnriched)
    assert opened.ticket_id == 42
    assert opened.reporter == "alice"
    assert opened.affected_lts_lines == ["release-lts/v1.4", "release-lts/v1.3"]
    assert {"crash", "regression"} <= set(opened.labels)
    assert opened.python_version == "3.11.6"
    assert enriched.traceback is not None
    assert enriched.traceback.exception_type == "json.decoder.JSONDecodeError"
    assert enriched.traceback.top_project_module == "ltsdemo.pricing"
    assert enriched.package_versions == {"ltsdemo": "1.4.2", "requests": "2.32.3"}


def test_an_alert_shortly_after_a_release_is_a_possible_regression() -> None:
    webhook = AlertmanagerWebhook.model_validate(fixture("alertmanager_firing.json"))
    command = from_alerts(
        webhook.alerts[:1], source=TicketSource.ALERTMANAGER, now=NOW, policy=POLICY
    )[0]
    assert isinstance(command, OpenTicket)
    assert command.alert_starts_at is not None
    release = ReleaseRef(version="1.4.3", released_at=command.alert_starts_at - timedelta(hours=1))
    old = ReleaseRef(version="1.4.2", released_at=command.alert_starts_at - timedelta(days=9))

    opened, enriched = decide(None, command, Context(ticket_id=1, now=NOW, releases=[release, old]))

    assert isinstance(opened, TicketOpened)
    assert isinstance(enriched, TicketEnriched)
    assert "regression" in opened.labels
    assert enriched.possible_regressions == [release]


def test_a_label_added_on_github_labels_the_ticket_once() -> None:
    opened_event = GithubIssuesEvent.model_validate(fixture("github_issues_opened.json"))
    history = decide(
        None, from_github_issue(opened_event, now=NOW, policy=POLICY), Context(ticket_id=3, now=NOW)
    )
    payload = fixture("github_issues_opened.json") | {
        "action": "labeled",
        "label": {"name": "regression"},
    }
    command = from_github_issue(GithubIssuesEvent.model_validate(payload), now=NOW, policy=POLICY)

    events = decide(fold(history), command, Context(ticket_id=4, now=NOW))
    again = decide(fold([*history, *events]), command, Context(ticket_id=4, now=NOW))

    assert len(events) == 1
    labelled = events[0]
    assert isinstance(labelled, TicketLabelled)
    assert labelled.labels == ["regression"]
    assert labelled.reason == "labelled on GitHub by Codertocat"
    assert again == []


def test_a_withdrawn_osv_record_withdraws_the_advisory_known_under_an_alias() -> None:
    pysec = from_osv(
        OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml")), now=NOW, policy=POLICY
    )
    state = fold(decide(None, pysec, Context(ticket_id=5, now=NOW)))
    withdrawn = OsvRecord.model_validate(
        fixture("PYSEC-2021-66.yaml") | {"withdrawn": "2024-02-01T00:00:00Z"}
    )

    command = from_osv(withdrawn, now=NOW, policy=POLICY)
    events = decide(state, command, Context(ticket_id=6, now=NOW))

    assert isinstance(command, WithdrawAdvisory)
    assert "advisory:CVE-2020-28493" in command.keys
    assert [type(e) for e in events] == [AdvisoryWithdrawn]


def _drafts() -> list[OpenTicket]:
    alerts = AlertmanagerWebhook.model_validate(fixture("alertmanager_firing.json")).alerts
    commands = [
        *from_alerts(alerts, source=TicketSource.ALERTMANAGER, now=NOW, policy=POLICY),
        from_osv(
            OsvRecord.model_validate(fixture("GHSA-mr95-9rr4-668f.json")), now=NOW, policy=POLICY
        ),
        from_osv(OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml")), now=NOW, policy=POLICY),
    ]
    return [c for c in commands if isinstance(c, OpenTicket)]


def test_a_ticket_opened_from_a_draft_equals_the_validated_event() -> None:
    drafts = _drafts()
    for command in drafts:
        labels = [*command.draft.labels, "regression"]

        fast = opened_from(command.draft, ticket_id=7, labels=labels)

        validated = TicketOpened(ticket_id=7, **{**command.draft.model_dump(), "labels": labels})
        assert fast == validated
        assert fast.to_data() == validated.to_data()
    assert len(drafts) == 4
