"""A rollout's state, folded from its stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from lts_events.contracts.release.rollout import (
    AnalysisOutcome,
    AnalysisRecorded,
    CanaryPhase,
    RollbackAttemptFailed,
    RollbackOverdue,
    RollbackStarted,
    RolledBack,
    RolloutCompleted,
    RolloutHalted,
    RolloutPhaseStarted,
    RolloutPromoted,
    RolloutResumed,
    RolloutStarted,
)
from lts_events.event import Event

Status = Literal["none", "progressing", "halted", "rolling_back", "rolled_back", "completed"]


@dataclass(frozen=True, slots=True)
class CheckState:
    """The latest reading of one check and its runs of failed / inconclusive readings."""

    outcome: AnalysisOutcome
    failures: int = 0
    inconclusive: int = 0
    critical: bool = True


@dataclass(frozen=True, slots=True)
class RolloutState:
    started: RolloutStarted | None = None
    status: Status = "none"
    phase: int = 0
    analysis_until: datetime | None = None
    checks: dict[str, CheckState] = field(default_factory=dict)
    halted_reason: str | None = None
    rollback: RollbackStarted | None = None
    rolled_back: RolledBack | None = None
    overdue: RollbackOverdue | None = None
    attempts: int = 0
    last_error: str | None = None
    completed_at: datetime | None = None

    @property
    def phases(self) -> tuple[CanaryPhase, ...]:
        return self.started.phases if self.started else ()

    @property
    def weight(self) -> int:
        if self.status in ("rolling_back", "rolled_back") or not self.phases:
            return 0
        return self.phases[self.phase].weight

    @property
    def last_phase(self) -> bool:
        return self.phase == len(self.phases) - 1

    def failing(self) -> list[str]:
        return sorted(n for n, c in self.checks.items() if c.outcome is AnalysisOutcome.FAILED)

    def inconclusive(self) -> list[str]:
        return sorted(
            n for n, c in self.checks.items() if c.outcome is AnalysisOutcome.INCONCLUSIVE
        )


def evolve(state: RolloutState, event: Event) -> RolloutState:
    match event:
        case RolloutStarted():
            return replace(state, started=event, status="progressing")
        case RolloutPhaseStarted():
            return replace(state, phase=event.phase, analysis_until=event.analysis_until)
        case AnalysisRecorded():
            check = CheckState(
                event.outcome,
                failures=event.consecutive_failures,
                inconclusive=_inconclusive_run(state, event),
                critical=event.critical,
            )
            return replace(state, checks={**state.checks, event.check: check})
        case RolloutHalted():
            return replace(state, status="halted", halted_reason=event.reason)
        case RolloutResumed():
            checks = {n: replace(c, failures=0, inconclusive=0) for n, c in state.checks.items()}
            return replace(state, status="progressing", halted_reason=None, checks=checks)
        case RolloutPromoted():
            return state
        case RolloutCompleted():
            return replace(state, status="completed", completed_at=event.completed_at)
        case RollbackStarted():
            return replace(state, status="rolling_back", rollback=event)
        case RollbackAttemptFailed():
            return replace(state, attempts=event.attempt, last_error=event.error)
        case RollbackOverdue():
            return replace(state, overdue=event)
        case RolledBack():
            return replace(state, status="rolled_back", rolled_back=event)
    return state


def _inconclusive_run(state: RolloutState, event: AnalysisRecorded) -> int:
    if event.outcome is not AnalysisOutcome.INCONCLUSIVE:
        return 0
    previous = state.checks.get(event.check)
    return (previous.inconclusive if previous else 0) + 1


def fold(events: Iterable[Event]) -> RolloutState:
    state = RolloutState()
    for event in events:
        state = evolve(state, event)
    return state
