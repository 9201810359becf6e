from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from lts_events.contracts.release.ci import CiSource, CiStatus
from lts_release.ci import github
from lts_release.ci.errors import BadInput

from .fixtures import payload, raw


def test_a_completed_workflow_run_is_its_workflow_passing_on_its_branch_and_commit() -> None:
    observed = github.observe("workflow_run", payload("github-workflow_run-completed.payload.json"))

    assert (observed.source, observed.repository) == (CiSource.GITHUB, "octo-org/octo-repo")
    assert (observed.branch, observed.commit) == (
        "master",
        "3484a3fb816e0859fd6e1cea078d76385ff50625",
    )
    assert observed.job == "test"  # workflow_run.name is empty here: the workflow's name
    assert (observed.status, observed.raw_status) == (CiStatus.PASSED, "completed/success")
    assert (
        observed.evidence.run_url == "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    )
    assert observed.reported_at == datetime(2020, 10, 5, 16, 33, 49, tzinfo=UTC)


def test_a_requested_workflow_run_is_pending() -> None:
    observed = github.observe("workflow_run", payload("github-workflow_run-requested.payload.json"))

    assert (observed.status, observed.raw_status) == (CiStatus.PENDING, "queued")


def test_a_check_run_takes_its_branch_from_its_check_suite() -> None:
    observed = github.observe("check_run", payload("github-check_run-completed.payload.json"))

    assert (observed.branch, observed.job, observed.status) == (
        "changes",
        "Octocoders-linter",
        CiStatus.PASSED,
    )
    assert observed.evidence.run_url == "https://github.com/Codertocat/Hello-World/runs/128620228"


def test_a_check_suite_is_named_by_its_app_and_links_to_the_commit_checks() -> None:
    observed = github.observe("check_suite", payload("github-check_suite-completed.payload.json"))

    assert (observed.branch, observed.job, observed.status) == (
        "changes",
        "octocoders-linter",
        CiStatus.PASSED,
    )
    assert observed.evidence.run_url == (
        "https://github.com/Codertocat/Hello-World/commit/"
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821/checks?check_suite_id=118578147"
    )


@pytest.mark.parametrize(
    ("conclusion", "status"),
    [
        ("failure", CiStatus.FAILED),
        ("timed_out", CiStatus.FAILED),
        ("cancelled", CiStatus.CANCELLED),
        ("neutral", CiStatus.SKIPPED),
        ("skipped", CiStatus.SKIPPED),
        ("action_required", CiStatus.PENDING),
        ("stale", CiStatus.CANCELLED),
    ],
)
def test_conclusions_are_normalized(conclusion: str, status: CiStatus) -> None:
    event = payload("github-check_run-completed.payload.json")
    event["check_run"]["conclusion"] = conclusion

    assert github.observe("check_run", event).status is status


def test_a_missing_head_sha_is_refused_naming_the_field() -> None:
    event = payload("github-workflow_run-completed.payload.json")
    del event["workflow_run"]["head_sha"]

    with pytest.raises(BadInput) as refused:
        github.observe("workflow_run", event)

    assert refused.value.field == "workflow_run.head_sha"


def test_a_head_sha_that_is_no_commit_is_refused_naming_the_field() -> None:
    event = payload("github-check_run-completed.payload.json")
    event["check_run"]["head_sha"] = "not-a-sha"

    with pytest.raises(BadInput) as refused:
        github.observe("check_run", event)

    assert refused.value.field == "check_run.head_sha"


def test_an_unknown_conclusion_is_refused_naming_the_field() -> None:
    event = payload("github-workflow_run-completed.payload.json")
    event["workflow_run"]["conclusion"] = "exploded"

    with pytest.raises(BadInput) as refused:
        github.observe("workflow_run", event)

    assert refused.value.field == "workflow_run.conclusion"


def test_a_completed_run_without_conclusion_is_refused() -> None:
    event = payload("github-workflow_run-completed.payload.json")
    event["workflow_run"]["conclusion"] = None

    with pytest.raises(BadInput, match="required when status is completed"):
        github.observe("workflow_run", event)


def test_other_events_and_runs_on_no_branch_are_ignored() -> None:
    detached = copy.deepcopy(payload("github-check_suite-completed.payload.json"))
    detached["check_suite"]["head_branch"] = None

    with pytest.raises(github.Ignored):
        github.observe("push", {"ref": "refs/heads/main"})
    with pytest.raises(github.Ignored, match="head_branch is null"):
        github.observe("check_suite", detached)


def test_the_signature_is_the_hmac_sha256_of_the_body() -> None:
    body = raw("github-check_run-completed.payload.json")
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert github.signature_matches(b"s3cret", body, good)
    assert not github.signature_matches(b"other", body, good)
    assert not github.signature_matches(b"s3cret", body + b" ", good)
    assert not github.signature_matches(b"s3cret", body, None)


def test_a_workflow_job_is_the_job_by_its_own_name() -> None:
    observed = github.observe(
        "workflow_job", payload("github-workflow_job-completed-failure.payload.json")
    )

    assert (observed.repository, observed.branch, observed.job) == (
        "Codertocat/Hello-World",
        "main",
        "linters",
    )
    assert observed.commit == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert (observed.status, observed.raw_status) == (CiStatus.FAILED, "completed/failure")
    assert observed.evidence.run_url == "https://github.com/octo-org/octo-repo/runs/1291536064"
    assert observed.reported_at == datetime(2021, 8, 5, 10, 38, 16, tzinfo=UTC)


def test_a_workflow_job_waiting_for_its_environment_is_pending() -> None:
    observed = github.observe("workflow_job", payload("github-workflow_job-waiting.payload.json"))

    assert (observed.status, observed.raw_status) == (CiStatus.PENDING, "waiting")
