"""The real payloads of `tests/fixtures` (see its README for where each comes from), in the shapes
older and third-party senders use: what intake makes of each."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import AlertOccurrenceRecorded, TicketOpened
from lts_intake.api import parse_osv_body
from lts_intake.domain import Context, decide, fold
from lts_intake.formats import (
    AlertIn,
    AlertmanagerWebhook,
    GithubIssuesEvent,
    GitlabIssueHook,
    GrafanaLegacyAlert,
    GrafanaNotification,
    GrafanaWebhook,
    OsvRecord,
    ReportIn,
    label_set_fingerprint,
)
from lts_intake.model import AddLabels, Ignore, OpenTicket, ResolveAlert, WithdrawAdvisory
from lts_intake.standardize import (
    IntakePolicy,
    from_alerts,
    from_github_issue,
    from_gitlab_issue,
    from_osv,
    from_report,
)
from pydantic import TypeAdapter, ValidationError

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
POLICY = IntakePolicy()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def alertmanager(payload: dict[str, Any], *, now: datetime = NOW) -> list[Any]:
    webhook = AlertmanagerWebhook.model_validate(payload)
    return from_alerts(
        webhook.alerts,
        source=TicketSource.ALERTMANAGER,
        now=now,
        policy=POLICY,
        group_status=webhook.status,
    )


def without_fingerprints(payload: dict[str, Any]) -> dict[str, Any]:
    alerts = [{k: v for k, v in a.items() if k != "fingerprint"} for a in payload["alerts"]]
    return {**payload, "alerts": alerts}


# --- fingerprints ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "signature"),
    [
        ({}, 14695981039346656037),
        ({"name": "garland, briggs", "fear": "love is not enough"}, 5799056148416392346),
        ({"first-label": "first-label-value"}, 5146282821936882169),
        (
            {"first-label": "first-label-value", "second-label": "second-label-value"},
            3195800080984914717,
        ),
    ],
)
def test_the_fingerprint_of_a_label_set_is_prometheus_common_s(
    labels: dict[str, str], signature: int
) -> None:
    # The expected values are those of prometheus/common model/signature_test.go.
    assert label_set_fingerprint(labels) == f"{signature:016x}"


@pytest.mark.parametrize(
    ("name", "index", "fingerprint"),
    [
        ("alertmanager_exec_notifier.json", 0, "4ea129fd903f0e45"),
        ("alertmanager_firing.json", 0, "a1bc48475b20e73d"),
        ("alertmanager_resolved_kubernetes.json", 0, "fbab788ec4c1018b"),
    ],
)
def test_an_alert_without_a_fingerprint_gets_the_one_alertmanager_computed(
    name: str, index: int, fingerprint: str
) -> None:
    payload = fixture(name)
    assert payload["alerts"][index]["fingerprint"] == fingerprint

    command = alertmanager(without_fingerprints(payload))[index]

    assert command.keys == (f"alert:{fingerprint}",)


# --- status ----------------------------------------------------------------------------------


def test_alerts_without_a_status_or_an_end_are_firing_tickets() -> None:
    payload = fixture("alertmanager_version_0.json")

    commands = alertmanager(payload)

    assert len(commands) == len(payload["alerts"]) == 11
    assert all(isinstance(c, OpenTicket) for c in commands)
    first = commands[0]
    assert first.draft.alert_severity == "Critical"
    assert first.draft.alert_fingerprint == label_set_fingerprint(payload["alerts"][0]["labels"])
    assert first.alert_starts_at == datetime(
        2017, 1, 26, 8, 31, 54, 865000, tzinfo=UTC
    ) + timedelta(hours=5)


def test_an_alert_without_a_status_is_firing_until_its_end_has_passed() -> None:
    payload = fixture("alertmanager_without_alert_status.json")
    ending = {**payload, "alerts": [{**payload["alerts"][0], "endsAt": "2026-11-22T02:00:00Z"}]}

    [zero_end] = alertmanager(payload)
    [before_end] = alertmanager(ending, now=NOW)
    [after_end] = alertmanager(ending, now=NOW + timedelta(hours=2))

    assert isinstance(zero_end, OpenTicket)
    assert isinstance(before_end, OpenTicket)
    assert isinstance(after_end, ResolveAlert)
    assert after_end.ends_at == datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_an_alert_without_a_status_in_a_resolved_group_is_resolved() -> None:
    payload = fixture("alertmanager_resolved_kubernetes.json")
    alert = {k: v for k, v in payload["alerts"][0].items() if k not in {"status", "endsAt"}}

    [command] = alertmanager({**payload, "alerts": [alert]})

    assert isinstance(command, ResolveAlert)
    assert command.fingerprint == "fbab788ec4c1018b"


def test_a_notification_without_group_key_group_or_common_labels_is_accepted() -> None:
    payload = fixture("alertmanager_without_alert_status.json")
    for field in ("groupKey", "groupLabels", "commonLabels", "status", "receiver", "version"):
        payload.pop(field)

    [command] = alertmanager(payload)

    assert isinstance(command, OpenTicket)
    assert command.draft.title == "high_memory_load: Server High Memory usage"


def test_each_alert_of_a_mixed_grafana_group_keeps_its_own_status() -> None:
    webhook = GrafanaWebhook.model_validate(fixture("grafana_mixed.json"))

    commands = from_alerts(
        webhook.alerts,
        source=TicketSource.GRAFANA,
        now=NOW,
        policy=POLICY,
        group_status=webhook.status,
    )

    assert [type(c) for c in commands] == [ResolveAlert, ResolveAlert, OpenTicket]


def test_an_alert_still_needs_its_labels_and_start() -> None:
    alert = fixture("alertmanager_firing.json")["alerts"][0]

    for field in ("labels", "startsAt"):
        with pytest.raises(ValidationError) as raised:
            AlertIn.model_validate({k: v for k, v in alert.items() if k != field})
        assert raised.value.errors()[0]["loc"] == (field,)


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", range(10))
def test_a_start_with_any_number_of_fractional_digits_is_one_occurrence(digits: int) -> None:
    fraction = "." + "123456789"[:digits] if digits else ""
    payload = fixture("alertmanager_exec_notifier.json")
    payload["alerts"][0]["startsAt"] = f"2026-11-22T00:30:00{fraction}Z"
    [opened] = alertmanager(payload)
    history = decide(None, opened, Context(ticket_id=1, now=NOW))
    refired = json.loads(json.dumps(payload))
    refired["alerts"][0]["startsAt"] = f"2026-11-22T00:45:00{fraction}Z"

    repeated = decide(fold(history), alertmanager(payload)[0], Context(ticket_id=2, now=NOW))
    again = decide(fold(history), alertmanager(refired)[0], Context(ticket_id=2, now=NOW))

    micros = int(("123456789"[:digits] + "000000")[:6]) if digits else 0
    assert opened.alert_starts_at == datetime(2026, 11, 22, 0, 30, 0, micros, tzinfo=UTC)
    assert [type(e) for e in history][:1] == [TicketOpened]
    assert repeated == []
    assert [type(e) for e in again] == [AlertOccurrenceRecorded]


def test_a_time_without_an_offset_is_utc_as_alertmanager_s_api_reads_it() -> None:
    # Senders imitating Alertmanager write `datetime.utcnow().isoformat()`: no offset. Compared
    # with intake's clock, the naive `endsAt` of an alert without status raised a TypeError (500).
    payload = fixture("alertmanager_without_alert_status.json")
    alert = payload["alerts"][0]
    naive = {**alert, "startsAt": "2026-11-22T00:00:00", "endsAt": "2026-11-22T00:30:00"}
    aware = {**naive, "startsAt": "2026-11-22T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    firing = {**naive, "endsAt": "2026-11-22T02:00:00"}

    [ended] = alertmanager({**payload, "alerts": [naive]})
    [opened] = alertmanager({**payload, "alerts": [firing]})
    history = decide(None, opened, Context(ticket_id=1, now=NOW))
    [same_start] = alertmanager({**payload, "alerts": [aware]})

    assert isinstance(ended, ResolveAlert)
    assert ended.ends_at == datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
    assert isinstance(opened, OpenTicket)
    assert opened.alert_starts_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    assert decide(fold(history), same_start, Context(ticket_id=2, now=NOW)) == []


# --- Grafana legacy alerting -----------------------------------------------------------------


def test_a_grafana_legacy_alert_is_understood_and_says_why_it_is_ignored() -> None:
    notification = TypeAdapter(GrafanaNotification).validate_python(
        fixture("grafana_legacy_alert.json")
    )

    assert isinstance(notification, GrafanaLegacyAlert)
    assert "legacy alerting" in notification.ignored_because()


def test_a_unified_grafana_notification_is_not_taken_for_a_legacy_one() -> None:
    notification = TypeAdapter(GrafanaNotification).validate_python(fixture("grafana_mixed.json"))

    assert isinstance(notification, GrafanaWebhook)


# --- GitLab work items -----------------------------------------------------------------------


def test_a_gitlab_incident_work_item_opens_a_ticket_labelled_incident() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_work_item_incident_opened.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.keys == ("gitlab:https://gitlab.com/sathwikshetty33-group/mVc/-/issues/2",)
    assert "incident" in command.draft.labels
    assert command.draft.reporter == "sathwikshetty33"
    assert command.draft.contact is None  # GitLab sent "[REDACTED]"
    assert command.draft.source is TicketSource.GITLAB


def test_a_gitlab_task_work_item_opens_a_ticket() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_work_item_task_opened.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.title == "Sample Task."
    assert "task" in command.draft.labels


def test_a_gitlab_epic_is_ignored_saying_why() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_work_item_epic_opened.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, Ignore)
    assert "Epic" in command.reason


def test_the_documented_gitlab_issue_takes_its_severity() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_docs_work_item_issue.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.severity_guess is Severity.HIGH
    assert command.draft.contact == "admin@example.com"


# --- OSV upstream ------------------------------------------------------------------------------
# Ubuntu's OSV records name the CVE they are derived from in `upstream`, never in `aliases`
# (ossf/osv-schema docs/schema.md: a distribution's record "must not list the CVE ID as an
# alias ... To refer to these upstream vulnerabilities, `upstream` should be used").

EVERY_PACKAGE = IntakePolicy(product_packages=())


def test_an_ubuntu_record_is_keyed_by_the_cve_it_is_derived_from() -> None:
    record = OsvRecord.model_validate(fixture("UBUNTU-CVE-2024-45230.json"))

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.keys == ("advisory:UBUNTU-CVE-2024-45230", "advisory:CVE-2024-45230")
    assert command.draft.cve_ids == ["CVE-2024-45230"]
    assert "cve" in command.draft.labels


def test_an_ubuntu_record_s_related_notice_is_no_key() -> None:
    record = OsvRecord.model_validate(fixture("UBUNTU-CVE-2024-45230.json"))

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert "advisory:USN-6987-1" not in command.keys


def test_a_record_bundling_several_upstream_cves_is_keyed_by_none_of_them() -> None:
    payload = fixture("UBUNTU-CVE-2024-45230.json")
    payload["upstream"] = ["CVE-2024-45230", "CVE-2024-45231"]

    command = from_osv(OsvRecord.model_validate(payload), now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.keys == ("advisory:UBUNTU-CVE-2024-45230",)
    assert command.draft.cve_ids == ["CVE-2024-45230", "CVE-2024-45231"]


def test_an_ubuntu_package_is_not_the_product_s() -> None:
    record = OsvRecord.model_validate(fixture("UBUNTU-CVE-2024-45230.json"))

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, Ignore)
    assert "python-django" in command.reason


# --- GitLab label changes --------------------------------------------------------------------
# GitLab has no "labeled" action: a label added to an issue is an `update` whose changes.labels
# holds the whole label list before and after (opsdroid/opsdroid d22d8e3, captured on GitLab.com).


def test_a_gitlab_update_adding_a_label_labels_the_issue_s_ticket() -> None:
    hook = GitlabIssueHook.model_validate(fixture("gitlab_issue_hook_update_label_added.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert command == AddLabels(
        ("gitlab:https://gitlab.com/FabioRosado/test-project/-/issues/2",),
        ("blah",),
        reason="labelled on GitLab by FabioRosado",
    )


def test_a_gitlab_label_replaced_adds_the_new_one_only() -> None:
    # previous [blah], current [test-label]: test-label is added; the removal of blah is no
    # event intake has
    hook = GitlabIssueHook.model_validate(fixture("gitlab_issue_hook_update_label_replaced.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, AddLabels)
    assert command.keys == ("gitlab:https://gitlab.com/FabioRosado/test-project/-/issues/1",)
    assert command.labels == ("test-label",)


def test_a_gitlab_update_without_label_changes_changes_nothing() -> None:
    # zulip's capture of a title and description edit: changes without `labels`
    hook = GitlabIssueHook.model_validate(fixture("gitlab_confidential_issue_hook_updated.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert command == Ignore(
        "issue action 'update' does not open a ticket",
        keys=("gitlab:https://gitlab.example.co.uk/joe.bloggs/testing/issues/1",),
    )


def test_a_gitlab_update_only_removing_labels_changes_nothing() -> None:
    payload = fixture("gitlab_issue_hook_update_label_added.json")
    labels = payload["changes"]["labels"]
    payload["changes"]["labels"] = {"previous": labels["current"], "current": []}

    command = from_gitlab_issue(GitlabIssueHook.model_validate(payload), now=NOW, policy=POLICY)

    assert isinstance(command, Ignore)


def test_the_documented_gitlab_open_with_label_changes_still_opens() -> None:
    # the documented payload carries changes.labels on an `open`: it opens with its labels
    hook = GitlabIssueHook.model_validate(fixture("gitlab_docs_work_item_issue.json"))

    command = from_gitlab_issue(hook, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert "API" in command.draft.labels


# --- a CVE mentioned is a reference, not an identity -----------------------------------------


def test_a_report_mentioning_a_cve_is_not_keyed_by_it() -> None:
    report = ReportIn(
        title="1.4.3 regressed after the CVE-2024-45230 fix",
        description="urlize() drops trailing punctuation since the upgrade.",
    )

    command = from_report(report, reporter="ana", contact=None, now=NOW, policy=POLICY)

    assert not [k for k in command.keys if k.startswith("advisory:")]
    assert command.draft.cve_ids == []
    assert "https://www.cve.org/CVERecord?id=CVE-2024-45230" in command.draft.links


def test_a_report_declaring_its_cve_is_keyed_by_it() -> None:
    report = ReportIn(
        title="DoS in urlize", description="Large inputs hang.", cve_ids=["cve-2024-45230"]
    )

    command = from_report(report, reporter="ana", contact=None, now=NOW, policy=POLICY)

    assert "advisory:CVE-2024-45230" in command.keys
    assert command.draft.cve_ids == ["CVE-2024-45230"]


def test_a_report_refuses_a_cve_id_that_is_not_one() -> None:
    with pytest.raises(ValidationError) as raised:
        ReportIn(title="DoS in urlize", description="x", cve_ids=["GHSA-1234"])

    assert raised.value.errors()[0]["loc"] == ("cve_ids", 0)


def test_a_github_issue_mentioning_a_cve_is_not_keyed_by_it_unless_its_cve_section_names_it() -> (
    None
):
    event = fixture("github_issues_opened.json")
    mention = "1.4.3 regressed after the CVE-2024-45230 fix."
    declared = "### CVE ID\n\nCVE-2024-45230\n\n### Description\n\nDoS in urlize."

    mentioned = from_github_issue(
        GithubIssuesEvent.model_validate({**event, "issue": {**event["issue"], "body": mention}}),
        now=NOW,
        policy=POLICY,
    )
    named = from_github_issue(
        GithubIssuesEvent.model_validate({**event, "issue": {**event["issue"], "body": declared}}),
        now=NOW,
        policy=POLICY,
    )

    assert isinstance(mentioned, OpenTicket)
    assert isinstance(named, OpenTicket)
    assert "advisory:CVE-2024-45230" not in mentioned.keys
    assert "https://www.cve.org/CVERecord?id=CVE-2024-45230" in mentioned.draft.links
    assert "advisory:CVE-2024-45230" in named.keys


# --- OSV from other producers ----------------------------------------------------------------


def osv_records(name: str) -> list[Any]:
    return parse_osv_body((FIXTURES / name).read_bytes(), "application/json")


def test_null_arrays_a_go_converter_wrote_are_read_as_empty() -> None:
    # osv.dev's Alpine converter (vulnfeeds, Go) wrote "versions": null: refused with a 422.
    [record] = osv_records("CVE-2012-2812_alpine_versions_null.json")

    command = from_osv(record, now=NOW, policy=IntakePolicy(product_packages=()))

    assert isinstance(command, OpenTicket)
    assert record.affected[0].versions == []
    assert command.draft.affected_versions[0] == "libexif <0.6.21-r0"


def test_an_osv_array_of_the_wrong_type_is_still_refused_naming_it() -> None:
    record = fixture("CVE-2012-2812_alpine_versions_null.json")
    record["affected"][1]["versions"] = "0.6.20"

    with pytest.raises(RequestValidationError) as raised:
        parse_osv_body(json.dumps(record).encode(), "application/json")

    assert raised.value.errors()[0]["loc"] == ("body", 0, "affected", 1, "versions")


def test_a_go_vulndb_record_is_read_and_only_concerns_the_product_when_it_names_it() -> None:
    [record] = osv_records("GO-2024-2937.json")

    ours = from_osv(record, now=NOW, policy=POLICY)
    every = from_osv(record, now=NOW, policy=IntakePolicy(product_packages=()))

    assert isinstance(ours, Ignore)
    assert "golang.org/x/image" in ours.reason
    assert isinstance(every, OpenTicket)
    assert every.keys == (
        "advisory:GO-2024-2937",
        "advisory:CVE-2024-24792",
        "advisory:GHSA-9PHM-FM57-RHG8",
    )  # `related` (CVE-2023-36308) is another problem: no key
    assert every.draft.affected_versions == ["golang.org/x/image <0.18.0"]


def test_grafana_s_own_default_webhook_payload_opens_a_ticket_on_the_alertmanager_key() -> None:
    # grafana/alerting's golden output: per-alert orgId, "values": null, "valueString": "".
    payload = fixture("grafana_alerting_webhook_default.json")
    notification = TypeAdapter(GrafanaNotification).validate_python(payload)
    assert isinstance(notification, GrafanaWebhook)

    [command] = from_alerts(
        notification.alerts,
        source=TicketSource.GRAFANA,
        now=NOW,
        policy=POLICY,
        group_status=notification.status,
    )

    assert isinstance(command, OpenTicket)
    assert command.keys == ("alert:fac0861a85de433a",)
    assert label_set_fingerprint(payload["alerts"][0]["labels"]) == "fac0861a85de433a"


# --- RustSec (rustsec/advisory-db, branch osv) ---------------------------------------------

EVERY_PACKAGE = IntakePolicy(product_packages=())


def test_an_unmaintained_crate_notice_is_no_vulnerability_and_opens_no_ticket() -> None:
    # database_specific.informational "unmaintained", no CVE, no CVSS: opened a security ticket.
    [record] = osv_records("RUSTSEC-2016-0004.json")

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, Ignore), command
    assert "RUSTSEC-2016-0004 is informational (unmaintained)" in command.reason


def test_an_unsound_advisory_without_cve_or_score_is_a_bug_not_a_security_ticket() -> None:
    # informational "unsound": undefined behaviour reachable from safe code, a defect to fix;
    # it was opened as kind security and labelled security.
    [record] = osv_records("RUSTSEC-2026-0198.json")

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.draft.kind.value == "bug"
    assert "unsound" in command.draft.labels
    assert "security" not in command.draft.labels
    assert command.keys == ("advisory:RUSTSEC-2026-0198",)
    assert command.draft.affected_versions == ["error-stack >=0.0.0-0,<0.8.0"]


def test_an_informational_advisory_with_a_cve_and_a_score_is_still_a_vulnerability() -> None:
    # traitobject: informational "unsound", yet CVE-2020-35881 and a CVSS 3.1 vector (9.8), both
    # in severity[] and as a plain string in affected[].database_specific.cvss.
    [record] = osv_records("RUSTSEC-2020-0027.json")

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.draft.kind.value == "security"
    assert command.draft.severity_guess is Severity.CRITICAL
    assert command.draft.cve_ids == ["CVE-2020-35881"]
    assert {"security", "cve", "unsound"} <= set(command.draft.labels)
    assert command.draft.cvss_vectors == ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]


def test_a_withdrawn_informational_advisory_is_a_withdrawal() -> None:
    [record] = osv_records("RUSTSEC-2019-0031_withdrawn.json")

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, WithdrawAdvisory)
    assert command.withdrawn_at == datetime(2020, 10, 8, 12, 0, tzinfo=UTC)


def test_a_cvss_vector_given_only_as_a_plain_string_in_database_specific_is_read() -> None:
    # RustSec's OSV export of 2021-2023 had no severity[]: the vector was only the string
    # affected[].database_specific.cvss, which intake read only as {"vectorString": ...}.
    [record] = osv_records("RUSTSEC-2019-0037_2021_export.json")
    assert not record.severity

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.draft.cvss_vectors == ["CVSS:3.0/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H"]
    assert command.draft.severity_guess is Severity.MEDIUM  # 6.0
    assert "security" in command.draft.labels


def test_a_cvss_v4_severity_is_read() -> None:
    [record] = osv_records("RUSTSEC-2024-0445.json")

    command = from_osv(record, now=NOW, policy=EVERY_PACKAGE)

    assert isinstance(command, OpenTicket)
    assert command.draft.cvss_vectors == [
        "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N"
    ]
    assert command.draft.severity_guess is not None
