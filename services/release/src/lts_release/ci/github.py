"""GitHub's `workflow_run`, `workflow_job`, `check_suite` and `check_run` webhooks: one
observation per delivery (release-formats.md section 8; payloads as octokit/webhooks documents
them). A `workflow_job` is one job of an Actions workflow, named as the job (`unit`, `lint`),
which is what the gate patterns match; its `status` may also be `waiting` (an environment's
protection rule)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lts_events.contracts.release.ci import CiEvidence, CiSource, CiStatus
from pydantic import BaseModel, ConfigDict, ValidationError

from lts_release.ci.errors import BadInput, from_validation
from lts_release.ci.observation import Observation, branch_name, commit_sha, job_name

EVENTS = ("workflow_run", "workflow_job", "check_suite", "check_run")
SIGNATURE_PREFIX = "sha256="

# `status` before completion; `conclusion` once `status` is completed.
_RUNNING = {"in_progress": CiStatus.RUNNING}
_WAITING = ("queued", "requested", "waiting", "pending")
_CONCLUSIONS = {
    "success": CiStatus.PASSED,
    "failure": CiStatus.FAILED,
    "timed_out": CiStatus.FAILED,
    "startup_failure": CiStatus.FAILED,
    "cancelled": CiStatus.CANCELLED,
    "stale": CiStatus.CANCELLED,
    "neutral": CiStatus.SKIPPED,
    "skipped": CiStatus.SKIPPED,
    "action_required": CiStatus.PENDING,
}


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the raw body, compared
    in constant time."""
    expected = SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Named(_Open):
    name: str | None = None
    slug: str | None = None


class _Repository(_Open):
    full_name: str | None = None
    html_url: str | None = None


class _WorkflowRun(_Open):
    id: int
    name: str | None = None
    path: str | None = None
    head_branch: str | None
    head_sha: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    updated_at: datetime | None = None


class _WorkflowJob(_Open):
    id: int
    name: str
    head_branch: str | None
    head_sha: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class _SuiteRef(_Open):
    head_branch: str | None = None


class _CheckRun(_Open):
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    details_url: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    check_suite: _SuiteRef


class _CheckSuite(_Open):
    id: int
    head_branch: str | None
    head_sha: str
    status: str | None = None
    conclusion: str | None = None
    app: _Named | None = None
    updated_at: datetime | None = None


class _WorkflowRunEvent(_Open):
    workflow_run: _WorkflowRun
    workflow: _Named | None = None
    repository: _Repository | None = None


class _WorkflowJobEvent(_Open):
    workflow_job: _WorkflowJob
    repository: _Repository | None = None


class _CheckRunEvent(_Open):
    check_run: _CheckRun
    repository: _Repository | None = None


class _CheckSuiteEvent(_Open):
    check_suite: _CheckSuite
    repository: _Repository | None = None


class Ignored(Exception):
    """A delivery that is understood but records nothing (another event, no branch)."""


def observe(event: str, payload: Mapping[str, Any]) -> Observation:
    """The observation of one delivery of `event` (the `X-GitHub-Event` header); `Ignored`
    for events that are not CI results, `BadInput` naming the field for malformed ones."""
    try:
        if event == "workflow_run":
            return _workflow_run(_WorkflowRunEvent.model_validate(payload))
        if event == "workflow_job":
            return _workflow_job(_WorkflowJobEvent.model_validate(payload))
        if event == "check_run":
            return _check_run(_CheckRunEvent.model_validate(payload))
        if event == "check_suite":
            return _check_suite(_CheckSuiteEvent.model_validate(payload))
    except ValidationError as error:
        raise from_validation(error) from None
    raise Ignored(f"GitHub {event!r} events are not CI results (recorded: {', '.join(EVENTS)})")


def _workflow_run(event: _WorkflowRunEvent) -> Observation:
    run = event.workflow_run
    name = run.name or (event.workflow.name if event.workflow else None) or run.path
    return Observation(
        source=CiSource.GITHUB,
        repository=_repository(event.repository),
        branch=_branch(run.head_branch, "workflow_run.head_branch"),
        commit=commit_sha(run.head_sha, "workflow_run.head_sha"),
        job=job_name(name, "workflow_run.name"),
        status=_status(run.status, run.conclusion, "workflow_run"),
        raw_status=_raw(run.status, run.conclusion),
        evidence=CiEvidence(run_url=run.html_url),
        reported_at=run.updated_at,
    )


def _workflow_job(event: _WorkflowJobEvent) -> Observation:
    job = event.workflow_job
    return Observation(
        source=CiSource.GITHUB,
        repository=_repository(event.repository),
        branch=_branch(job.head_branch, "workflow_job.head_branch"),
        commit=commit_sha(job.head_sha, "workflow_job.head_sha"),
        job=job_name(job.name, "workflow_job.name"),
        status=_status(job.status, job.conclusion, "workflow_job"),
        raw_status=_raw(job.status, job.conclusion),
        evidence=CiEvidence(run_url=job.html_url),
        reported_at=job.completed_at or job.started_at,
    )


def _check_run(event: _CheckRunEvent) -> Observation:
    run = event.check_run
    return Observation(
        source=CiSource.GITHUB,
        repository=_repository(event.repository),
        branch=_branch(run.check_suite.head_branch, "check_run.check_suite.head_branch"),
        commit=commit_sha(run.head_sha, "check_run.head_sha"),
        job=job_name(run.name, "check_run.name"),
        status=_status(run.status, run.conclusion, "check_run"),
        raw_status=_raw(run.status, run.conclusion),
        evidence=CiEvidence(run_url=run.html_url or run.details_url),
        reported_at=run.completed_at or run.started_at,
    )


def _check_suite(event: _CheckSuiteEvent) -> Observation:
    suite = event.check_suite
    app = (suite.app.name or suite.app.slug) if suite.app else None
    sha = commit_sha(suite.head_sha, "check_suite.head_sha")
    repository = event.repository
    url = (
        f"{repository.html_url}/commit/{sha}/checks?check_suite_id={suite.id}"
        if repository and repository.html_url
        else None
    )
    return Observation(
        source=CiSource.GITHUB,
        repository=_repository(repository),
        branch=_branch(suite.head_branch, "check_suite.head_branch"),
        commit=sha,
        job=job_name(app or "check suite", "check_suite.app.name"),
        status=_status(suite.status or "queued", suite.conclusion, "check_suite"),
        raw_status=_raw(suite.status or "queued", suite.conclusion),
        evidence=CiEvidence(run_url=url),
        reported_at=suite.updated_at,
    )


def _branch(value: str | None, field: str) -> str:
    if value is None:
        raise Ignored(f"{field} is null (a run on no branch, e.g. a fork's pull request)")
    return branch_name(value, field)


def _repository(repository: _Repository | None) -> str | None:
    return repository.full_name if repository else None


def _raw(status: str, conclusion: str | None) -> str:
    return f"{status}/{conclusion}" if status == "completed" else status


def _status(status: str, conclusion: str | None, prefix: str) -> CiStatus:
    if status == "completed":
        if conclusion is None:
            raise BadInput(f"{prefix}.conclusion", "required when status is completed")
        if conclusion not in _CONCLUSIONS:
            raise BadInput(
                f"{prefix}.conclusion", f"{conclusion!r} is not one of {', '.join(_CONCLUSIONS)}"
            )
        return _CONCLUSIONS[conclusion]
    if status in _RUNNING:
        return _RUNNING[status]
    if status in _WAITING:
        return CiStatus.PENDING
    known = ", ".join([*_WAITING, *_RUNNING, "completed"])
    raise BadInput(f"{prefix}.status", f"{status!r} is not one of {known}")
