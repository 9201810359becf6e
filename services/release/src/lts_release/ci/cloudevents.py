"""CI results as CloudEvents on `lts.inbound.ci` (binary or structured mode, JSON data), for
CI systems that publish to Kafka or a bridge that forwards webhooks. By `type`:

- `com.github.<event>[.<action>]` (or knative's `dev.knative.source.github.<event>`): `data`
  is the GitHub webhook payload of `workflow_run`, `workflow_job`, `check_suite` or
  `check_run`;
- `com.gitlab.pipeline[...]`: `data` is a GitLab Pipeline Hook;
- `lts.ci.junit`, `lts.ci.sarif`, `lts.ci.pip-audit`: `data` is `{branch, commit, suite,
  run_url?, repository?, report}`, `report` the XML text or the JSON document;
- `lts.ci.result`: one job's result in our words: `{branch, commit, job, status, raw_status?,
  run_url?, repository?, reported_at?, tests?}` (`status` a `CiStatus`, `tests` a
  `TestCounts`), for any other CI system.

Kafka is trusted (no signature): whoever may publish on the topic may report CI results."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lts_events.contracts.release.ci import CiEvidence, CiSource, CiStatus, TestCounts
from lts_events.envelope import Envelope
from pydantic import BaseModel, ConfigDict, ValidationError

from lts_release.ci import github, gitlab, reports
from lts_release.ci.errors import BadInput, from_validation
from lts_release.ci.observation import Observation, branch_name, commit_sha, job_name
from lts_release.ci.reports import ReportKind, ReportPolicy, Upload

GITHUB_PREFIXES = ("com.github.", "dev.knative.source.github.")
GITLAB_PIPELINE = "com.gitlab.pipeline"
RESULT = "lts.ci.result"
REPORTS = {f"lts.ci.{kind.value}": kind for kind in ReportKind}


class Ignored(Exception):
    """A CloudEvent understood but carrying no CI result."""


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    branch: str
    commit: str
    job: str
    status: CiStatus
    raw_status: str | None = None
    run_url: str | None = None
    repository: str | None = None
    reported_at: datetime | None = None
    tests: TestCounts | None = None


class _Report(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    branch: str
    commit: str
    suite: str
    run_url: str | None = None
    repository: str | None = None
    report: str | dict[str, Any] | list[Any]


def observe(envelope: Envelope, policy: ReportPolicy) -> tuple[str, list[Observation]]:
    """The delivery id and the observations of one CloudEvent; `BadInput` (fields under
    `data.`) or `Ignored`."""
    kind, data = envelope.type, envelope.data
    delivery = f"cloudevent:{envelope.source}/{envelope.id}"
    try:
        if kind.startswith(GITHUB_PREFIXES):
            event = kind.removeprefix(_prefix(kind)).split(".")[0]
            return delivery, [github.observe(event, data)]
        if kind.startswith(GITLAB_PIPELINE):
            return "gitlab", gitlab.observe(data)  # content-keyed, as over HTTP
        if kind in REPORTS:
            return _report(REPORTS[kind], data, policy, envelope)
        if kind == RESULT:
            return delivery, [_result(data)]
    except (github.Ignored, gitlab.Ignored) as ignored:
        raise Ignored(str(ignored)) from None
    except BadInput as error:
        raise BadInput(f"data.{error.field}", error.reason) from None
    known = ", ".join(
        [*(f"{p}<event>" for p in GITHUB_PREFIXES), GITLAB_PIPELINE, *REPORTS, RESULT]
    )
    raise Ignored(f"CloudEvent type {kind!r} carries no CI result (known: {known})")


def _prefix(kind: str) -> str:
    return next(p for p in GITHUB_PREFIXES if kind.startswith(p))


def _report(
    kind: ReportKind, data: dict[str, Any], policy: ReportPolicy, envelope: Envelope
) -> tuple[str, list[Observation]]:
    try:
        given = _Report.model_validate(data)
    except ValidationError as error:
        raise from_validation(error) from None
    upload = Upload.of(
        kind,
        branch=given.branch,
        commit=given.commit,
        suite=given.suite,
        run_url=given.run_url,
        repository=given.repository,
    )
    body = (
        given.report.encode()
        if isinstance(given.report, str)
        else json.dumps(given.report).encode()
    )
    try:
        observation = reports.observe(upload, body, policy)
    except BadInput as error:
        field = "report" if error.field == "body" else f"report.{error.field}"
        raise BadInput(field, error.reason) from None
    return upload.delivery_id(body), [observation]


def _result(data: dict[str, Any]) -> Observation:
    try:
        given = _Result.model_validate(data)
    except ValidationError as error:
        raise from_validation(error) from None
    return Observation(
        source=CiSource.CLOUDEVENT,
        repository=given.repository,
        branch=branch_name(given.branch, "branch"),
        commit=commit_sha(given.commit, "commit"),
        job=job_name(given.job, "job"),
        status=given.status,
        raw_status=given.raw_status or given.status.value,
        evidence=CiEvidence(run_url=given.run_url, tests=given.tests),
        reported_at=given.reported_at,
    )
