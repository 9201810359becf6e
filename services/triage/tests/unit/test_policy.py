"""The policy rules of lts-process.md ("Decision matrices & SLAs", "Decision Points & Policies",
the triage runbook, the Planning & Approval module), table by table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import (
    ChangeKind,
    Decision,
    Effort,
    RiskLevel,
    RolloutStrategy,
    TriageChecklist,
)
from lts_events.support import LtsLine
from lts_triage.calendar import BusinessCalendar
from lts_triage.policy import (
    Policy,
    required_approvers,
)

TODAY = date(2026, 11, 18)
LINES = (
    LtsLine("1.2", date(2026, 6, 30)),
    LtsLine("1.3", date(2027, 6, 30)),
    LtsLine("1.4", date(2028, 12, 31)),
)
POLICY = Policy(lines=LINES, maintainers=frozenset({"alice"}), owner_rotation=("alice", "bob"))
WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
FRIDAY_15 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def checklist(**overrides: object) -> TriageChecklist:
    values: dict[str, object] = {
        "reproduced": True,
        "affected_versions": ("1.4.2", "1.3.7"),
        "public_exploit": False,
        "workaround": True,
        "api_change": False,
        "effort": Effort.SMALL,
        "security": False,
        "change_kind": ChangeKind.BUG_FIX,
        "regression": False,
    }
    values.update(overrides)
    return TriageChecklist(**values)  # type: ignore[arg-type]


# -- SLA --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "opened_at", "deadline"),
    [
        (Severity.CRITICAL, WEDNESDAY_10, WEDNESDAY_10 + timedelta(hours=4)),
        (Severity.HIGH, WEDNESDAY_10, WEDNESDAY_10 + timedelta(hours=24)),
        (Severity.MEDIUM, WEDNESDAY_10, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        (Severity.LOW, WEDNESDAY_10, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        (Severity.CRITICAL, FRIDAY_15, FRIDAY_15 + timedelta(hours=4)),
        (Severity.HIGH, FRIDAY_15, FRIDAY_15 + timedelta(hours=24)),
        (Severity.MEDIUM, FRIDAY_15, datetime(2026, 11, 25, 15, 0, tzinfo=UTC)),
    ],
)
def test_triage_deadline_follows_the_sla_table(
    severity: Severity, opened_at: datetime, deadline: datetime
) -> None:
    assert POLICY.triage_deadline(severity, opened_at=opened_at) == deadline


def test_plan_is_due_three_business_days_after_triage() -> None:
    assert POLICY.plan_deadline(triaged_at=FRIDAY_15) == datetime(2026, 11, 25, 15, tzinfo=UTC)


def test_a_triage_on_saturday_counts_from_monday_morning() -> None:
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    assert POLICY.plan_deadline(triaged_at=saturday) == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_holidays_are_not_business_days() -> None:
    calendar = BusinessCalendar(holidays=frozenset({date(2026, 11, 26), date(2026, 11, 27)}))

    deadline = calendar.add_business_days(datetime(2026, 11, 24, 9, tzinfo=UTC), 3)

    assert deadline == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_business_days_are_counted_in_the_calendars_time_zone() -> None:
    calendar = BusinessCalendar(timezone="Asia/Tokyo")
    friday_23_in_tokyo = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)

    deadline = calendar.add_business_days(friday_23_in_tokyo, 1)

    assert deadline == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 23:00 in Tokyo


def test_a_configurable_weekend_changes_the_business_days() -> None:
    calendar = BusinessCalendar(weekend=frozenset({4, 5}))  # Friday + Saturday

    assert calendar.add_business_days(datetime(2026, 11, 19, 9, tzinfo=UTC), 1) == datetime(
        2026, 11, 22, 9, tzinfo=UTC
    )


def test_a_deadline_keeps_the_local_time_of_day_across_a_dst_change() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin")
    friday_10_cet = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)

    deadline = calendar.add_business_days(friday_10_cet, 1)

    assert deadline == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Monday 10:00 CEST


def test_a_deadline_at_a_time_skipped_by_dst_resolves_forward_on_the_same_day() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", weekend=frozenset({4, 5}))
    thursday_0230_cet = datetime(2026, 3, 26, 1, 30, tzinfo=UTC)

    deadline = calendar.add_business_days(thursday_0230_cet, 1)  # Sunday 29 March, 02:30 skipped

    assert deadline == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, still Sunday


def test_a_holiday_moves_the_deadline_of_the_same_start_only_in_its_calendar() -> None:
    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    plain = BusinessCalendar()
    thanksgiving = BusinessCalendar(holidays=frozenset({date(2026, 11, 26)}))

    assert plain.add_business_days(start, 3) == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert thanksgiving.add_business_days(start, 3) == datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert plain.add_business_days(start, 3) == datetime(2026, 11, 27, 9, tzinfo=UTC)


# -- support matrix --------------------------------------------------------------------------


def test_support_matrix_lists_only_lines_still_supported_newest_first() -> None:
    assert [line.branch for line in POLICY.supported_lines(TODAY)] == [
        "release-lts/v1.4",
        "release-lts/v1.3",
    ]


def test_patch_branches_follow_the_naming_convention() -> None:
    assert LINES[2].patch_branch(123) == "lts/v1.4/issue-123"


# -- risk score ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "overrides", "score", "level", "change_level"),
    [
        (
            Severity.LOW,
            {"workaround": True, "affected_versions": ()},
            5,
            RiskLevel.LOW,
            RiskLevel.LOW,
        ),
        (
            Severity.HIGH,
            {"security": True, "workaround": False},
            51,
            RiskLevel.MEDIUM,
            RiskLevel.LOW,
        ),
        (
            Severity.CRITICAL,
            {
                "public_exploit": True,
                "workaround": False,
                "affected_versions": ("1.2.0", "1.3.0", "1.4.0", "1.4.1"),
                "api_change": True,
                "effort": Effort.LARGE,
            },
            96,  # 1.3 and 1.4: two supported lines (1.2 has ended)
            RiskLevel.HIGH,
            RiskLevel.HIGH,
        ),
        (Severity.MEDIUM, {"effort": Effort.LARGE}, 28, RiskLevel.LOW, RiskLevel.MEDIUM),
    ],
)
def test_risk_score_follows_the_documented_formula(
    severity: Severity,
    overrides: dict[str, object],
    score: int,
    level: RiskLevel,
    change_level: RiskLevel,
) -> None:
    risk = POLICY.risk(severity, checklist(**overrides), today=TODAY)

    assert (risk.score, risk.level, risk.change_risk_level) == (score, level, change_level)
    assert risk.score == sum(part.points for part in risk.parts)
    assert {part.name for part in risk.parts} == {
        "severity",
        "exploitability",
        "workaround",
        "affected_lines",
        "api_change",
        "effort",
    }


# -- eligibility -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "emergency", "decision", "rule", "targets"),
    [
        (
            {"security": True, "affected_versions": ("1.4.2",)},
            False,
            Decision.BACKPORT,
            "security",
            ["release-lts/v1.4"],
        ),
        (
            {},
            False,
            Decision.BACKPORT,
            "low_risk_bug_fix",
            ["release-lts/v1.4", "release-lts/v1.3"],
        ),
        (
            {"affected_versions": ("1.4.2",)},
            False,
            Decision.BACKPORT,
            "low_risk_bug_fix",
            ["release-lts/v1.4"],
        ),
        ({"effort": Effort.LARGE}, False, Decision.DEFER, "risky_bug_fix", []),
        ({"api_change": True}, False, Decision.DEFER, "api_break", []),
        ({"api_change": True, "security": True}, False, Decision.DEFER, "api_break", []),
        (
            {"api_change": True},
            True,
            Decision.BACKPORT,
            "emergency",
            ["release-lts/v1.4", "release-lts/v1.3"],
        ),
        (
            {"change_kind": ChangeKind.FEATURE},
            False,
            Decision.BACKPORT,
            "trivial_feature",
            ["release-lts/v1.4", "release-lts/v1.3"],
        ),
        (
            {"change_kind": ChangeKind.FEATURE, "effort": Effort.MEDIUM},
            False,
            Decision.DEFER,
            "feature",
            [],
        ),
        ({"reproduced": False}, False, Decision.REJECT, "not_reproduced", []),
        (
            {"reproduced": False, "security": True},
            False,
            Decision.BACKPORT,
            "security",
            ["release-lts/v1.4", "release-lts/v1.3"],
        ),
        ({"affected_versions": ("1.2.9",)}, False, Decision.REJECT, "unsupported_lines", []),
        ({"affected_versions": ()}, False, Decision.DEFER, "affected_versions_unknown", []),
    ],
)
def test_backport_eligibility(
    overrides: dict[str, object],
    emergency: bool,
    decision: Decision,
    rule: str,
    targets: list[str],
) -> None:
    answers = checklist(**overrides)
    risk = POLICY.risk(Severity.HIGH, answers, today=TODAY)

    verdict = POLICY.eligibility(answers, risk, today=TODAY, emergency=emergency)

    assert (verdict.decision, verdict.rule) == (decision, rule)
    assert [line.branch for line in verdict.targets] == targets
    assert verdict.reason


# -- approval matrix -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "severity", "regression", "emergency", "roles"),
    [
        (False, Severity.HIGH, False, False, {Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER}),
        (
            True,
            Severity.HIGH,
            False,
            False,
            {Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER, Role.SECURITY_REVIEWER},
        ),
        (
            False,
            Severity.CRITICAL,
            True,
            False,
            {
                Role.CODE_REVIEWER,
                Role.QA,
                Role.RELEASE_MANAGER,
                Role.PRODUCT_OWNER,
                Role.ENGINEERING_LEAD,
            },
        ),
        (False, Severity.HIGH, True, False, {Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER}),
        (False, Severity.CRITICAL, False, True, {Role.ENGINEERING_LEAD, Role.RELEASE_MANAGER}),
        (
            True,
            Severity.CRITICAL,
            False,
            True,
            {Role.ENGINEERING_LEAD, Role.RELEASE_MANAGER, Role.SECURITY_REVIEWER},
        ),
    ],
)
def test_approval_matrix(
    security: bool, severity: Severity, regression: bool, emergency: bool, roles: set[Role]
) -> None:
    required = required_approvers(
        security=security, severity=severity, regression=regression, emergency=emergency
    )

    assert set(required) == roles
    assert len(required) == len(roles)


@pytest.mark.parametrize(
    ("role", "actor", "actor_roles", "refused_because"),
    [
        (Role.QA, "quinn", {Role.QA}, None),
        (Role.QA, "mallory", {Role.MAINTAINER}, "does not hold the role qa"),
        (Role.CODE_REVIEWER, "alice", {Role.CODE_REVIEWER}, None),
        (Role.CODE_REVIEWER, "bob", {Role.CODE_REVIEWER}, "only configured maintainers"),
        (Role.PRODUCT_OWNER, "pat", {Role.PRODUCT_OWNER}, "does not require a product_owner"),
    ],
)
def test_sign_off_rules(
    role: Role, actor: str, actor_roles: set[Role], refused_because: str | None
) -> None:
    refusal = POLICY.sign_off_refusal(
        role=role,
        actor_id=actor,
        actor_roles=actor_roles,
        required=(Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER),
    )

    if refused_because is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert refused_because in refusal


# -- plan details ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "overrides", "emergency", "strategy"),
    [
        (Severity.MEDIUM, {}, False, RolloutStrategy.IMMEDIATE),
        (Severity.HIGH, {}, False, RolloutStrategy.STAGED_CANARY),
        (Severity.MEDIUM, {"effort": Effort.LARGE}, False, RolloutStrategy.STAGED_CANARY),
        (Severity.CRITICAL, {"api_change": True}, True, RolloutStrategy.IMMEDIATE),
    ],
)
def test_rollout_strategy(
    severity: Severity, overrides: dict[str, object], emergency: bool, strategy: RolloutStrategy
) -> None:
    risk = POLICY.risk(severity, checklist(**overrides), today=TODAY)

    assert POLICY.rollout(risk, severity, emergency=emergency) is strategy


def test_security_fixes_require_security_tests_and_api_changes_upgrade_tests() -> None:
    tests = POLICY.tests_required(checklist(security=True, api_change=True), Severity.CRITICAL)

    assert tests == (
        "unit",
        "integration",
        "backport_regression",
        "security_regression",
        "sast",
        "dependency_scan",
        "upgrade_downgrade",
        "performance_smoke",
    )


def test_owner_comes_from_the_rotation() -> None:
    assert [POLICY.owner_for(n) for n in (1, 2, 3)] == ["bob", "alice", "bob"]
