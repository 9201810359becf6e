"""HTTP routes: authenticate, validate, call the shell. The approval matrix is the domain's.

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import (
    ApprovalEntry,
    ChangeKind,
    Decision,
    Effort,
    FollowUp,
    RiskLevel,
    RolloutStrategy,
    TriageChecklist,
)
from lts_events.http_versions import IfMatch, Tags, VersionedRead, etag
from pydantic import BaseModel, ConfigDict, Field

from lts_triage.domain import (
    CloseFollowUp,
    Decided,
    RequestEmergency,
    SignOff,
    TicketState,
    TriageTicket,
    caller,
)
from lts_triage.handlers import TriageHandlers
from lts_triage.policy import EMERGENCY_REQUESTERS, TRIAGE_ROLES

_STATUS = {
    "forbidden": 403,
    "conflict": 409,
    "not_found": 404,
    "precondition_failed": 412,
    "precondition_required": 428,
}


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TriageRequest(_Body):
    """The triage checklist of the runbook."""

    severity: Severity
    reproduced: bool
    affected_versions: list[str] = Field(min_length=1)
    public_exploit: bool
    workaround: bool
    api_change: bool
    effort: Effort
    security: bool
    change_kind: ChangeKind = ChangeKind.BUG_FIX
    regression: bool = False
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=2000)


class ApprovalRequest(_Body):
    """`revision`: the plan revision approved; or send the plan's ETag as `If-Match`."""

    role: Role
    comment: str = Field(default="", max_length=2000)
    revision: int | None = Field(default=None, ge=1)


class FollowUpClose(_Body):
    summary: str = Field(min_length=3, max_length=4000)
    link: str | None = Field(default=None, max_length=2000)


class FollowUpView(_Body):
    follow_up: FollowUp
    due_at: datetime
    status: str  # open, overdue, closed


class EmergencyRequest(_Body):
    reason: str = Field(min_length=3, max_length=2000)


class PlanView(_Body):
    revision: int
    target_branches: list[str]
    patch_branches: list[str]
    tests_required: list[str]
    rollout_strategy: RolloutStrategy
    required_approvers: list[Role]
    effort: Effort
    security_review_required: bool
    milestone: str
    emergency: bool


class TriageView(_Body):
    ticket_id: int
    status: str
    title: str
    proposed_severity: Severity | None
    severity: Severity | None
    triaged_by: str | None
    automatic_triage: bool | None
    triage_deadline: datetime | None
    triaged_at: datetime | None
    triage_sla_breached: bool
    plan_deadline: datetime | None
    plan_sla_breached: bool
    risk_score: int | None
    risk_level: RiskLevel | None
    decision: Decision | None
    decision_reason: str | None
    targets: list[str]
    owner: str | None
    plan: PlanView | None
    approvals: list[ApprovalEntry]
    missing_approvals: list[Role]
    emergency: bool
    approved_at: datetime | None
    revisit_at: datetime | None
    closed_reason: str | None
    follow_ups: list[FollowUpView]


def status_of(state: TicketState) -> str:
    if state.closed is not None:
        return "closed"
    if state.decision is not None and state.revisited == state.decision.decided_at:
        return "revisit_due"
    if state.approved is not None:
        return "approved"
    if state.plan is not None:
        return "awaiting_approval"
    if state.decision is not None:
        return state.decision.decision.value
    if state.triage is not None:
        return "triaged"
    return "needs_versions" if state.versions_requested else "awaiting_triage"


def view_of(state: TicketState) -> TriageView:
    assert state.received is not None
    triage, decision = state.triage, state.decision
    return TriageView(
        ticket_id=state.received.ticket_id,
        status=status_of(state),
        title=state.received.title,
        proposed_severity=state.proposal.severity if state.proposal else None,
        severity=triage.severity if triage else None,
        triaged_by=triage.triaged_by if triage else None,
        automatic_triage=triage.automatic if triage else None,
        triage_deadline=state.proposal.triage_deadline if state.proposal else None,
        triaged_at=triage.triaged_at if triage else None,
        triage_sla_breached=state.triage_breached,
        plan_deadline=state.plan_deadline,
        plan_sla_breached=state.plan_breached,
        risk_score=state.risk.score if state.risk else None,
        risk_level=state.risk.level if state.risk else None,
        decision=decision.decision if decision else None,
        decision_reason=decision.reason if decision else None,
        targets=list(decision.targets) if decision else [],
        owner=state.owner,
        plan=_plan_view(state),
        approvals=list(state.approvals),
        missing_approvals=list(state.missing),
        emergency=state.emergency is not None,
        approved_at=state.approved.approved_at if state.approved else None,
        revisit_at=decision.revisit_at if decision else None,
        closed_reason=state.closed.reason if state.closed else None,
        follow_ups=[
            _follow_up_view(state, opened.follow_up, opened.due_at) for opened in state.follow_ups
        ],
    )


def _follow_up_view(state: TicketState, follow_up: FollowUp, due_at: datetime) -> FollowUpView:
    if follow_up in state.follow_ups_closed:
        status_ = "closed"
    else:
        status_ = "overdue" if follow_up in state.follow_ups_overdue else "open"
    return FollowUpView(follow_up=follow_up, due_at=due_at, status=status_)


def revision_of(if_match: Tags | None) -> int | None:
    """The plan revision an `If-Match` names (the newest of those it lists), None for none
    (`*` names none: a sign-off names what it approves)."""
    named = [int(tag) for tag in if_match.opaque if tag.isdigit()] if if_match else []
    return max(named, default=None)


def _plan_view(state: TicketState) -> PlanView | None:
    plan = state.plan
    if plan is None:
        return None
    return PlanView(
        revision=plan.revision,
        target_branches=list(plan.target_branches),
        patch_branches=list(plan.patch_branches),
        tests_required=list(plan.tests_required),
        rollout_strategy=plan.rollout_strategy,
        required_approvers=list(plan.required_approvers),
        effort=plan.effort,
        security_review_required=plan.security_review_required,
        milestone=plan.milestone,
        emergency=plan.emergency,
    )


def build_router(handlers: TriageHandlers, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/tickets", tags=["triage"])
    Authenticated = Annotated[Principal, Depends(authenticator)]

    async def current(ticket_id: int, response: Response | None = None) -> TriageView:
        """The ticket's triage view; its version (the ETag) goes on `response`."""
        state, versions = await handlers.load(ticket_id)
        if state.received is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "triage has not received this ticket")
        if response is not None:
            response.headers["ETag"] = etag(versions.model)
        return view_of(state)

    @router.get("/{ticket_id}/triage")
    async def get_triage(
        ticket_id: int, principal: Authenticated, versioned: VersionedRead
    ) -> TriageView:
        """The ticket's triage; its ETag is the ticket's version, which `If-Match` on a triage,
        an emergency or a follow-up names (a sign-off names the plan's ETag)."""
        state, versions = await handlers.load(ticket_id)
        if state.received is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "triage has not received this ticket")
        versioned.answer(versions.model)
        return view_of(state)

    @router.get("/{ticket_id}/plan")
    async def get_plan(
        ticket_id: int, principal: Authenticated, versioned: VersionedRead
    ) -> PlanView:
        """The current plan revision; its ETag is what a sign-off names (`If-Match`)."""
        plan = _plan_view((await handlers.load(ticket_id))[0])
        if plan is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this ticket has no backport plan")
        versioned.answer(plan.revision)
        return plan

    @router.post("/{ticket_id}/triage")
    async def post_triage(
        ticket_id: int,
        body: TriageRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> TriageView:
        command = TriageTicket(
            actor=caller(principal.actor_id, principal.roles, TRIAGE_ROLES),
            severity=body.severity,
            checklist=_checklist(body),
            owner=body.owner,
            comment=body.comment,
            held_roles=principal.roles,
        )
        _raise_refusal(await handlers.execute(ticket_id, command, if_match=if_match))
        return await current(ticket_id, response)

    @router.post("/{ticket_id}/approvals")
    async def post_approval(
        ticket_id: int,
        body: ApprovalRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> TriageView:
        """Sign the plan revision named by `If-Match` (the plan's ETag) or `revision`: a stale
        one is 412, none 428 (both recorded as refusals)."""
        command = SignOff(
            actor_id=principal.actor_id,
            actor_roles=principal.roles,
            role=body.role,
            comment=body.comment,
            revision=body.revision if body.revision is not None else revision_of(if_match),
        )
        decided = await handlers.execute(ticket_id, command)
        _raise_refusal(decided)
        response.status_code = status.HTTP_201_CREATED if decided.outcomes else status.HTTP_200_OK
        return await current(ticket_id)

    @router.post("/{ticket_id}/emergency", status_code=status.HTTP_202_ACCEPTED)
    async def post_emergency(
        ticket_id: int,
        body: EmergencyRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> TriageView:
        command = RequestEmergency(
            actor=caller(principal.actor_id, principal.roles, EMERGENCY_REQUESTERS),
            reason=body.reason,
            held_roles=principal.roles,
        )
        _raise_refusal(await handlers.execute(ticket_id, command, if_match=if_match))
        return await current(ticket_id, response)

    @router.post("/{ticket_id}/follow-ups/{follow_up}")
    async def close_follow_up(
        ticket_id: int,
        follow_up: FollowUp,
        body: FollowUpClose,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> TriageView:
        """Close the fast-track's post-facto audit or postmortem: 201 closed, 200 already."""
        command = CloseFollowUp(
            actor_id=principal.actor_id,
            actor_roles=principal.roles,
            follow_up=follow_up,
            summary=body.summary,
            link=body.link,
        )
        decided = await handlers.execute(ticket_id, command, if_match=if_match)
        _raise_refusal(decided)
        response.status_code = status.HTTP_201_CREATED if decided.outcomes else status.HTTP_200_OK
        return await current(ticket_id, response)

    return router


def _checklist(body: TriageRequest) -> TriageChecklist:
    return TriageChecklist(
        reproduced=body.reproduced,
        affected_versions=tuple(body.affected_versions),
        public_exploit=body.public_exploit,
        workaround=body.workaround,
        api_change=body.api_change,
        effort=body.effort,
        security=body.security,
        change_kind=body.change_kind,
        regression=body.regression,
    )


def _raise_refusal(decided: Decided) -> None:
    if decided.refusal is not None:
        raise HTTPException(_STATUS[decided.refusal.kind], decided.refusal.reason)
