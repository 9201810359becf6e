"""The rollout policy: canary phases with their thresholds, analysis limits and the rollback
deadline. Defaults are the runbook's seed 003."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lts_events.actors import Role
from lts_events.contracts.release.rollout import CanaryPhase
from lts_events.contracts.triage import RolloutStrategy

_HOUR = 3600

SEED_PHASES: tuple[CanaryPhase, ...] = (
    CanaryPhase(
        weight=1, duration_seconds=24 * _HOUR, thresholds={"error_rate": 0.001, "p95_ms": 200}
    ),
    CanaryPhase(weight=10, duration_seconds=48 * _HOUR, thresholds={"error_rate": 0.0005}),
    CanaryPhase(weight=50, duration_seconds=72 * _HOUR),
    CanaryPhase(weight=100, duration_seconds=0),
)
"""Seed 003: canary 1% for 24 h (error rate < 0.1%, p95 < 200 ms), 10% for 48 h (error rate
< 0.05%), 50% for 72 h, then 100%."""

ROLLBACK_ROLES: tuple[Role, ...] = (Role.SRE, Role.RELEASE_MANAGER)
"""Who may roll back by hand (runbook: SRE executes, release manager coordinates)."""

RESUME_ROLES: tuple[Role, ...] = (Role.SRE, Role.RELEASE_MANAGER)
START_ROLES: tuple[Role, ...] = (Role.RELEASE_MANAGER,)
EMERGENCY_SKIP_ROLES: tuple[Role, ...] = (Role.RELEASE_MANAGER, Role.ENGINEERING_LEAD)
"""Who may start a rollout without analysis (the emergency fast-track's approvers)."""


@dataclass(frozen=True, slots=True)
class RolloutPolicy:
    phases: tuple[CanaryPhase, ...] = SEED_PHASES
    immediate_watch_seconds: int = _HOUR
    consecutive_failure_limit: int = 2
    inconclusive_limit: int = 3
    dry_run: bool = False
    rollback_limit_seconds: int = 300
    rollback_retry_seconds: int = 10
    critical_severities: frozenset[str] = field(default_factory=lambda: frozenset({"critical"}))

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a canary needs at least one phase")
        weights = [p.weight for p in self.phases]
        if weights != sorted(weights) or weights[-1] != 100:
            raise ValueError(f"canary weights must rise to 100, not {weights}")

    def phases_for(self, strategy: RolloutStrategy) -> tuple[CanaryPhase, ...]:
        """An immediate rollout is one phase at 100%, watched with the last phase's thresholds."""
        if strategy is RolloutStrategy.IMMEDIATE:
            last = self.phases[-1]
            return (
                CanaryPhase(
                    weight=100,
                    duration_seconds=self.immediate_watch_seconds,
                    thresholds=last.thresholds,
                ),
            )
        return self.phases


def phase_thresholds(phases: Sequence[CanaryPhase], phase: int) -> dict[str, float]:
    return dict(phases[phase].thresholds) if 0 <= phase < len(phases) else {}
