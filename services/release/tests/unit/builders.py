"""Builders of the events the backport tests start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_events.contracts.common import Severity
from lts_events.contracts.release.backports import BackportOpened
from lts_events.contracts.release.ci import CiEvidence, CiResultRecorded, CiSource, CiStatus, Gate
from lts_events.contracts.triage import RolloutStrategy
from lts_release.backports.gates import BranchRuns, GateRun
from lts_release.backports.policy import BackportPolicy, gates_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKET = 123
LINE = "1.4"
KEY = (TICKET, LINE)
BRANCH = "lts/v1.4/issue-123"
POLICY = BackportPolicy()
BASE_TESTS = ("unit", "integration", "backport_regression")


def opened(
    *,
    tests: tuple[str, ...] = BASE_TESTS,
    security: bool = False,
    emergency: bool = False,
    severity: Severity | None = Severity.HIGH,
    revision: int = 1,
) -> BackportOpened:
    required = gates_for(tests)
    return BackportOpened(
        ticket_id=TICKET,
        line=LINE,
        revision=revision,
        target_branch="release-lts/v1.4",
        patch_branch=BRANCH,
        tests_required=tests,
        required_gates=required,
        essential_gates=POLICY.essential(required),
        security_sign_off_required=security,
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=emergency,
        severity=severity,
        approved_at=T0,
        release_deadline=POLICY.release_deadline(severity, T0),
    )


def ci_result(
    gate: Gate | None,
    commit: str = "a" * 40,
    status: CiStatus = CiStatus.PASSED,
    *,
    at: datetime = T0,
    branch: str = BRANCH,
) -> CiResultRecorded:
    return CiResultRecorded(
        source=CiSource.GITHUB,
        delivery_id=f"{gate}-{commit}-{status}-{at.isoformat()}",
        branch=branch,
        commit=commit,
        job=f"ci / {gate.value if gate else 'docs'}",
        gate=gate,
        status=status,
        raw_status=status.value,
        evidence=CiEvidence(run_url=f"https://ci.example/runs/{commit[:7]}"),
        reported_at=at,
        recorded_at=at,
    )


def runs(*results: CiResultRecorded) -> BranchRuns:
    return BranchRuns.of(run for r in results if (run := GateRun.of(r)) is not None)


def green(commit: str = "a" * 40, gates: tuple[Gate, ...] = tuple(Gate)) -> list[CiResultRecorded]:
    return [ci_result(g, commit, at=T0 + timedelta(minutes=i)) for i, g in enumerate(gates)]


def all_green(commit: str = "a" * 40, gates: tuple[Gate, ...] = tuple(Gate)) -> BranchRuns:
    return runs(*green(commit, gates))
