"""The rollout state machine: `decide(state, command, now, policy) -> Decided`. Pure: time
comes in as an argument; the shell loads the stream, decides and appends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from lts_events.actors import Actor, Role
from lts_events.contracts.release.rollout import (
    AnalysisOutcome,
    AnalysisRecorded,
    AnalysisSkipped,
    ReadingSource,
    RollbackAttemptFailed,
    RollbackOverdue,
    RollbackStarted,
    RollbackTrigger,
    RolledBack,
    RolloutAction,
    RolloutCompleted,
    RolloutHalted,
    RolloutPhaseStarted,
    RolloutPromoted,
    RolloutRequestRefused,
    RolloutResumed,
    RolloutStarted,
)
from lts_events.contracts.triage import RefusalKind, RolloutStrategy
from lts_events.event import Event

from lts_release.appending import SERVICE as SERVICE_ACTOR
from lts_release.appending import Outcome
from lts_release.rollout.policy import (
    EMERGENCY_SKIP_ROLES,
    RESUME_ROLES,
    ROLLBACK_ROLES,
    START_ROLES,
    RolloutPolicy,
)
from lts_release.rollout.state import RolloutState

Action = Literal["halt", "rollback"]


# -- commands -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartRollout:
    rollout_id: str
    version: str
    line: str
    previous_safe_version: str | None
    strategy: RolloutStrategy
    actor: Actor = SERVICE_ACTOR
    held_roles: frozenset[Role] = frozenset({Role.AUTOMATION})
    service: str | None = None
    candidate_id: str | None = None
    ticket_ids: tuple[int, ...] = ()
    skip_analysis_reason: str | None = None  # the emergency fast-track only
    fast_track_approved: bool = False  # the plan's emergency fast-track was approved


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation of one check about the rollout's version. `debounced`: the source
    already required the condition to hold over time (an Alertmanager alert has passed its
    rule's `for:`), so it is not a single sample and acts without waiting for a run."""

    check: str
    source: ReadingSource
    outcome: AnalysisOutcome
    critical: bool
    observed_at: datetime
    value: float | None = None
    threshold: float | None = None
    detail: str = ""
    debounced: bool = False


@dataclass(frozen=True, slots=True)
class RecordReading:
    reading: Reading


@dataclass(frozen=True, slots=True)
class PhaseDue:
    phase: int


@dataclass(frozen=True, slots=True)
class Resume:
    actor: Actor
    held_roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class RequestRollback:
    actor: Actor
    held_roles: frozenset[Role]
    reason: str


@dataclass(frozen=True, slots=True)
class RollbackSucceeded:
    withdrawn_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RollbackFailed:
    error: str


@dataclass(frozen=True, slots=True)
class RollbackDeadlinePassed:
    pass


Command = (
    StartRollout
    | RecordReading
    | PhaseDue
    | Resume
    | RequestRollback
    | RollbackSucceeded
    | RollbackFailed
    | RollbackDeadlinePassed
)


# -- decisions ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Refusal:
    kind: RefusalKind
    reason: str


@dataclass(frozen=True, slots=True)
class Decided:
    outcomes: tuple[Outcome, ...] = ()
    refusal: Refusal | None = None

    @property
    def events(self) -> list[Event]:
        return [o.event for o in self.outcomes]


NOTHING = Decided()


@dataclass(frozen=True, slots=True)
class _Ctx:
    rollout_id: str
    now: datetime
    policy: RolloutPolicy
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, event: Event, actor: Actor = SERVICE_ACTOR, reason: str | None = None) -> None:
        self.outcomes.append(Outcome(event, actor, reason))

    def decided(self) -> Decided:
        return Decided(tuple(self.outcomes))


def decide(
    state: RolloutState, command: Command, *, rollout_id: str, now: datetime, policy: RolloutPolicy
) -> Decided:
    ctx = _Ctx(rollout_id, now, policy)
    match command:
        case StartRollout():
            return _start(state, command, ctx)
        case RecordReading():
            return _record(state, command.reading, ctx)
        case PhaseDue():
            return _phase_due(state, command.phase, ctx)
        case Resume():
            return _resume(state, command, ctx)
        case RequestRollback():
            return _manual_rollback(state, command, ctx)
        case RollbackSucceeded() | RollbackFailed() | RollbackDeadlinePassed():
            return _rollback_progress(state, command, ctx)


def _refuse(
    ctx: _Ctx,
    actor: Actor,
    held: frozenset[Role],
    action: RolloutAction,
    kind: RefusalKind,
    reason: str,
) -> Decided:
    refused = RolloutRequestRefused(
        rollout_id=ctx.rollout_id,
        actor=actor.id,
        held_roles=tuple(sorted(held)),
        action=action,
        refusal=kind,
        reason=reason,
        refused_at=ctx.now,
    )
    return Decided((Outcome(refused, actor, reason),), Refusal(kind, reason))


def refuse_stale(
    request: Resume | RequestRollback,
    current_etag: str,
    *,
    rollout_id: str,
    now: datetime,
    policy: RolloutPolicy,
) -> Decided:
    """A request whose `If-Match` names another version than `current_etag`."""
    action: RolloutAction = "resume" if isinstance(request, Resume) else "rollback"
    why = f"the rollout changed since it was read: it is now {current_etag}; read it again"
    ctx = _Ctx(rollout_id, now, policy)
    kind = RefusalKind.PRECONDITION_FAILED
    return _refuse(ctx, request.actor, request.held_roles, action, kind, why)


def _may(held: frozenset[Role], allowed: tuple[Role, ...]) -> bool:
    return bool(held & set(allowed))


# -- start --------------------------------------------------------------------------------
def _start(state: RolloutState, cmd: StartRollout, ctx: _Ctx) -> Decided:
    if state.started is not None:
        return NOTHING  # a redelivered publication or a repeated request
    if not _may(cmd.held_roles, (*START_ROLES, Role.AUTOMATION)):
        roles = ", ".join(START_ROLES)
        return _refuse(
            ctx, cmd.actor, cmd.held_roles, "start", RefusalKind.FORBIDDEN, f"needs {roles}"
        )
    may_skip = cmd.fast_track_approved or _may(cmd.held_roles, EMERGENCY_SKIP_ROLES)
    if cmd.skip_analysis_reason is not None and not may_skip:
        reason = "skipping analysis is the emergency fast-track's, for " + ", ".join(
            EMERGENCY_SKIP_ROLES
        )
        return _refuse(
            ctx, cmd.actor, cmd.held_roles, "skip_analysis", RefusalKind.FORBIDDEN, reason
        )
    safe = cmd.previous_safe_version
    if safe is None or safe == cmd.version:
        reason = f"{cmd.version} has no previous safe version on {cmd.line} to roll back to"
        return _refuse(ctx, cmd.actor, cmd.held_roles, "start", RefusalKind.CONFLICT, reason)
    policy = ctx.policy
    phases = policy.phases_for(cmd.strategy)
    started = RolloutStarted(
        rollout_id=ctx.rollout_id,
        version=cmd.version,
        line=cmd.line,
        candidate_id=cmd.candidate_id,
        ticket_ids=cmd.ticket_ids,
        service=cmd.service,
        previous_safe_version=safe,
        strategy=cmd.strategy,
        phases=phases,
        consecutive_failure_limit=policy.consecutive_failure_limit,
        inconclusive_limit=policy.inconclusive_limit,
        dry_run=policy.dry_run,
        rollback_limit_seconds=policy.rollback_limit_seconds,
        analysis_skipped=cmd.skip_analysis_reason is not None,
        started_at=ctx.now,
    )
    ctx.add(started, cmd.actor, cmd.skip_analysis_reason)
    if cmd.skip_analysis_reason is not None:
        skipped = AnalysisSkipped(
            rollout_id=ctx.rollout_id,
            version=cmd.version,
            skipped_by=cmd.actor.id,
            role=cmd.actor.role,
            reason=cmd.skip_analysis_reason,
            skipped_at=ctx.now,
        )
        ctx.add(skipped, cmd.actor, cmd.skip_analysis_reason)
    _start_phase(started, 0, ctx)
    return ctx.decided()


def _start_phase(started: RolloutStarted, phase: int, ctx: _Ctx) -> None:
    spec = started.phases[phase]
    ctx.add(
        RolloutPhaseStarted(
            rollout_id=ctx.rollout_id,
            version=started.version,
            phase=phase,
            weight=spec.weight,
            started_at=ctx.now,
            analysis_until=ctx.now + timedelta(seconds=spec.duration_seconds),
        )
    )


# -- analysis -----------------------------------------------------------------------------
def _record(state: RolloutState, reading: Reading, ctx: _Ctx) -> Decided:
    started = state.started
    if started is None or state.status not in ("progressing", "halted"):
        return NOTHING  # not a running rollout: nothing to judge
    previous = state.checks.get(reading.check)
    failed = reading.outcome is AnalysisOutcome.FAILED
    failures = (previous.failures if previous else 0) + 1 if failed else 0
    inconclusive = reading.outcome is AnalysisOutcome.INCONCLUSIVE
    run = (previous.inconclusive if previous else 0) + 1 if inconclusive else 0
    action: Action | None = None
    if (
        failed
        and reading.critical
        and (reading.debounced or failures >= started.consecutive_failure_limit)
    ):
        action = "rollback"
    elif (
        run >= started.inconclusive_limit
        and state.status == "progressing"
        and not started.analysis_skipped
    ):
        action = "halt"
    ctx.add(
        AnalysisRecorded(
            rollout_id=ctx.rollout_id,
            version=started.version,
            phase=state.phase,
            check=reading.check,
            source=reading.source,
            outcome=reading.outcome,
            critical=reading.critical,
            value=reading.value,
            threshold=reading.threshold,
            consecutive_failures=failures,
            dry_run=started.dry_run,
            would=action if started.dry_run else None,
            detail=reading.detail,
            recorded_at=ctx.now,
        )
    )
    if started.dry_run or action is None:
        return ctx.decided()
    if action == "rollback":
        why = f"critical check {reading.check} failed" + (
            f": {reading.detail}" if reading.detail else ""
        )
        _start_rollback(
            state, started, why, RollbackTrigger.AUTOMATIC, min(reading.observed_at, ctx.now), ctx
        )
    else:
        _halt(started, state.phase, f"check {reading.check} inconclusive {run} times in a row", ctx)
    return ctx.decided()


def _halt(started: RolloutStarted, phase: int, reason: str, ctx: _Ctx) -> None:
    halted = RolloutHalted(
        rollout_id=ctx.rollout_id,
        version=started.version,
        phase=phase,
        reason=reason,
        halted_at=ctx.now,
    )
    ctx.add(halted, SERVICE_ACTOR, reason)


def _phase_due(state: RolloutState, phase: int, ctx: _Ctx) -> Decided:
    started = state.started
    if started is None or state.status != "progressing" or phase != state.phase:
        return NOTHING  # a timer of a phase already left, or of a halted rollout
    if not (started.dry_run or started.analysis_skipped):
        if failing := state.failing():
            _halt(started, phase, "analysis failed: " + ", ".join(failing), ctx)
            return ctx.decided()
        if unknown := state.inconclusive():
            _halt(started, phase, "analysis inconclusive: " + ", ".join(unknown), ctx)
            return ctx.decided()
    if state.last_phase:
        done = RolloutCompleted(
            rollout_id=ctx.rollout_id,
            version=started.version,
            line=started.line,
            completed_at=ctx.now,
        )
        ctx.add(done)
        return ctx.decided()
    ctx.add(
        RolloutPromoted(
            rollout_id=ctx.rollout_id,
            version=started.version,
            phase=phase,
            weight=started.phases[phase].weight,
            next_weight=started.phases[phase + 1].weight,
            promoted_at=ctx.now,
        )
    )
    _start_phase(started, phase + 1, ctx)
    return ctx.decided()


def _resume(state: RolloutState, cmd: Resume, ctx: _Ctx) -> Decided:
    started = state.started
    if not _may(cmd.held_roles, RESUME_ROLES):
        reason = "needs " + ", ".join(RESUME_ROLES)
        return _refuse(ctx, cmd.actor, cmd.held_roles, "resume", RefusalKind.FORBIDDEN, reason)
    if started is None or state.status != "halted":
        reason = f"only a halted rollout resumes; this one is {state.status}"
        return _refuse(ctx, cmd.actor, cmd.held_roles, "resume", RefusalKind.CONFLICT, reason)
    resumed = RolloutResumed(
        rollout_id=ctx.rollout_id,
        version=started.version,
        phase=state.phase,
        resumed_by=cmd.actor.id,
        role=cmd.actor.role,
        resumed_at=ctx.now,
    )
    ctx.add(resumed, cmd.actor)
    _start_phase(started, state.phase, ctx)  # the phase is watched again, for its duration
    return ctx.decided()


# -- rollback -----------------------------------------------------------------------------
def _start_rollback(
    state: RolloutState,
    started: RolloutStarted,
    reason: str,
    trigger: RollbackTrigger,
    detected_at: datetime,
    ctx: _Ctx,
    actor: Actor = SERVICE_ACTOR,
) -> None:
    rollback = RollbackStarted(
        rollout_id=ctx.rollout_id,
        from_version=started.version,
        to_version=started.previous_safe_version,
        line=started.line,
        candidate_id=started.candidate_id,
        ticket_ids=started.ticket_ids,
        reason=reason,
        trigger=trigger,
        detected_at=detected_at,
        started_at=ctx.now,
        deadline=ctx.now + timedelta(seconds=started.rollback_limit_seconds),
    )
    ctx.add(rollback, actor, reason)


def _manual_rollback(state: RolloutState, cmd: RequestRollback, ctx: _Ctx) -> Decided:
    started = state.started
    if not _may(cmd.held_roles, ROLLBACK_ROLES):
        reason = "needs " + ", ".join(ROLLBACK_ROLES)
        return _refuse(ctx, cmd.actor, cmd.held_roles, "rollback", RefusalKind.FORBIDDEN, reason)
    if started is None or state.status not in ("progressing", "halted", "completed"):
        reason = f"nothing to roll back: this rollout is {state.status}"
        return _refuse(ctx, cmd.actor, cmd.held_roles, "rollback", RefusalKind.CONFLICT, reason)
    _start_rollback(state, started, cmd.reason, RollbackTrigger.MANUAL, ctx.now, ctx, cmd.actor)
    return ctx.decided()


def _rollback_progress(
    state: RolloutState,
    cmd: RollbackSucceeded | RollbackFailed | RollbackDeadlinePassed,
    ctx: _Ctx,
) -> Decided:
    rollback = state.rollback
    if rollback is None or state.status != "rolling_back":
        return NOTHING
    match cmd:
        case RollbackSucceeded():
            ctx.add(
                RolledBack(
                    rollout_id=ctx.rollout_id,
                    from_version=rollback.from_version,
                    to_version=rollback.to_version,
                    line=rollback.line,
                    ticket_ids=rollback.ticket_ids,
                    reason=rollback.reason,
                    trigger=rollback.trigger,
                    withdrawn_from=cmd.withdrawn_from,
                    detected_at=rollback.detected_at,
                    completed_at=ctx.now,
                )
            )
        case RollbackFailed():
            retry = timedelta(seconds=ctx.policy.rollback_retry_seconds)
            ctx.add(
                RollbackAttemptFailed(
                    rollout_id=ctx.rollout_id,
                    attempt=state.attempts + 1,
                    error=cmd.error[:2000],
                    failed_at=ctx.now,
                    retry_at=ctx.now + retry,
                )
            )
        case RollbackDeadlinePassed() if state.overdue is None:
            ctx.add(
                RollbackOverdue(
                    rollout_id=ctx.rollout_id,
                    from_version=rollback.from_version,
                    to_version=rollback.to_version,
                    ticket_ids=rollback.ticket_ids,
                    detected_at=rollback.detected_at,
                    deadline=rollback.deadline,
                    overdue_at=ctx.now,
                    last_error=state.last_error,
                )
            )
    return ctx.decided()
