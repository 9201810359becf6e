"""HTTP routes: authenticate, validate, call the shell. The approval matrix is the domain's.

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal, require_role
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import (
    ApprovalEntry,
    ChangeKind,
    Decision,
    Effort,
    RiskLevel,
    RolloutStrategy,
)
from pydantic import BaseModel, ConfigDict, Field

from lts_triage.domain import (
    Decided,
    RequestEmergency,
    SignOff,
    TicketState,
    TriageTicket,
)
from lts_triage.handlers import TriageHandlers
from lts_triage.policy import Checklist

EMERGENCY_ROLES = (
    Role.TRIAGE_ENGINEER,
    Role.ENGINEERING_LEAD,
    Role.RELEASE_MANAGER,
    Role.MAINTAINER,
)
_STATUS = {"forbidden": 403, "conflict": 409, "not_found": 404}


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
    role: Role
    comment: str = Field(default="", max_length=2000)


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


def status_of(state: TicketState) -> str:
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
    )


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

    def triage_engineer(principal: Authenticated) -> Principal:
        return require_role(Role.TRIAGE_ENGINEER)(principal)

    def emergency_requester(principal: Authenticated) -> Principal:
        return require_role(*EMERGENCY_ROLES)(principal)

    async def current(ticket_id: int) -> TriageView:
        state, _ = await handlers.load(ticket_id)
        if state.received is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "triage has not received this ticket")
        return view_of(state)

    @router.get("/{ticket_id}/triage")
    async def get_triage(ticket_id: int, principal: Authenticated) -> TriageView:
        return await current(ticket_id)

    @router.post("/{ticket_id}/triage")
    async def post_triage(
        ticket_id: int,
        body: TriageRequest,
        principal: Annotated[Principal, Depends(triage_engineer)],
    ) -> TriageView:
        command = TriageTicket(
            actor=principal.acting_as(Role.TRIAGE_ENGINEER),
            severity=body.severity,
            checklist=_checklist(body),
            owner=body.owner,
            comment=body.comment,
        )
        _raise_refusal(await handlers.execute(ticket_id, command))
        return await current(ticket_id)

    @router.post("/{ticket_id}/approvals")
    async def post_approval(
        ticket_id: int, body: ApprovalRequest, principal: Authenticated, response: Response
    ) -> TriageView:
        command = SignOff(
            actor_id=principal.actor_id,
            actor_roles=principal.roles,
            role=body.role,
            comment=body.comment,
        )
        decided = await handlers.execute(ticket_id, command)
        _raise_refusal(decided)
        response.status_code = status.HTTP_201_CREATED if decided.outcomes else status.HTTP_200_OK
        return await current(ticket_id)

    @router.post("/{ticket_id}/emergency", status_code=status.HTTP_202_ACCEPTED)
    async def post_emergency(
        ticket_id: int,
        body: EmergencyRequest,
        principal: Annotated[Principal, Depends(emergency_requester)],
    ) -> TriageView:
        role = next(r for r in EMERGENCY_ROLES if principal.has(r))
        command = RequestEmergency(actor=principal.acting_as(role), reason=body.reason)
        _raise_refusal(await handlers.execute(ticket_id, command))
        return await current(ticket_id)

    return router


def _checklist(body: TriageRequest) -> Checklist:
    return Checklist(
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
