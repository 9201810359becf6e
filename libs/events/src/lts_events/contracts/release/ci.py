"""CI results as the release service recorded them (topic `lts.release.events`). Owned by the
release service's CI part (`lts_release.ci`).

Whatever a CI system sent (a GitHub `workflow_run` / `check_suite` / `check_run` webhook, a
GitLab Pipeline Hook, a JUnit XML report, a SARIF 2.1.0 scan, pip-audit's JSON, a CloudEvent on
`lts.inbound.ci`) becomes one `CiResultRecorded` per job: the branch and commit it ran on, the
gate its name maps to (or none), a normalized status, and the evidence the gates show (run URL,
test counts per suite, SARIF findings, vulnerable dependencies). Events live in the stream
`ci_stream(branch)`, so one branch's results keep their order on Kafka.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lts_events.event import Event


class CiSource(StrEnum):
    """Which kind of input a result came from."""

    GITHUB = "github"
    GITLAB = "gitlab"
    JUNIT = "junit"
    SARIF = "sarif"
    PIP_AUDIT = "pip-audit"
    CLOUDEVENT = "cloudevent"


class Gate(StrEnum):
    """The CI gates of the runbook ("CI/CD Gates (must-have)") that a job can stand for. Which
    job names map to which gate is configured (`LTS_RELEASE_CI_GATE_PATTERNS`)."""

    LINT = "lint"
    UNIT = "unit"
    INTEGRATION = "integration"
    REGRESSION = "regression"
    SECURITY_SCAN = "security_scan"
    DEPENDENCY_SCAN = "dependency_scan"
    PERFORMANCE_SMOKE = "performance_smoke"


class CiStatus(StrEnum):
    """A CI job's state, normalized over the CI systems. Only `passed` passes a gate; `failed`
    fails it; the others leave it open. GitHub's `neutral` and every `skipped` are `skipped`
    (not a pass), `timed_out` is `failed`, `action_required` and GitLab's `manual` are
    `pending`, `stale` is `cancelled`."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class FindingLevel(StrEnum):
    """SARIF 2.1.0 `result.level`, most severe first."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"
    NONE = "none"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FailedTest(_Part):
    """One test case that failed or errored, as the report named it."""

    classname: str
    name: str
    outcome: str = Field(description="'failure' or 'error'")
    message: str = ""


class SuiteCounts(_Part):
    """One test suite's counts (`testsuite` of a JUnit report)."""

    name: str
    tests: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)
    errors: int = Field(ge=0)
    time_seconds: float | None = None
    failed_tests: tuple[FailedTest, ...] = Field(
        default=(), description="The first failing or erroring cases (capped per suite)"
    )


class TestCounts(_Part):
    """A test report's totals over all its suites, and each suite."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    tests: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)
    errors: int = Field(ge=0)
    suites: tuple[SuiteCounts, ...] = ()


class Finding(_Part):
    """One SARIF result: which tool and rule, how severe, where, and what it says."""

    tool: str
    rule_id: str
    level: FindingLevel
    security_severity: float | None = Field(
        default=None, description="The rule's `properties.security-severity` (0-10), if given"
    )
    path: str | None = None
    line: int | None = None
    message: str


class Vulnerability(_Part):
    """One known vulnerability of a dependency, as a dependency scan (pip-audit) reported it."""

    id: str
    aliases: tuple[str, ...] = ()
    package: str
    version: str
    fix_versions: tuple[str, ...] = ()
    description: str = ""


class CiEvidence(_Part):
    """What a gate shows for a result: where the run is, and what the reports said."""

    run_url: str | None = None
    tests: TestCounts | None = None
    findings: tuple[Finding, ...] = ()
    fail_level: FindingLevel | None = Field(
        default=None,
        description="SARIF: findings at or above this level failed the result",
    )
    vulnerabilities: tuple[Vulnerability, ...] = ()
    ignored_vulnerabilities: tuple[str, ...] = Field(
        default=(), description="Dependency scan: ids not counted, by configuration"
    )


class CiResultRecorded(Event):
    """One CI job's result on one commit of one branch.

    `delivery_id` is what made it unique on arrival (a webhook's delivery id, a CloudEvent id,
    the digest of an uploaded report); recorded once, a redelivery records nothing. `gate` is
    the gate `job` maps to, or none when no pattern matches (kept for the audit, counts for no
    gate). `raw_status` is the CI system's own words (e.g. `completed/timed_out`)."""

    type: ClassVar[str] = "lts.release.ci_result_recorded"

    source: CiSource
    delivery_id: str
    repository: str | None = None
    branch: str
    commit: str
    job: str
    gate: Gate | None
    status: CiStatus
    raw_status: str
    evidence: CiEvidence = CiEvidence()
    reported_at: datetime
    recorded_at: datetime


def ci_stream(branch: str) -> str:
    """The stream of a branch's CI results in the release service's store."""
    return f"ci-{branch}"
