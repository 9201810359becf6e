"""HTTP routes of backports: the gates with their evidence and what is missing; QA and security
sign-offs and the QA exception. Authenticate, validate, call the shell; the rules are the
domain's, and every refusal is recorded there before the 4xx goes out.

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.common import Severity
from lts_events.contracts.release.backports import SignOffKind
from lts_events.contracts.release.ci import CiEvidence, CiStatus, Gate
from lts_events.contracts.triage import RolloutStrategy
from lts_events.http_versions import IfMatch, VersionedRead, etag
from pydantic import BaseModel, ConfigDict, Field

from lts_release.backports.domain import (
    ApproveQaException,
    BackportState,
    Decided,
    SignOff,
    missing,
)
from lts_release.backports.gates import GateReport
from lts_release.backports.handlers import BackportHandlers

_STATUS = {"forbidden": 403, "not_found": 404, "conflict": 409}
LINE_PATH = Path(pattern=r"^\d+\.\d+$", description="An LTS line, e.g. 1.4")


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SignOffRequest(_Body):
    """`commit`: the commit signed (default the patch branch's head; another one is 409)."""

    kind: SignOffKind
    commit: str | None = Field(default=None, min_length=7, max_length=64)
    comment: str = Field(default="", max_length=2000)


class QaExceptionRequest(_Body):
    reason: str = Field(min_length=3, max_length=2000)


class GateView(_Body):
    gate: Gate
    status: str
    commit: str | None
    job: str | None
    ci_status: CiStatus | None
    run_url: str | None
    evidence: CiEvidence | None
    recorded_at: datetime | None


class SignOffView(_Body):
    kind: SignOffKind
    commit: str
    signed_by: str
    signed_at: datetime
    current: bool


class BackportView(_Body):
    ticket_id: int
    line: str
    status: str
    revision: int
    title: str
    cve_ids: list[str]
    target_branch: str
    patch_branch: str
    head_commit: str | None
    tests_required: list[str]
    required_gates: list[Gate]
    emergency: bool
    essential_gates: list[Gate]
    gates: list[GateView]
    security_sign_off_required: bool
    sign_offs: list[SignOffView]
    qa_exception_by: str | None
    missing: list[str]
    rollout_strategy: RolloutStrategy
    severity: Severity | None
    approved_at: datetime
    release_deadline: datetime | None
    release_sla_breached: bool
    ready_at: datetime | None
    candidates: list[str]
    released_in: str | None
    closed_reason: str | None


def status_of(state: BackportState) -> str:
    if state.released is not None:
        return "released"
    if state.closed is not None:
        return "closed"
    if state.awaiting_revision is not None:
        return "awaiting_approval"
    return "ready" if state.ready is not None else "open"


def view_of(state: BackportState, report: GateReport) -> BackportView:
    terms = state.terms
    assert terms is not None
    return BackportView(
        ticket_id=terms.ticket_id,
        line=terms.line,
        status=status_of(state),
        revision=terms.revision,
        title=terms.title,
        cve_ids=list(terms.cve_ids),
        target_branch=terms.target_branch,
        patch_branch=terms.patch_branch,
        head_commit=report.commit,
        tests_required=list(terms.tests_required),
        required_gates=list(terms.required_gates),
        emergency=terms.emergency,
        essential_gates=list(terms.essential_gates),
        gates=[
            GateView(
                gate=g.gate,
                status=g.status.value,
                commit=g.run.commit if g.run else None,
                job=g.run.job if g.run else None,
                ci_status=g.run.status if g.run else None,
                run_url=g.run.run_url if g.run else None,
                evidence=g.run.evidence if g.run else None,
                recorded_at=g.run.recorded_at if g.run else None,
            )
            for g in report.gates
        ],
        security_sign_off_required=terms.security_sign_off_required,
        sign_offs=[
            SignOffView(
                kind=s.kind,
                commit=s.commit,
                signed_by=s.signed_by,
                signed_at=s.signed_at,
                current=s.commit == report.commit,
            )
            for s in state.sign_offs
        ],
        qa_exception_by=state.qa_exception.approved_by if state.qa_exception else None,
        missing=[] if state.ready else list(missing(state, report)),
        rollout_strategy=terms.rollout_strategy,
        severity=terms.severity,
        approved_at=terms.approved_at,
        release_deadline=terms.release_deadline,
        release_sla_breached=state.sla_breached,
        ready_at=state.ready.ready_at if state.ready else None,
        candidates=[i.candidate_id for i in state.included_in],
        released_in=state.released.version if state.released else None,
        closed_reason=state.closed.reason if state.closed else None,
    )


def build_router(handlers: BackportHandlers, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/backports", tags=["backports"])
    Authenticated = Annotated[Principal, Depends(authenticator)]

    async def current(ticket_id: int, line: str) -> tuple[BackportView, int]:
        """The backport's view and its version (the ETag)."""
        state, report, versions = await handlers.load((ticket_id, line))
        if state.terms is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "no backport of this ticket on this line"
            )
        return view_of(state, report), versions.model

    async def answer(ticket_id: int, line: str, response: Response) -> BackportView:
        view, version = await current(ticket_id, line)
        response.headers["ETag"] = etag(version)
        return view

    @router.get("/{ticket_id}/{line}")
    async def get_backport(
        ticket_id: int,
        line: Annotated[str, LINE_PATH],
        principal: Authenticated,
        versioned: VersionedRead,
    ) -> BackportView:
        """Each required gate on the head commit with its evidence, the sign-offs, and what is
        still missing before the backport is ready. Its ETag is the backport's version."""
        view, version = await current(ticket_id, line)
        versioned.answer(version)
        return view

    @router.post("/{ticket_id}/{line}/sign-offs")
    async def post_sign_off(
        ticket_id: int,
        line: Annotated[str, LINE_PATH],
        body: SignOffRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> BackportView:
        """QA (role `qa`) or security (role `security_reviewer`) signs the head commit: 201
        signed, 200 the same sign-off again; 403 without the role, 409 on a closed backport,
        before any CI result, or naming another commit than the head; 412 when `If-Match`
        names another version than the backport's (its ETag)."""
        await current(ticket_id, line)  # a refusal is recorded only on a backport that exists
        command = SignOff(
            kind=body.kind,
            actor_id=principal.actor_id,
            held_roles=principal.roles,
            commit=body.commit,
            comment=body.comment,
        )
        decided = await handlers.execute((ticket_id, line), command, if_match=if_match)
        _raise_refusal(decided)
        response.status_code = status.HTTP_201_CREATED if decided.outcomes else status.HTTP_200_OK
        return await answer(ticket_id, line, response)

    @router.post("/{ticket_id}/{line}/qa-exception")
    async def post_qa_exception(
        ticket_id: int,
        line: Annotated[str, LINE_PATH],
        body: QaExceptionRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> BackportView:
        """An engineering lead's documented exception standing in for the QA sign-off (412
        when `If-Match` names another version than the backport's)."""
        await current(ticket_id, line)
        command = ApproveQaException(
            actor_id=principal.actor_id,
            held_roles=principal.roles,
            reason=body.reason,
        )
        decided = await handlers.execute((ticket_id, line), command, if_match=if_match)
        _raise_refusal(decided)
        response.status_code = status.HTTP_201_CREATED if decided.outcomes else status.HTTP_200_OK
        return await answer(ticket_id, line, response)

    return router


def _raise_refusal(decided: Decided) -> None:
    if decided.refusal is not None:
        raise HTTPException(_STATUS[decided.refusal.kind.value], decided.refusal.reason)
