"""The triage and planning policy of lts-process.md, as data plus pure functions: SLA table,
support matrix, risk score, backport eligibility, the plan and the approval matrix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import (
    BreachKind,
    ChangeKind,
    Decision,
    Effort,
    FollowUp,
    RiskLevel,
    RiskPart,
    RolloutStrategy,
    TriageChecklist,
)
from lts_events.severity import at_least
from lts_events.support import (
    DEFAULT_LINES,
    LtsLine,
    affected_lines,
    names_a_version,
    supported_lines,
)

from lts_triage.calendar import BusinessCalendar


class AutoTriage(StrEnum):
    """When the service triages on its own from the proposal (`TicketTriaged.automatic`).

    `evidence` (default): when a CVSS vector or an alert severity backs the proposal, i.e. for
    tickets created from CVE feeds and monitoring alerts ("automate where possible"); reports
    written by people wait for a triage engineer. An engineer may always re-triage."""

    ALWAYS = "always"
    EVIDENCE = "evidence"
    NEVER = "never"


# ---------------------------------------------------------------- SLA ---------------------


@dataclass(frozen=True, slots=True)
class Sla:
    """A deadline rule: wall-clock hours or business days."""

    hours: int = 0
    business_days: int = 0

    def deadline(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        if self.business_days:
            return calendar.add_business_days(start, self.business_days)
        return start + timedelta(hours=self.hours)


# A blocker is above critical on the runbook's scale: it gets the strictest SLA, critical's.
TRIAGE_SLA: dict[Severity, Sla] = {
    Severity.BLOCKER: Sla(hours=4),
    Severity.CRITICAL: Sla(hours=4),
    Severity.HIGH: Sla(hours=24),
    Severity.MEDIUM: Sla(business_days=3),
    Severity.LOW: Sla(business_days=3),
}
PLAN_SLA = Sla(business_days=3)
REVISIT_AFTER = Sla(business_days=20)  # a deferred ticket is looked at again (~a month)
ESCALATE_AFTER = timedelta(hours=4)  # a breach nobody answered goes to the next role
ESCALATION_CHAIN = (Role.ENGINEERING_LEAD,)
FOLLOW_UP_SLA = {
    FollowUp.POST_FACTO_AUDIT: Sla(business_days=5),
    FollowUp.POSTMORTEM: Sla(business_days=10),
}


# ---------------------------------------------------------------- risk score --------------

SEVERITY_POINTS = {
    Severity.BLOCKER: 35,
    Severity.CRITICAL: 35,
    Severity.HIGH: 25,
    Severity.MEDIUM: 12,
    Severity.LOW: 5,
}
EFFORT_POINTS = {Effort.SMALL: 0, Effort.MEDIUM: 4, Effort.LARGE: 8}
RISK_FORMULA = (
    "score = severity(blocker/critical 35, high 25, medium 12, low 5) "
    "+ exploitability(public exploit 20, security issue without public exploit 8, else 0) "
    "+ workaround(none 10, available 0) + affected_lines(4 per supported LTS line affected, "
    "at most 12) "
    "+ api_change(15) + effort(S 0, M 4, L 8); exposure = the first four, change_risk = the "
    "last two; level: >= 60 high, >= 35 medium, else low; change risk: >= 15 high, >= 8 "
    "medium, else low"
)


@dataclass(frozen=True, slots=True)
class Risk:
    score: int
    level: RiskLevel
    exposure: int
    change_risk: int
    change_risk_level: RiskLevel
    parts: tuple[RiskPart, ...]


def risk_score(severity: Severity, checklist: TriageChecklist, *, affected_lines: int) -> Risk:
    """The documented formula (`RISK_FORMULA`): 0-100, exposure (risk of not fixing) plus change
    risk (risk of the fix). Eligibility's "low-risk" means a low *change* risk. Affected
    versions count by the supported LTS line they fall on (`Policy.risk`), so '1.4.2' and
    'release-lts/v1.4' are one."""
    return _risk(
        severity,
        public_exploit=checklist.public_exploit,
        security=checklist.security,
        workaround=checklist.workaround,
        lines=affected_lines,
        api_change=checklist.api_change,
        effort=checklist.effort,
    )


@lru_cache(maxsize=1024, typed=True)
def _risk(
    severity: Severity,
    *,
    public_exploit: bool,
    security: bool,
    workaround: bool,
    lines: int,
    api_change: bool,
    effort: Effort,
) -> Risk:
    """The score depends on these few answers only, so each combination is computed (and its
    `RiskPart` models validated) once; `Risk` and its parts are immutable and safely shared."""
    exploit = 20 if public_exploit else 8 if security else 0
    exploit_value = "public" if public_exploit else "security" if exploit else "none"
    exposure = (
        RiskPart(
            name="severity", value=severity.value, points=SEVERITY_POINTS[severity], max_points=35
        ),
        RiskPart(name="exploitability", value=exploit_value, points=exploit, max_points=20),
        RiskPart(
            name="workaround",
            value=str(workaround).lower(),
            points=0 if workaround else 10,
            max_points=10,
        ),
        RiskPart(name="affected_lines", value=str(lines), points=min(4 * lines, 12), max_points=12),
    )
    change = (
        RiskPart(
            name="api_change",
            value=str(api_change).lower(),
            points=15 if api_change else 0,
            max_points=15,
        ),
        RiskPart(
            name="effort",
            value=effort.value,
            points=EFFORT_POINTS[effort],
            max_points=8,
        ),
    )
    exposure_points = sum(p.points for p in exposure)
    change_points = sum(p.points for p in change)
    score = exposure_points + change_points
    return Risk(
        score=score,
        level=_level(score, high=60, medium=35),
        exposure=exposure_points,
        change_risk=change_points,
        change_risk_level=_level(change_points, high=15, medium=8),
        parts=(*exposure, *change),
    )


def _level(points: int, *, high: int, medium: int) -> RiskLevel:
    if points >= high:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM if points >= medium else RiskLevel.LOW


# ---------------------------------------------------------------- eligibility -------------


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    rule: str
    reason: str
    targets: tuple[LtsLine, ...] = ()


# ---------------------------------------------------------------- approval matrix ---------

NORMAL_APPROVERS = (Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER)
EMERGENCY_APPROVERS = (Role.ENGINEERING_LEAD, Role.RELEASE_MANAGER)
CRITICAL_REGRESSION_APPROVERS = (Role.PRODUCT_OWNER, Role.ENGINEERING_LEAD)
# "Only approved maintainers can sign off": the sign-offs that approve what goes into an LTS
# branch (the code review, the release) must come from a listed maintainer (`maintainers`).
# QA, security, product and leadership sign as their function.
MAINTAINER_SIGN_OFF_ROLES = frozenset({Role.MAINTAINER, Role.CODE_REVIEWER, Role.RELEASE_MANAGER})
# Who may ask for what on a ticket (checked in the domain, so a refusal is recorded).
TRIAGE_ROLES = (Role.TRIAGE_ENGINEER,)
EMERGENCY_REQUESTERS = (
    Role.TRIAGE_ENGINEER,
    Role.ENGINEERING_LEAD,
    Role.RELEASE_MANAGER,
    Role.MAINTAINER,
)
BASE_TESTS = ("unit", "integration", "backport_regression")
SECURITY_TESTS = ("security_regression", "sast", "dependency_scan")


def required_approvers(
    *, security: bool, severity: Severity, regression: bool, emergency: bool
) -> tuple[Role, ...]:
    """Normal: code reviewer + QA + release manager; security-sensitive adds the security
    reviewer; a critical regression adds product owner + engineering lead. Emergency fast-track:
    engineering lead + release manager (plus the security reviewer when security-sensitive,
    as the FAQ says)."""
    roles: list[Role] = list(EMERGENCY_APPROVERS if emergency else NORMAL_APPROVERS)
    if security:
        roles.append(Role.SECURITY_REVIEWER)
    if at_least(severity, Severity.CRITICAL) and regression and not emergency:
        roles.extend(CRITICAL_REGRESSION_APPROVERS)
    return tuple(dict.fromkeys(roles))


def missing_approvals(required: Sequence[Role], approved: Iterable[Role]) -> tuple[Role, ...]:
    given = set(approved)
    return tuple(role for role in required if role not in given)


# ---------------------------------------------------------------- the policy --------------


@dataclass(frozen=True, slots=True)
class Policy:
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    lines: tuple[LtsLine, ...] = DEFAULT_LINES
    maintainers: frozenset[str] = frozenset()
    owner_rotation: tuple[str, ...] = ()
    auto_triage: AutoTriage = AutoTriage.EVIDENCE
    default_effort: Effort = Effort.MEDIUM
    reminder_before: timedelta = timedelta(hours=24)
    triage_sla: dict[Severity, Sla] = field(default_factory=lambda: dict(TRIAGE_SLA))
    plan_sla: Sla = PLAN_SLA
    maintainer_sign_off_roles: frozenset[Role] = MAINTAINER_SIGN_OFF_ROLES
    one_role_per_signer: bool = True
    revisit_after: Sla = REVISIT_AFTER
    escalate_after: timedelta = ESCALATE_AFTER
    escalation_chain: tuple[Role, ...] = ESCALATION_CHAIN
    follow_up_sla: dict[FollowUp, Sla] = field(default_factory=lambda: dict(FOLLOW_UP_SLA))

    # -- SLA
    def triage_deadline(self, severity: Severity, *, opened_at: datetime) -> datetime:
        return self.triage_sla[severity].deadline(opened_at, self.calendar)

    def plan_deadline(self, *, triaged_at: datetime) -> datetime:
        return self.plan_sla.deadline(triaged_at, self.calendar)

    def reminder_at(self, *, deadline: datetime, planned_at: datetime) -> datetime:
        return max(deadline - self.reminder_before, planned_at)

    # -- support matrix (lts_events.support: the one shared with intake)
    def supported_lines(self, today: date) -> tuple[LtsLine, ...]:
        return supported_lines(tuple(self.lines), today)

    def affected_lines(self, versions: Iterable[str], today: date) -> tuple[LtsLine, ...]:
        return affected_lines(versions, self.lines, today)

    @staticmethod
    def names_versions(versions: Iterable[str]) -> bool:
        """Is any affected version known at all (blank and unreadable text is not)?"""
        return any(map(names_a_version, versions))

    # -- risk
    def risk(self, severity: Severity, checklist: TriageChecklist, *, today: date) -> Risk:
        lines = self.affected_lines(checklist.affected_versions, today)
        return risk_score(severity, checklist, affected_lines=len(lines))

    # -- eligibility
    def eligibility(
        self, checklist: TriageChecklist, risk: Risk, *, today: date, emergency: bool
    ) -> Verdict:
        """Backport / defer / reject, with the rule that decided and the reason."""
        if checklist.reproduced is False and not checklist.security:
            return Verdict(Decision.REJECT, "not_reproduced", "the defect could not be reproduced")
        targets = self.affected_lines(checklist.affected_versions, today)
        if not targets:
            return self._no_target(checklist)
        if checklist.api_change and not emergency:
            return Verdict(
                Decision.DEFER,
                "api_break",
                "API-breaking changes are not allowed in LTS unless emergency-approved",
            )
        return self._by_kind(checklist, risk, targets, emergency=emergency)

    def _no_target(self, checklist: TriageChecklist) -> Verdict:
        if self.names_versions(checklist.affected_versions):
            named = ", ".join(v.strip() for v in checklist.affected_versions if v.strip())
            return Verdict(
                Decision.REJECT,
                "unsupported_lines",
                f"no supported LTS line is affected ({named})",
            )
        return Verdict(
            Decision.DEFER,
            "affected_versions_unknown",
            "no affected supported LTS line identified yet",
        )

    def _by_kind(
        self,
        checklist: TriageChecklist,
        risk: Risk,
        targets: tuple[LtsLine, ...],
        *,
        emergency: bool,
    ) -> Verdict:
        low_risk = risk.change_risk_level is RiskLevel.LOW
        if emergency:
            return Verdict(
                Decision.BACKPORT, "emergency", "emergency fast-track requested", targets
            )
        if checklist.security:
            return Verdict(
                Decision.BACKPORT,
                "security",
                "security fixes are considered for every supported LTS line they affect",
                targets,
            )
        if checklist.change_kind is ChangeKind.FEATURE:
            if checklist.effort is Effort.SMALL and low_risk:
                return Verdict(
                    Decision.BACKPORT, "trivial_feature", "feature is trivial and low-risk", targets
                )
            return Verdict(
                Decision.DEFER, "feature", "features are deferred unless trivial and low-risk"
            )
        if low_risk:
            return Verdict(
                Decision.BACKPORT,
                "low_risk_bug_fix",
                "low-risk bug fix without API change",
                targets,
            )
        return Verdict(
            Decision.DEFER,
            "risky_bug_fix",
            f"bug fix is not low-risk (change risk {risk.change_risk_level.value})",
        )

    # -- owner
    def owner_for(self, ticket_id: int) -> str | None:
        """Round robin over the configured rotation, by ticket id (deterministic, no state)."""
        if not self.owner_rotation:
            return None
        return self.owner_rotation[ticket_id % len(self.owner_rotation)]

    # -- plan details
    def tests_required(self, checklist: TriageChecklist, severity: Severity) -> tuple[str, ...]:
        tests = list(BASE_TESTS)
        if checklist.security:
            tests.extend(SECURITY_TESTS)
        if checklist.api_change:
            tests.append("upgrade_downgrade")
        if at_least(severity, Severity.CRITICAL):
            tests.append("performance_smoke")
        return tuple(tests)

    def rollout(self, risk: Risk, severity: Severity, *, emergency: bool) -> RolloutStrategy:
        """Emergency: publish immediately. A low change risk on a medium/low ticket: immediate.
        Everything else goes through the staged canary."""
        if emergency:
            return RolloutStrategy.IMMEDIATE
        quiet = severity in (Severity.MEDIUM, Severity.LOW)
        if risk.change_risk_level is RiskLevel.LOW and quiet:
            return RolloutStrategy.IMMEDIATE
        return RolloutStrategy.STAGED_CANARY

    def milestone(self, plan_deadline: datetime) -> str:
        year, week, _ = plan_deadline.astimezone(self.calendar.zone).isocalendar()
        return f"lts-patch-{year}-W{week:02d}"

    # -- who may ask
    def request_refusal(
        self, action: str, *, actor_id: str, held: Iterable[Role], allowed: Sequence[Role]
    ) -> str | None:
        """Why `actor_id` may not `action` (None when one of the `allowed` roles is held)."""
        if set(held) & set(allowed):
            return None
        wanted = ", ".join(r.value for r in allowed)
        return f"{actor_id} may not {action}: it requires one of the roles {wanted}"

    # -- sign-off
    def sign_off_refusal(
        self,
        *,
        role: Role,
        actor_id: str,
        actor_roles: Iterable[Role],
        required: Sequence[Role],
        signed_by_actor: Iterable[Role] = (),
    ) -> str | None:
        """Why a sign-off must be refused (None when it may be recorded). `signed_by_actor`:
        the roles this actor already signed on the same plan revision (four eyes: one person
        holds one required role of a plan unless `one_role_per_signer` is off)."""
        if role not in set(actor_roles):
            return f"{actor_id} does not hold the role {role.value}"
        if role in self.maintainer_sign_off_roles and actor_id not in self.maintainers:
            return f"only configured maintainers may sign off as {role.value}"
        if role not in required:
            wanted = ", ".join(r.value for r in required)
            return f"the plan does not require a {role.value} sign-off (required: {wanted})"
        other = [r.value for r in signed_by_actor if r is not role]
        if other and self.one_role_per_signer:
            return (
                f"{actor_id} already signed this plan as {', '.join(other)}: one person holds "
                "one required role of a plan (four eyes)"
            )
        return None

    # -- breaches: who is told, how, and who next
    def notice_channel(self, severity: Severity | None) -> Literal["page", "chat", "email"]:
        if severity is not None and at_least(severity, Severity.CRITICAL):
            return "page"
        return "chat" if severity is Severity.HIGH else "email"

    def escalation_roles(self, level: int) -> tuple[Role, ...] | None:
        """The role(s) told at escalation `level` (1..), None past the end of the chain."""
        if 1 <= level <= len(self.escalation_chain):
            return (self.escalation_chain[level - 1],)
        return None

    def escalation_due(self, *, notified_at: datetime) -> datetime:
        return notified_at + self.escalate_after

    # -- deferral and follow-ups
    def revisit_at(self, *, deferred_at: datetime) -> datetime:
        return self.revisit_after.deadline(deferred_at, self.calendar)

    def follow_up_due(self, follow_up: FollowUp, *, opened_at: datetime) -> datetime:
        return self.follow_up_sla[follow_up].deadline(opened_at, self.calendar)

    def follow_up_refusal(
        self,
        follow_up: FollowUp,
        *,
        actor_id: str,
        held: Iterable[Role],
        closer_roles: Sequence[Role],
        approvers: Iterable[str],
    ) -> str | None:
        """Who may close a follow-up: one holding a closer role; an audit is not closed by one
        who approved the fast-track it audits."""
        refusal = self.request_refusal(
            f"close the {follow_up.value}", actor_id=actor_id, held=held, allowed=closer_roles
        )
        if refusal is None and follow_up is FollowUp.POST_FACTO_AUDIT and actor_id in approvers:
            return f"{actor_id} approved the fast-track and may not audit it"
        return refusal


FOLLOW_UP_CLOSERS: dict[FollowUp, tuple[Role, ...]] = {
    FollowUp.POST_FACTO_AUDIT: (Role.ENGINEERING_LEAD, Role.SECURITY_REVIEWER),
    FollowUp.POSTMORTEM: (Role.ENGINEERING_LEAD, Role.SRE, Role.MAINTAINER, Role.RELEASE_MANAGER),
}
BREACH_NOTICE_ROLES: dict[BreachKind, tuple[Role, ...]] = {
    "triage_sla": (Role.TRIAGE_ENGINEER,),
    "plan_sla": (),  # the missing approvers' roles, and the owner by name
}
