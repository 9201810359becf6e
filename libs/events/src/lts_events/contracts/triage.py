"""Events of the triage service (topic `lts.triage.events`). Owned by the triage service.

Every event is about one ticket (stream `ticket_stream(ticket_id)`) and carries `ticket_id`.
Who and why are in the event metadata (actor + reason); decision events also name the deciding
actor explicitly (`decided_by`, `triaged_by`, ...) so that consumers reading only the payload
still have the audit facts. Times are UTC-aware datetimes.

Lifecycle of one ticket, in order:
`TicketReceived` -> `SeverityProposed` -> `TicketTriaged` -> `RiskScored` -> `BackportDecided`
-> `OwnerAssigned` -> `BackportPlanned` (backport only) -> `ApprovalRecorded`* -> `PlanApproved`.
A triage engineer's confirmation or correction is another `TicketTriaged` (`automatic=False`),
followed by a new risk score, decision and, if still backported, a new plan revision; approvals
count only for the plan revision they were given for. Timers add `TriageSlaBreached`,
`PlanSlaBreached` and `ApprovalReminderDue`; a breach asks for a notification
(`BreachNotificationRequested`) and, unanswered, escalates (`BreachEscalated`). A deferral is
revisited (`RevisitDue`); a withdrawn advisory closes the ticket (`TicketClosed`); an emergency
fast-track opens its follow-ups (`FollowUpOpened` -> `FollowUpClosed` / `FollowUpOverdue`).
Every refused request is recorded (`RequestRefused`). When automation would triage but no
affected version is known, `AffectedVersionsRequested` follows the proposal instead, and the
ticket waits for a triage engineer under its triage SLA.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.event import REGISTRY, Event, JsonDict

TicketId = int


class Decision(StrEnum):
    BACKPORT = "backport"
    DEFER = "defer"
    REJECT = "reject"


class Effort(StrEnum):
    SMALL = "S"
    MEDIUM = "M"
    LARGE = "L"


class ChangeKind(StrEnum):
    BUG_FIX = "bug_fix"
    FEATURE = "feature"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RolloutStrategy(StrEnum):
    IMMEDIATE = "immediate"
    STAGED_CANARY = "staged_canary"


class SeverityRule(StrEnum):
    """Which rule decided an automatic severity proposal (`lts_events.severity` has the words).

    Strong evidence first: the highest of the rubric's words (service down, data loss, remote
    code execution -> critical), machine evidence (CVSS base score, the alert's severity) and
    the reporter's explicit severity wins, and a tie goes to the first of these three. Only
    without any of them do keyword labels decide, then the ticket's kind."""

    RUBRIC = "rubric"
    EVIDENCE = "evidence"
    REPORTER = "reporter"
    KEYWORDS = "keywords"
    KIND = "kind"
    UNRECORDED = "unrecorded"  # proposals stored before the rule was recorded (schema 1)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeverityEvidence(_Value):
    """One fact behind an automatic severity proposal."""

    source: Literal["rubric", "label", "cvss", "alert", "guess", "kind", "default"]
    value: str
    severity: Severity
    detail: str = ""


class RiskPart(_Value):
    """One term of the risk score: `points` out of at most `max_points`."""

    name: str
    value: str
    points: int = Field(ge=0)
    max_points: int = Field(ge=0)


class ApprovalEntry(_Value):
    approver: str
    role: Role
    approved_at: datetime
    comment: str = ""


class TicketReceived(Event):
    """Triage took the ticket over from intake (a copy of the facts triage decides on)."""

    type: ClassVar[str] = "lts.triage.ticket_received"

    ticket_id: TicketId
    title: str
    kind: str
    source: str
    labels: tuple[str, ...] = ()
    cve_ids: tuple[str, ...] = ()
    affected_versions: tuple[str, ...] = ()
    affected_lts_lines: tuple[str, ...] = ()
    cvss_vectors: tuple[str, ...] = ()
    alert_severity: str | None = None
    severity_guess: Severity | None = None
    opened_at: datetime
    received_at: datetime


class SeverityProposed(Event):
    """The automatic severity proposal from labels, CVSS vectors, alert severity and the
    reporter's guess, with the evidence and the rule that decided (`SeverityRule`); starts the
    triage SLA clock (counted from the ticket's `opened_at`). Proposed again, with the labels
    considered, when intake labels an untriaged ticket.

    Schema 2 added `rule`; schema 1 proposals read as `unrecorded`."""

    type: ClassVar[str] = "lts.triage.severity_proposed"
    schema_version: ClassVar[int] = 2

    ticket_id: TicketId
    severity: Severity
    rule: SeverityRule
    evidence: tuple[SeverityEvidence, ...]
    labels: tuple[str, ...] = ()
    cvss_base_score: float | None = None
    security: bool
    public_exploit: bool
    triage_deadline: datetime
    proposed_at: datetime


@REGISTRY.upcaster(SeverityProposed.type, from_version=1)
def _proposal_rule_unrecorded(data: JsonDict) -> JsonDict:
    return {**data, "rule": SeverityRule.UNRECORDED.value}


class TriageChecklist(_Value):
    """The runbook's triage checklist, answered: reproduced (unknown: None), the affected
    versions as named, public exploit, safe workaround, API change, effort, security flag; plus
    the kind of change and whether it is a regression (the eligibility and approval rules ask)."""

    reproduced: bool | None
    affected_versions: tuple[str, ...]
    public_exploit: bool
    workaround: bool
    api_change: bool
    effort: Effort
    security: bool
    change_kind: ChangeKind = ChangeKind.BUG_FIX
    regression: bool = False


class TicketTriaged(Event):
    """The triage checklist answered, by automation (`automatic`) or by a triage engineer.

    `sla_deadline` is the triage deadline (4 h critical, 24 h high, 3 business days otherwise,
    counted from `opened_at`); `plan_deadline` is 3 business days after `triaged_at`.

    Schema 2 nests the answers in `checklist`; schema 1 carried them as top-level fields."""

    type: ClassVar[str] = "lts.triage.ticket_triaged"
    schema_version: ClassVar[int] = 2

    ticket_id: TicketId
    severity: Severity
    proposed_severity: Severity | None = None
    triaged_by: str
    automatic: bool
    opened_at: datetime
    triaged_at: datetime
    sla_deadline: datetime
    within_sla: bool
    plan_deadline: datetime
    checklist: TriageChecklist


@REGISTRY.upcaster(TicketTriaged.type, from_version=1)
def _checklist_nested(data: JsonDict) -> JsonDict:
    flat = dict(data)
    answers = {name: flat.pop(name) for name in TriageChecklist.model_fields if name in flat}
    return {**flat, "checklist": answers}


class RiskScored(Event):
    """The risk score (0-100) and its parts; `exposure` is the risk of not fixing (severity,
    exploit, workaround, affected versions), `change_risk` the risk of the fix itself (API
    change, effort). See lts_triage.policy.risk_score for the formula."""

    type: ClassVar[str] = "lts.triage.risk_scored"

    ticket_id: TicketId
    score: int = Field(ge=0, le=100)
    level: RiskLevel
    exposure: int = Field(ge=0)
    change_risk: int = Field(ge=0)
    change_risk_level: RiskLevel
    parts: tuple[RiskPart, ...]
    formula: str
    scored_at: datetime


class BackportDecided(Event):
    """Backport, defer or reject. A deferral names the day it is looked at again
    (`revisit_at`, a durable timer: `RevisitDue`).

    Schema 2 added `revisit_at`; schema-1 decisions read with none."""

    type: ClassVar[str] = "lts.triage.backport_decided"
    schema_version: ClassVar[int] = 2

    ticket_id: TicketId
    decision: Decision
    reason: str
    rule: str
    targets: tuple[str, ...] = ()
    decided_by: str
    decided_at: datetime
    revisit_at: datetime | None


@REGISTRY.upcaster(BackportDecided.type, from_version=1)
def _decision_without_revisit(data: JsonDict) -> JsonDict:
    return {**data, "revisit_at": None}


class OwnerAssigned(Event):
    type: ClassVar[str] = "lts.triage.owner_assigned"

    ticket_id: TicketId
    owner: str
    assigned_by: str
    reason: str
    assigned_at: datetime


class BackportPlanned(Event):
    """A plan revision. Approvals are given for one `revision`; a new revision resets them."""

    type: ClassVar[str] = "lts.triage.backport_planned"

    ticket_id: TicketId
    revision: int = Field(ge=1)
    target_branches: tuple[str, ...]
    patch_branches: tuple[str, ...]
    tests_required: tuple[str, ...]
    rollout_strategy: RolloutStrategy
    required_approvers: tuple[Role, ...]
    effort: Effort
    security_review_required: bool
    milestone: str
    emergency: bool
    plan_deadline: datetime
    planned_by: str
    planned_at: datetime


class ApprovalRecorded(Event):
    type: ClassVar[str] = "lts.triage.approval_recorded"

    ticket_id: TicketId
    revision: int
    approver: str
    role: Role
    comment: str = ""
    approved_at: datetime


class ApprovalRefused(Event):
    """A sign-off that was refused, recorded for the audit. No longer emitted: every refusal is
    now a `RequestRefused`; stored ones stay readable."""

    type: ClassVar[str] = "lts.triage.approval_refused"

    ticket_id: TicketId
    actor: str
    role: Role
    reason: str
    refused_at: datetime


class PlanApproved(Event):
    type: ClassVar[str] = "lts.triage.plan_approved"

    ticket_id: TicketId
    revision: int
    approvals: tuple[ApprovalEntry, ...]
    target_branches: tuple[str, ...]
    emergency: bool
    within_sla: bool
    approved_at: datetime


class EmergencyFastTrackRequested(Event):
    type: ClassVar[str] = "lts.triage.emergency_fast_track_requested"

    ticket_id: TicketId
    requested_by: str
    reason: str
    requested_at: datetime
    post_facto_audit_required: Literal[True] = True
    postmortem_required: Literal[True] = True


class EmergencyFastTrackApproved(Event):
    """Engineering lead + release manager signed the emergency plan: non-essential steps may be
    skipped; a post-facto audit and a postmortem are mandatory."""

    type: ClassVar[str] = "lts.triage.emergency_fast_track_approved"

    ticket_id: TicketId
    revision: int
    approved_by: tuple[str, ...]
    approved_at: datetime
    post_facto_audit_required: Literal[True] = True
    postmortem_required: Literal[True] = True


class AffectedVersionsRequested(Event):
    """Automation would have triaged the ticket but it names no affected version (e.g. an alert
    without a version label): no version, no backport targets, so a person must name them
    (`POST /tickets/{id}/triage`). The ticket stays in the triage backlog and its triage SLA
    timer runs to `triage_deadline`; nothing is deferred on its own."""

    type: ClassVar[str] = "lts.triage.affected_versions_requested"

    ticket_id: TicketId
    severity: Severity
    triage_deadline: datetime
    reason: str
    requested_at: datetime


class TriageSlaBreached(Event):
    type: ClassVar[str] = "lts.triage.triage_sla_breached"

    ticket_id: TicketId
    severity: Severity
    deadline: datetime
    detected_at: datetime


class PlanSlaBreached(Event):
    type: ClassVar[str] = "lts.triage.plan_sla_breached"

    ticket_id: TicketId
    revision: int | None
    deadline: datetime
    missing_approvals: tuple[Role, ...]
    detected_at: datetime


class ApprovalReminderDue(Event):
    type: ClassVar[str] = "lts.triage.approval_reminder_due"

    ticket_id: TicketId
    revision: int
    deadline: datetime
    missing_approvals: tuple[Role, ...]
    reminded_at: datetime


# ---------------------------------------------------------------- refusals, breaches, follow-up


class RefusalKind(StrEnum):
    """Why a request was refused; the HTTP status the API answers with is in brackets."""

    FORBIDDEN = "forbidden"  # 403: the caller may not do this
    CONFLICT = "conflict"  # 409: not in this state of the ticket
    PRECONDITION_FAILED = "precondition_failed"  # 412: a stale plan revision or ticket version
    PRECONDITION_REQUIRED = "precondition_required"  # 428: no plan revision named


RefusedAction = Literal["triage", "emergency", "sign_off", "close_follow_up"]


class RequestRefused(Event):
    """A request on a ticket that was refused, recorded for the audit: who (`actor` and the
    roles their token held), what (`action`, and the role asked for) and why."""

    type: ClassVar[str] = "lts.triage.request_refused"

    ticket_id: TicketId
    actor: str
    held_roles: tuple[Role, ...]
    action: RefusedAction
    role: Role | None = None
    revision: int | None = None
    refusal: RefusalKind
    reason: str
    refused_at: datetime


BreachKind = Literal["triage_sla", "plan_sla"]


class BreachNotificationRequested(Event):
    """Someone must be told of a breach: the comms service delivers it (to the `recipients`
    by name and to whoever holds the `roles`) on the channel hinted. `level` 0 is the breach
    itself, 1.. its escalations."""

    type: ClassVar[str] = "lts.triage.breach_notification_requested"

    ticket_id: TicketId
    breach: BreachKind
    level: int = Field(ge=0)
    roles: tuple[Role, ...]
    recipients: tuple[str, ...] = ()
    channel_hint: Literal["page", "chat", "email"]
    severity: Severity | None = None
    deadline: datetime
    missing_approvals: tuple[Role, ...] = ()
    message: str
    requested_at: datetime


class BreachEscalated(Event):
    """A breach nobody answered (the ticket is still untriaged, the plan still unapproved)
    `escalate_after` it was notified: handed to the next role of the policy's chain."""

    type: ClassVar[str] = "lts.triage.breach_escalated"

    ticket_id: TicketId
    breach: BreachKind
    level: int = Field(ge=1)
    to_roles: tuple[Role, ...]
    deadline: datetime
    escalated_at: datetime


class RevisitDue(Event):
    """A deferred ticket's revisit date came: it is back in front of a triage engineer."""

    type: ClassVar[str] = "lts.triage.revisit_due"

    ticket_id: TicketId
    deferred_at: datetime
    revisit_at: datetime
    reason: str
    due_at: datetime


class TicketClosed(Event):
    """Triage stops working on the ticket (its advisory was withdrawn): no more plans,
    sign-offs or breaches. Follow-ups of an emergency already fast-tracked stay open."""

    type: ClassVar[str] = "lts.triage.ticket_closed"

    ticket_id: TicketId
    cause: Literal["advisory_withdrawn"]
    reason: str
    advisory_id: str | None = None
    closed_at: datetime


class SecurityReviewAdded(Event):
    """A security label came after triage, while the plan was waiting for sign-offs: the
    plan is revised (the next `BackportPlanned`) to require the security reviewer."""

    type: ClassVar[str] = "lts.triage.security_review_added"

    ticket_id: TicketId
    labels: tuple[str, ...]
    reason: str
    added_at: datetime


class FollowUp(StrEnum):
    """What the emergency fast-track owes afterwards (runbook: post-facto audit, postmortem)."""

    POST_FACTO_AUDIT = "post_facto_audit"
    POSTMORTEM = "postmortem"


class FollowUpOpened(Event):
    """A work item the emergency fast-track opened: due at `due_at`, closed by one holding
    one of `closer_roles` (`FollowUpClosed`), else `FollowUpOverdue`."""

    type: ClassVar[str] = "lts.triage.follow_up_opened"

    ticket_id: TicketId
    follow_up: FollowUp
    revision: int
    closer_roles: tuple[Role, ...]
    due_at: datetime
    opened_at: datetime


class FollowUpClosed(Event):
    type: ClassVar[str] = "lts.triage.follow_up_closed"

    ticket_id: TicketId
    follow_up: FollowUp
    closed_by: str
    summary: str
    link: str | None = None
    within_deadline: bool
    closed_at: datetime


class FollowUpOverdue(Event):
    type: ClassVar[str] = "lts.triage.follow_up_overdue"

    ticket_id: TicketId
    follow_up: FollowUp
    due_at: datetime
    detected_at: datetime
