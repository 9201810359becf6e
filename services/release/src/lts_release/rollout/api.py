"""HTTP routes of rollouts: start (until publications start them), read, roll back, resume,
and the gates progressive-delivery controllers ask (Flagger webhooks, Argo web metric).

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

import logging
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.responses import JSONResponse
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.release.rollout import (
    ROLLOUT_ID_PATTERN,
    AnalysisOutcome,
    RollbackTrigger,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.http_versions import IfMatch, VersionedRead, etag
from pydantic import BaseModel, ConfigDict, Field

from lts_release.rollout.gates import FlaggerHook, flagger_verdict, healthy
from lts_release.rollout.handlers import RolloutHandlers
from lts_release.rollout.machine import Decided, RequestRollback, Resume, StartRollout
from lts_release.rollout.policy import RESUME_ROLES, ROLLBACK_ROLES, START_ROLES
from lts_release.rollout.state import RolloutState

log = logging.getLogger(__name__)

_STATUS = {"forbidden": 403, "conflict": 409}
_ROLLOUT_ID = re.compile(ROLLOUT_ID_PATTERN)
RolloutIdPath = Annotated[str, Field(pattern=ROLLOUT_ID_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StartRequest(_Body):
    """Start a rollout by hand (a publication starts one by itself). The rollout's id is the
    version. `emergency_reason` skips analysis: the emergency fast-track only, audited."""

    version: str = Field(pattern=ROLLOUT_ID_PATTERN)
    line: str = Field(min_length=1, max_length=50)
    previous_safe_version: str = Field(min_length=1, max_length=100)
    strategy: RolloutStrategy = RolloutStrategy.STAGED_CANARY
    service: str | None = Field(default=None, min_length=1, max_length=200)
    emergency_reason: str | None = Field(default=None, min_length=3, max_length=2000)


class RollbackRequest(_Body):
    reason: str = Field(min_length=3, max_length=2000)


class CheckView(_Body):
    check: str
    outcome: AnalysisOutcome
    critical: bool
    consecutive_failures: int


class RollbackView(_Body):
    from_version: str
    to_version: str
    reason: str
    trigger: RollbackTrigger
    detected_at: datetime
    started_at: datetime
    deadline: datetime
    completed_at: datetime | None
    overdue: bool
    attempts: int
    last_error: str | None


class RolloutView(_Body):
    rollout_id: str
    version: str
    line: str
    service: str | None
    previous_safe_version: str
    strategy: RolloutStrategy
    status: str
    phase: int
    phases: int
    weight: int
    analysis_until: datetime | None
    dry_run: bool
    analysis_skipped: bool
    checks: list[CheckView]
    halted_reason: str | None
    rollback: RollbackView | None
    completed_at: datetime | None


class FlaggerPayload(BaseModel):
    """What Flagger POSTs to a webhook (`CanaryWebhookPayload`); `metadata.version` names the
    rollout."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    namespace: str
    phase: str
    checksum: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class GateAnswer(_Body):
    go: bool
    reason: str
    status: str | None  # None: no rollout looked up (an `event` hook names none)
    weight: int | None


class WebMetric(_Body):
    """Argo Rollouts' web metric reads `success` (`jsonPath: "{$.success}"`)."""

    success: bool
    reason: str
    status: str
    phase: int
    weight: int


def view_of(rollout_id: str, state: RolloutState) -> RolloutView:
    started = state.started
    assert started is not None
    return RolloutView(
        rollout_id=rollout_id,
        version=started.version,
        line=started.line,
        service=started.service,
        previous_safe_version=started.previous_safe_version,
        strategy=started.strategy,
        status=state.status,
        phase=state.phase,
        phases=len(started.phases),
        weight=state.weight,
        analysis_until=state.analysis_until,
        dry_run=started.dry_run,
        analysis_skipped=started.analysis_skipped,
        checks=[
            CheckView(
                check=name,
                outcome=check.outcome,
                critical=check.critical,
                consecutive_failures=check.failures,
            )
            for name, check in sorted(state.checks.items())
        ],
        halted_reason=state.halted_reason,
        rollback=_rollback_view(state),
        completed_at=state.completed_at,
    )


def _rollback_view(state: RolloutState) -> RollbackView | None:
    rollback = state.rollback
    if rollback is None:
        return None
    return RollbackView(
        from_version=rollback.from_version,
        to_version=rollback.to_version,
        reason=rollback.reason,
        trigger=rollback.trigger,
        detected_at=rollback.detected_at,
        started_at=rollback.started_at,
        deadline=rollback.deadline,
        completed_at=state.rolled_back.completed_at if state.rolled_back else None,
        overdue=state.overdue is not None,
        attempts=state.attempts,
        last_error=state.last_error,
    )


def build_router(handlers: RolloutHandlers, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/rollouts", tags=["rollout"])
    Authenticated = Annotated[Principal, Depends(authenticator)]

    async def current(rollout_id: str, response: Response | None = None) -> RolloutState:
        """The rollout; its version (the ETag) goes on `response`."""
        state, versions = await handlers.load(rollout_id)
        if state.started is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rollout {rollout_id}")
        if response is not None:
            response.headers["ETag"] = etag(versions.model)
        return state

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def start(
        body: StartRequest, principal: Authenticated, response: Response
    ) -> RolloutView:
        command = StartRollout(
            rollout_id=body.version,
            version=body.version,
            line=body.line,
            previous_safe_version=body.previous_safe_version,
            strategy=body.strategy,
            actor=principal.acting_as(_role(principal, START_ROLES)),
            held_roles=principal.roles,
            service=body.service,
            skip_analysis_reason=body.emergency_reason,
        )
        decided = await handlers.execute(body.version, [command])
        _raise_refusal(decided)
        if not decided.outcomes:
            response.status_code = status.HTTP_200_OK  # already started
        return view_of(body.version, await current(body.version, response))

    @router.get("/{rollout_id}")
    async def get_rollout(
        rollout_id: RolloutIdPath, principal: Authenticated, versioned: VersionedRead
    ) -> RolloutView:
        """The rollout; its ETag is its version, which `If-Match` on a rollback or a resume
        names."""
        state, versions = await handlers.load(rollout_id)
        if state.started is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rollout {rollout_id}")
        versioned.answer(versions.model)
        return view_of(rollout_id, state)

    @router.post("/{rollout_id}/rollback", status_code=status.HTTP_202_ACCEPTED)
    async def rollback(
        rollout_id: RolloutIdPath,
        body: RollbackRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> RolloutView:
        """Roll back by hand (SRE or release manager, with a reason): 202, the channels act
        next; `rollback.completed_at` tells when it is done. 412 when `If-Match` names another
        version than the rollout's."""
        await current(rollout_id)
        command = RequestRollback(
            principal.acting_as(_role(principal, ROLLBACK_ROLES)), principal.roles, body.reason
        )
        _raise_refusal(await handlers.execute(rollout_id, [command], if_match=if_match))
        return view_of(rollout_id, await current(rollout_id, response))

    @router.post("/{rollout_id}/resume")
    async def resume(
        rollout_id: RolloutIdPath, principal: Authenticated, response: Response, if_match: IfMatch
    ) -> RolloutView:
        """Resume a halted rollout (412 when `If-Match` names another version)."""
        await current(rollout_id)
        command = Resume(principal.acting_as(_role(principal, RESUME_ROLES)), principal.roles)
        _raise_refusal(await handlers.execute(rollout_id, [command], if_match=if_match))
        return view_of(rollout_id, await current(rollout_id, response))

    @router.get("/{rollout_id}/analysis")
    async def web_metric(rollout_id: RolloutIdPath, principal: Authenticated) -> WebMetric:
        """Argo Rollouts' web metric provider: `success` while the analysis holds."""
        state = await current(rollout_id)
        verdict = healthy(state)
        return WebMetric(
            success=verdict.go,
            reason=verdict.reason,
            status=state.status,
            phase=state.phase,
            weight=state.weight,
        )

    @router.post("/flagger/webhooks/{hook}", response_model=GateAnswer)
    async def flagger(hook: FlaggerHook, payload: FlaggerPayload) -> JSONResponse:
        """A Flagger webhook: 200 = go, 412 = halt (for `rollback`: 200 = roll back). The
        rollout is the one of the version in `metadata.version`. Unauthenticated, as Flagger
        sends no credentials: it only reads a verdict. An `event` hook is acknowledged: its
        metadata is the canary's Kubernetes event (`eventType`, `eventMessage`, `timestamp`),
        not the hook's map, so it names no rollout, and Flagger only logs a failure."""
        if hook == "event":
            event = payload.metadata
            noted = f"{event.get('eventType', '')}: {event.get('eventMessage', '')}"[:300]
            log.info("flagger event for %s.%s: %s", payload.name, payload.namespace, noted)
            answer = GateAnswer(go=True, reason="event noted", status=None, weight=None)
            return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_200_OK)
        version = payload.metadata.get("version")
        if not version:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                "metadata.version: the webhook's metadata must name the version rolled out",
            )
        if not _ROLLOUT_ID.fullmatch(version):
            # the Canary's own map, templated by whoever writes it: a NUL in it used to reach
            # PostgreSQL as part of the stream name (500)
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                "metadata.version: not a version (letters, digits and . _ + -, at most 100)",
            )
        state = await current(version)
        verdict = flagger_verdict(state, hook)
        answer = GateAnswer(
            go=verdict.go, reason=verdict.reason, status=state.status, weight=state.weight
        )
        code = status.HTTP_200_OK if verdict.go else status.HTTP_412_PRECONDITION_FAILED
        return JSONResponse(answer.model_dump(mode="json"), status_code=code)

    return router


def _role(principal: Principal, preferred: tuple[Role, ...]) -> Role:
    """The role a caller acts in: the first preferred one they hold, else one they hold."""
    held = principal.roles
    return next((r for r in preferred if r in held), None) or min(held, default=Role.REQUESTER)


def _raise_refusal(decided: Decided) -> None:
    if decided.refusal is not None:
        raise HTTPException(_STATUS[decided.refusal.kind], decided.refusal.reason)
