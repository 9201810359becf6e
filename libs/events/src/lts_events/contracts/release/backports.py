"""Backports, their gates and sign-offs (topic `lts.release.events`). Owned by the release
service's core (`lts_release.backports`).

An approved triage plan opens one backport per target line, in the stream
`backport_stream(ticket_id, line)`. What the release service learned from triage before the
approval (the severity, each plan revision) is noted in its own copy of the ticket's stream
(`ticket_stream(ticket_id)`), since triage's approval names neither.

Lifecycle of one backport, in order:
`BackportOpened` -> (`SignOffRecorded` | `QaExceptionApproved` | `BackportRequestRefused`)*
-> `BackportReady` (every required gate passed on the patch branch's head commit, QA signed or
excepted, security signed where required; an emergency fast-track adds `PostFactoAuditFlagged`)
-> `BackportIncluded` (in a release candidate) -> `BackportReleased`. A newer commit, or a new
plan revision, re-opens a ready backport (`BackportReopened`); a re-triage marks it
`BackportReplanned` until the new revision is approved (`BackportRevised`); a rejection,
deferral, dropped line or closed ticket closes it (`BackportClosed`). The release SLA (per
severity, from plan approval) adds `ReleaseSlaBreached`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.contracts.release.ci import CiEvidence, Gate
from lts_events.contracts.triage import RolloutStrategy
from lts_events.event import Event

TicketId = int


def backport_stream(ticket_id: int, line: str) -> str:
    """The stream of one backport: a ticket on one LTS line (`"1.4"`)."""
    return f"backport-{ticket_id}-{line}"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- what triage told us


class TicketNoted(Event):
    """The ticket as triage received it: what a release names (stream `ticket-{id}`)."""

    type: ClassVar[str] = "lts.release.ticket_noted"

    ticket_id: TicketId
    title: str
    cve_ids: tuple[str, ...] = ()
    received_at: datetime


class TicketSeverityNoted(Event):
    """Triage's severity of a ticket, noted for the release SLA (stream `ticket-{id}`)."""

    type: ClassVar[str] = "lts.release.ticket_severity_noted"

    ticket_id: TicketId
    severity: Severity
    triaged_at: datetime


class BackportPlanNoted(Event):
    """A triage plan revision, noted until it is approved (stream `ticket-{id}`)."""

    type: ClassVar[str] = "lts.release.backport_plan_noted"

    ticket_id: TicketId
    revision: int = Field(ge=1)
    target_branches: tuple[str, ...]
    patch_branches: tuple[str, ...]
    tests_required: tuple[str, ...]
    rollout_strategy: RolloutStrategy
    security_review_required: bool
    emergency: bool
    planned_at: datetime


class PlanApprovalNoted(Event):
    """Triage approved a plan revision and its backports were opened or revised, one per
    line (stream `ticket-{id}`); the lines are those later updates close or revise."""

    type: ClassVar[str] = "lts.release.plan_approval_noted"

    ticket_id: TicketId
    revision: int = Field(ge=1)
    lines: tuple[str, ...]
    approved_at: datetime


# ---------------------------------------------------------------- one backport


class _BackportTerms(Event):
    """What an approved plan revision asks of one line's backport."""

    ticket_id: TicketId
    line: str = Field(pattern=r"^\d+\.\d+$")
    revision: int = Field(ge=1)
    title: str = ""
    cve_ids: tuple[str, ...] = ()
    target_branch: str
    patch_branch: str
    tests_required: tuple[str, ...]
    required_gates: tuple[Gate, ...] = Field(description="The CI gates the required tests map to")
    essential_gates: tuple[Gate, ...] = Field(
        description="The required gates an emergency fast-track still runs (policy)"
    )
    security_sign_off_required: bool
    rollout_strategy: RolloutStrategy
    emergency: bool
    severity: Severity | None
    approved_at: datetime
    release_deadline: datetime | None = Field(
        description="Release SLA: plan approval + the severity's window (none: no severity)"
    )


class BackportOpened(_BackportTerms):
    type: ClassVar[str] = "lts.release.backport_opened"


class BackportRevised(_BackportTerms):
    """A later plan revision approved: the terms replace the previous ones."""

    type: ClassVar[str] = "lts.release.backport_revised"


class BackportReplanned(Event):
    """Triage revised the plan again: the backport waits for that revision's approval."""

    type: ClassVar[str] = "lts.release.backport_replanned"

    ticket_id: TicketId
    line: str
    revision: int = Field(ge=1)
    replanned_at: datetime


CloseCause = Literal["rejected", "deferred", "line_dropped", "ticket_closed"]


class BackportClosed(Event):
    type: ClassVar[str] = "lts.release.backport_closed"

    ticket_id: TicketId
    line: str
    cause: CloseCause
    reason: str
    closed_at: datetime


class SignOffKind(StrEnum):
    QA = "qa"
    SECURITY = "security"


class SignOffRecorded(Event):
    """A QA or security sign-off of the patch branch's `commit` (it counts for that commit)."""

    type: ClassVar[str] = "lts.release.sign_off_recorded"

    ticket_id: TicketId
    line: str
    kind: SignOffKind
    commit: str
    signed_by: str
    role: Role
    comment: str = ""
    signed_at: datetime


class QaExceptionApproved(Event):
    """An engineering lead's documented exception standing in for the QA sign-off."""

    type: ClassVar[str] = "lts.release.qa_exception_approved"

    ticket_id: TicketId
    line: str
    approved_by: str
    reason: str
    approved_at: datetime


class BackportAction(StrEnum):
    QA_SIGN_OFF = "qa_sign_off"
    SECURITY_SIGN_OFF = "security_sign_off"
    QA_EXCEPTION = "qa_exception"


class RefusalKind(StrEnum):
    """Why a request was refused; the HTTP status is in brackets."""

    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    PRECONDITION_FAILED = "precondition_failed"  # 412: If-Match names a stale version


class BackportRequestRefused(Event):
    """A sign-off or exception request on a backport that was refused, for the audit."""

    type: ClassVar[str] = "lts.release.backport_request_refused"

    ticket_id: TicketId
    line: str
    actor: str
    held_roles: tuple[Role, ...]
    action: BackportAction
    refusal: RefusalKind
    reason: str
    refused_at: datetime


class GateEvidence(_Value):
    """A required gate as it stood when the backport became ready."""

    gate: Gate
    status: Literal["passed", "skipped_by_fast_track"]
    job: str | None = None
    run_url: str | None = None
    ci_event_id: str | None = None
    evidence: CiEvidence | None = None


class BackportReady(Event):
    """Every required gate passed on `commit` (the branch's head), QA signed or excepted,
    security signed where required. A fast-track lists the gates it did not wait for."""

    type: ClassVar[str] = "lts.release.backport_ready"

    ticket_id: TicketId
    line: str
    patch_branch: str
    commit: str
    gates: tuple[GateEvidence, ...]
    qa_signed_by: str | None
    qa_exception_by: str | None = None
    security_signed_by: str | None
    fast_tracked: bool
    skipped_gates: tuple[Gate, ...] = ()
    ready_at: datetime


class BackportReopened(Event):
    """A ready backport is not ready any more: a newer commit, a failed re-run, a new plan."""

    type: ClassVar[str] = "lts.release.backport_reopened"

    ticket_id: TicketId
    line: str
    commit: str | None
    missing: tuple[str, ...]
    reason: str
    reopened_at: datetime


class PostFactoAuditFlagged(Event):
    """An emergency fast-track made the backport ready without some gates: audit them later."""

    type: ClassVar[str] = "lts.release.post_facto_audit_flagged"

    ticket_id: TicketId
    line: str
    commit: str
    skipped_gates: tuple[Gate, ...]
    reason: str
    flagged_at: datetime


class BackportIncluded(Event):
    """A release candidate of the line ships the backport (at the commit its gates passed on)."""

    type: ClassVar[str] = "lts.release.backport_included"

    ticket_id: TicketId
    line: str
    candidate_id: str
    version: str
    tag: str
    commit: str
    included_at: datetime


class BackportReleased(Event):
    """The backport shipped in a published release of its line."""

    type: ClassVar[str] = "lts.release.backport_released"

    ticket_id: TicketId
    line: str
    version: str
    candidate_id: str
    released_at: datetime
    within_sla: bool | None


class ReleaseSlaBreached(Event):
    """The backport was not released by its release deadline."""

    type: ClassVar[str] = "lts.release.release_sla_breached"

    ticket_id: TicketId
    line: str
    severity: Severity
    deadline: datetime
    detected_at: datetime
