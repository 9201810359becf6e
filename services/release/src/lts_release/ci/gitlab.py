"""GitLab's Pipeline Hook (`X-Gitlab-Event: Pipeline Hook`, verified by `X-Gitlab-Token`):
one observation for the pipeline and one per job (`builds`), each on the pipeline's branch and
commit (release-formats.md section 8; payload as GitLab's webhook_events.md documents it).

Every hook of a pipeline repeats all of its jobs, so an observation's key is its content (the
pipeline, the job and the job's status): a job is recorded once per status it reaches, however
many hooks repeat it, and a redelivered hook records nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lts_events.contracts.release.ci import CiEvidence, CiSource, CiStatus
from pydantic import BaseModel, ConfigDict, ValidationError

from lts_release.ci.errors import BadInput, from_validation
from lts_release.ci.observation import Observation, branch_name, commit_sha, job_name

EVENT = "Pipeline Hook"
_STATUSES = {
    "success": CiStatus.PASSED,
    "failed": CiStatus.FAILED,
    "canceled": CiStatus.CANCELLED,
    "canceling": CiStatus.CANCELLED,
    "skipped": CiStatus.SKIPPED,
    "running": CiStatus.RUNNING,
    "created": CiStatus.PENDING,
    "waiting_for_resource": CiStatus.PENDING,
    "waiting_for_callback": CiStatus.PENDING,
    "preparing": CiStatus.PENDING,
    "pending": CiStatus.PENDING,
    "manual": CiStatus.PENDING,
    "scheduled": CiStatus.PENDING,
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Pipeline(_Open):
    id: int
    name: str | None = None
    ref: str
    tag: bool = False
    sha: str
    status: str
    detailed_status: str | None = None
    url: str | None = None
    finished_at: str | None = None
    created_at: str | None = None


class _Build(_Open):
    id: int
    name: str
    stage: str | None = None
    status: str
    failure_reason: str | None = None
    allow_failure: bool = False
    started_at: str | None = None
    finished_at: str | None = None


class _Project(_Open):
    path_with_namespace: str | None = None
    web_url: str | None = None


class _PipelineHook(_Open):
    object_kind: str
    object_attributes: _Pipeline
    project: _Project | None = None
    builds: list[_Build] | None = None


class Ignored(Exception):
    """A hook that is understood but records nothing (another kind, a tag pipeline)."""


def observe(payload: Mapping[str, Any]) -> list[Observation]:
    """The pipeline's observation, then its jobs'; `BadInput` naming the field when malformed."""
    kind = payload.get("object_kind")
    if kind != "pipeline":
        raise Ignored(f"GitLab {kind!r} hooks are not CI results (recorded: pipeline)")
    try:
        hook = _PipelineHook.model_validate(payload)
    except ValidationError as error:
        raise from_validation(error) from None
    pipeline = hook.object_attributes
    if pipeline.tag:
        raise Ignored(f"pipeline {pipeline.id} ran for the tag {pipeline.ref!r}, not a branch")
    web_url = hook.project.web_url if hook.project else None
    first = Observation(
        source=CiSource.GITLAB,
        repository=hook.project.path_with_namespace if hook.project else None,
        branch=branch_name(pipeline.ref, "object_attributes.ref"),
        commit=commit_sha(pipeline.sha, "object_attributes.sha"),
        job=job_name(pipeline.name or "pipeline", "object_attributes.name"),
        status=_status(pipeline.status, "object_attributes.status"),
        raw_status=pipeline.detailed_status or pipeline.status,
        evidence=CiEvidence(run_url=pipeline.url or _url(web_url, "pipelines", pipeline.id)),
        reported_at=_time(pipeline.finished_at or pipeline.created_at),
        key=f"{pipeline.id}/pipeline/{pipeline.status}",
    )
    observations = [first]
    for index, build in enumerate(hook.builds or ()):
        where = f"builds.{index}"
        observations.append(
            replace(
                first,
                job=job_name(build.name, f"{where}.name"),
                status=_status(build.status, f"{where}.status"),
                raw_status=_raw(build),
                evidence=CiEvidence(run_url=_url(web_url, "jobs", build.id)),
                reported_at=_time(build.finished_at or build.started_at),
                key=f"{pipeline.id}/{build.id}/{build.status}",
            )
        )
    return observations


def _status(value: str, field: str) -> CiStatus:
    try:
        return _STATUSES[value]
    except KeyError:
        raise BadInput(field, f"{value!r} is not one of {', '.join(_STATUSES)}") from None


def _raw(build: _Build) -> str:
    raw = build.status
    if build.failure_reason:
        raw += f" ({build.failure_reason})"
    if build.allow_failure and build.status == "failed":
        raw += " [allowed to fail]"
    return raw


def _url(web_url: str | None, kind: str, number: int) -> str | None:
    return f"{web_url}/-/{kind}/{number}" if web_url else None


def _time(value: str | None) -> datetime | None:
    """GitLab writes `2016-08-12 15:23:28 UTC` in hooks and ISO 8601 elsewhere; either, or
    none when unreadable (the time is evidence, not identity)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.removesuffix(" UTC").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
