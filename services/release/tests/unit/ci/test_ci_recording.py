from __future__ import annotations

from datetime import UTC, datetime

from lts_events.contracts.release.ci import CiStatus, FindingLevel, Gate
from lts_release.ci import gitlab
from lts_release.ci.gates import DEFAULT_GATE_RULES, GateMap
from lts_release.ci.recording import recorded
from lts_release.ci.reports import ReportKind, ReportPolicy, Upload, observe

from .fixtures import payload, raw

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
GATES = GateMap.of(DEFAULT_GATE_RULES)
SHA = "bcbb5ec396a2c0f828686f14fac9b80b780504f2"


def test_a_job_is_recorded_with_the_gate_its_name_maps_to_and_its_delivery() -> None:
    _pipeline, *jobs = gitlab.observe(payload("gitlab-pipeline-hook.json"))
    job = jobs[2]  # test-build, failed

    event = recorded(job, delivery="gitlab", gates=GATES, now=NOW)

    assert (event.job, event.gate, event.status) == ("test-build", None, CiStatus.FAILED)
    assert event.delivery_id == "gitlab#31/378/failed"
    assert event.reported_at == datetime(2016, 8, 12, 15, 26, 29, tzinfo=UTC)
    assert event.recorded_at == NOW


def test_an_upload_without_a_matching_pattern_takes_its_formats_gate() -> None:
    upload = Upload.of(ReportKind.SARIF, branch="main", commit=SHA, suite="nightly")

    event = recorded(
        observe(upload, raw("sarif-bandit.json"), ReportPolicy()),
        delivery="d",
        gates=GATES,
        now=NOW,
    )

    assert (event.gate, event.status) == (Gate.SECURITY_SCAN, CiStatus.PASSED)
    assert event.evidence.fail_level is FindingLevel.ERROR
    assert event.reported_at == NOW  # a report names no time: the time it arrived


def test_the_same_report_for_the_same_target_has_the_same_delivery_id() -> None:
    upload = Upload.of(ReportKind.JUNIT, branch="main", commit=SHA, suite="unit")
    other_suite = Upload.of(ReportKind.JUNIT, branch="main", commit=SHA, suite="integration")
    body = raw("junit-surefire-allok.xml")

    assert upload.delivery_id(body) == upload.delivery_id(body)
    assert upload.delivery_id(body) != upload.delivery_id(body + b"\n")
    assert upload.delivery_id(body) != other_suite.delivery_id(body)
