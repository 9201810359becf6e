from __future__ import annotations

import json

import pytest
from lts_events.contracts.release.ci import CiSource, CiStatus, Gate
from lts_events.envelope import Envelope
from lts_release.ci import cloudevents
from lts_release.ci.errors import BadInput
from lts_release.ci.reports import ReportPolicy

from .fixtures import payload, raw

POLICY = ReportPolicy()
SHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"


def event(kind: str, data: dict[str, object], *, id: str = "e-1") -> Envelope:
    return Envelope(id=id, source="//ci/bridge", type=kind, data=data)


def test_a_github_payload_in_a_cloudevent_is_read_as_the_webhook() -> None:
    delivery, (observed,) = cloudevents.observe(
        event(
            "com.github.workflow_run.completed",
            payload("github-workflow_run-completed.payload.json"),
        ),
        POLICY,
    )

    assert delivery == "cloudevent://ci/bridge/e-1"
    assert (observed.source, observed.status, observed.commit) == (
        CiSource.GITHUB,
        CiStatus.PASSED,
        SHA,
    )


def test_a_gitlab_pipeline_in_a_cloudevent_is_keyed_by_content_as_over_http() -> None:
    delivery, observed = cloudevents.observe(
        event("com.gitlab.pipeline", payload("gitlab-pipeline-hook.json")), POLICY
    )

    assert delivery == "gitlab"
    assert len(observed) == 6


def test_a_junit_report_in_a_cloudevent_is_the_upload_of_that_report() -> None:
    data = {
        "branch": "release-lts/v1.4",
        "commit": SHA,
        "suite": "unit",
        "report": raw("junit-pytest-fail.xml").decode(),
    }

    delivery, (observed,) = cloudevents.observe(event("lts.ci.junit", data), POLICY)

    assert delivery.startswith("junit:")
    assert (observed.source, observed.job, observed.status) == (
        CiSource.JUNIT,
        "unit",
        CiStatus.FAILED,
    )
    assert observed.evidence.tests is not None
    assert observed.evidence.tests.failed == 1


def test_a_sarif_document_in_a_cloudevent_is_a_security_scan() -> None:
    data = {
        "branch": "main",
        "commit": SHA,
        "suite": "sast",
        "report": payload("sarif-semgrep.json"),
    }

    _, (observed,) = cloudevents.observe(event("lts.ci.sarif", data), POLICY)

    assert (observed.status, observed.default_gate) == (CiStatus.FAILED, Gate.SECURITY_SCAN)


def test_a_generic_result_is_taken_in_our_words() -> None:
    data = {
        "branch": "main",
        "commit": SHA,
        "job": "jenkins/unit",
        "status": "passed",
        "run_url": "https://ci.example.org/job/unit/42/",
    }

    _, (observed,) = cloudevents.observe(event("lts.ci.result", data), POLICY)

    assert (observed.source, observed.job, observed.status, observed.raw_status) == (
        CiSource.CLOUDEVENT,
        "jenkins/unit",
        CiStatus.PASSED,
        "passed",
    )


def test_bad_data_is_refused_naming_the_field_under_data() -> None:
    bad_report = {"branch": "main", "commit": SHA, "suite": "unit", "report": "<testsuite"}
    bad_status = {"branch": "main", "commit": SHA, "job": "unit", "status": "green"}
    no_sha = payload("github-check_run-completed.payload.json")
    no_sha["check_run"]["head_sha"] = None

    with pytest.raises(BadInput) as report:
        cloudevents.observe(event("lts.ci.junit", bad_report), POLICY)
    with pytest.raises(BadInput) as status:
        cloudevents.observe(event("lts.ci.result", bad_status), POLICY)
    with pytest.raises(BadInput) as sha:
        cloudevents.observe(event("com.github.check_run", no_sha), POLICY)

    assert report.value.field == "data.report"
    assert status.value.field == "data.status"
    assert sha.value.field == "data.check_run.head_sha"


def test_events_carrying_no_ci_result_are_ignored() -> None:
    with pytest.raises(cloudevents.Ignored, match="carries no CI result"):
        cloudevents.observe(event("org.example.deploy", {"x": 1}), POLICY)
    with pytest.raises(cloudevents.Ignored):
        cloudevents.observe(event("com.github.push", json.loads('{"ref": "x"}')), POLICY)
