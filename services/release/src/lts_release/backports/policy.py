"""The backport rules that are policy, not mechanism: which CI gate a required test is checked
by, which gates an emergency fast-track still runs, who signs what, the release SLA per
severity, and how a patch branch names its backport."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.contracts.release.ci import Gate

# Triage names the tests a plan requires (lts_triage.policy: BASE_TESTS, SECURITY_TESTS, ...);
# CI reports gates. A security regression test and the backport regression suite run in the
# regression job; upgrade/downgrade tests are integration tests.
GATE_OF_TEST: Mapping[str, Gate] = MappingProxyType(
    {
        "unit": Gate.UNIT,
        "integration": Gate.INTEGRATION,
        "backport_regression": Gate.REGRESSION,
        "regression": Gate.REGRESSION,
        "security_regression": Gate.REGRESSION,
        "upgrade_downgrade": Gate.INTEGRATION,
        "sast": Gate.SECURITY_SCAN,
        "security_scan": Gate.SECURITY_SCAN,
        "dependency_scan": Gate.DEPENDENCY_SCAN,
        "performance_smoke": Gate.PERFORMANCE_SMOKE,
        "lint": Gate.LINT,
    }
)
# The runbook's must-have CI gates start with lint + static analysis, whatever the plan says.
ALWAYS_REQUIRED: tuple[Gate, ...] = (Gate.LINT,)
# What an emergency fast-track still waits for: the tests of the fix itself and the security
# scans; lint, integration and the performance smoke are audited after the fact.
ESSENTIAL_GATES: frozenset[Gate] = frozenset(
    {Gate.UNIT, Gate.REGRESSION, Gate.SECURITY_SCAN, Gate.DEPENDENCY_SCAN}
)
QA_SIGNERS = (Role.QA,)
SECURITY_SIGNERS = (Role.SECURITY_REVIEWER,)
QA_EXCEPTION_APPROVERS = (Role.ENGINEERING_LEAD,)
# Release SLA, counted from plan approval (the runbook leaves the windows to each release's
# policy: these are the defaults, LTS_RELEASE_CORE_RELEASE_SLA_HOURS overrides them).
RELEASE_SLA: Mapping[Severity, timedelta] = MappingProxyType(
    {
        Severity.BLOCKER: timedelta(days=1),
        Severity.CRITICAL: timedelta(days=3),
        Severity.HIGH: timedelta(days=7),
        Severity.MEDIUM: timedelta(days=30),
        Severity.LOW: timedelta(days=90),
    }
)
# lts_events.support.LtsLine.patch_branch names a backport's branch; this reads it back (a test
# holds the two together).
_PATCH_BRANCH = re.compile(r"^lts/v(?P<line>\d+\.\d+)/issue-(?P<ticket>\d+)$")
_TARGET_BRANCH = re.compile(r"^release-lts/v(?P<line>\d+\.\d+)$")


def gates_for(tests_required: Iterable[str]) -> tuple[Gate, ...]:
    """The gates a plan's required tests are checked by, plus the always-required ones, in the
    order of `Gate`. A test no gate checks is left out (it cannot be evidenced by CI)."""
    wanted = set(ALWAYS_REQUIRED) | {GATE_OF_TEST[t] for t in tests_required if t in GATE_OF_TEST}
    return tuple(gate for gate in Gate if gate in wanted)


def backport_of_branch(branch: str) -> tuple[int, str] | None:
    """(ticket id, line) of a patch branch `lts/vX.Y/issue-<id>`, None for any other branch."""
    match = _PATCH_BRANCH.match(branch)
    return (int(match["ticket"]), match["line"]) if match else None


def line_of_target(target_branch: str) -> str | None:
    """The line (`"1.4"`) of an LTS branch `release-lts/v1.4`."""
    match = _TARGET_BRANCH.match(target_branch)
    return match["line"] if match else None


@dataclass(frozen=True, slots=True)
class BackportPolicy:
    essential_gates: frozenset[Gate] = ESSENTIAL_GATES
    release_sla: Mapping[Severity, timedelta] = field(default_factory=lambda: dict(RELEASE_SLA))

    def essential(self, required: Iterable[Gate]) -> tuple[Gate, ...]:
        return tuple(gate for gate in required if gate in self.essential_gates)

    def release_deadline(self, severity: Severity | None, approved_at: datetime) -> datetime | None:
        if severity is None or severity not in self.release_sla:
            return None
        return approved_at + self.release_sla[severity]
