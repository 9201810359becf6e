"""Staged rollout and rollback of a published release (stream `rollout_stream(rollout_id)`).

Lifecycle: `RolloutStarted` -> `RolloutPhaseStarted{weight}` (deployers set the traffic weight)
-> `AnalysisRecorded`* (health alerts, Prometheus readings) -> on the phase's durable timer,
when its analysis passed, `RolloutPromoted` and the next `RolloutPhaseStarted`, ... ->
`RolloutCompleted` (the version is now the line's safe version). A failed critical check
(after `consecutive_failure_limit` failed readings in a row) starts `RollbackStarted` ->
`RolledBack{from, to, reason, detected_at, completed_at}`; a rollback not completed by its
deadline is `RollbackOverdue`. Analysis that failed a non-critical check or stayed
inconclusive halts the rollout (`RolloutHalted`) until a person resumes it or rolls it back.
An emergency fast-track may skip analysis, recorded as `AnalysisSkipped`. Refused requests
are `RolloutRequestRefused`. Who and why are also in each event's metadata (actor, reason).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.contracts.triage import RefusalKind, RolloutStrategy
from lts_events.event import Event

RolloutId = str
ROLLOUT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$"


def rollout_stream(rollout_id: RolloutId) -> str:
    return f"rollout-{rollout_id}"


class CanaryPhase(BaseModel):
    """One step of a canary: the traffic weight, how long it is watched, and the upper bounds
    (strict `<`) its metrics must stay under, by metric name (e.g. `error_rate`, `p95_ms`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight: int = Field(ge=1, le=100)
    duration_seconds: int = Field(ge=0)
    thresholds: dict[str, float] = Field(default_factory=dict)


class AnalysisOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"  # no data, or the source could not be asked


class ReadingSource(StrEnum):
    HEALTH_ALERT = "health_alert"  # an Alertmanager-style alert on lts.inbound.health
    PROMETHEUS = "prometheus"  # a PromQL query against a phase threshold


class RollbackTrigger(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class RolloutStarted(Event):
    """A published version starts rolling out on its line; `previous_safe_version` is where
    a rollback lands. The policy in force is copied here so that later policy changes do
    not alter a running rollout."""

    type: ClassVar[str] = "lts.release.rollout_started"

    rollout_id: RolloutId
    version: str
    line: str
    candidate_id: str | None = None  # the published candidate (its channels withdraw it)
    ticket_ids: tuple[int, ...] = ()  # the tickets the release ships (their timelines)
    service: str | None = None  # the `service` label health alerts name, if any
    previous_safe_version: str
    strategy: RolloutStrategy
    phases: tuple[CanaryPhase, ...] = Field(min_length=1)
    consecutive_failure_limit: int = Field(ge=1)
    inconclusive_limit: int = Field(ge=1)
    dry_run: bool
    rollback_limit_seconds: int = Field(ge=1)
    analysis_skipped: bool = False
    started_at: datetime


class AnalysisSkipped(Event):
    """The emergency fast-track started a rollout without analysis: flagged for the
    post-facto audit (who, why)."""

    type: ClassVar[str] = "lts.release.analysis_skipped"

    rollout_id: RolloutId
    version: str
    skipped_by: str
    role: Role
    reason: str
    skipped_at: datetime


class RolloutPhaseStarted(Event):
    """Deployers set the new version's traffic weight to `weight` percent."""

    type: ClassVar[str] = "lts.release.rollout_phase_started"

    rollout_id: RolloutId
    version: str
    phase: int = Field(ge=0)
    weight: int = Field(ge=1, le=100)
    started_at: datetime
    analysis_until: datetime


class AnalysisRecorded(Event):
    """One reading of one check in a phase. `consecutive_failures` counts this check's failed
    readings in a row, this one included. In a dry run, `would` names what the analysis
    would have done (halt, roll back) and nothing was done."""

    type: ClassVar[str] = "lts.release.analysis_recorded"

    rollout_id: RolloutId
    version: str
    phase: int = Field(ge=0)
    check: str
    source: ReadingSource
    outcome: AnalysisOutcome
    critical: bool
    value: float | None = None
    threshold: float | None = None
    consecutive_failures: int = Field(ge=0)
    dry_run: bool = False
    would: Literal["halt", "rollback"] | None = None
    detail: str = ""
    recorded_at: datetime


class RolloutPromoted(Event):
    """The phase's analysis passed over its duration: the rollout moves on."""

    type: ClassVar[str] = "lts.release.rollout_promoted"

    rollout_id: RolloutId
    version: str
    phase: int = Field(ge=0)
    weight: int
    next_weight: int
    promoted_at: datetime


class RolloutCompleted(Event):
    """Every phase passed: the version serves all traffic and is the line's safe version."""

    type: ClassVar[str] = "lts.release.rollout_completed"

    rollout_id: RolloutId
    version: str
    line: str
    completed_at: datetime


class RolloutHalted(Event):
    """The rollout stays at its phase's weight until a person resumes or rolls it back."""

    type: ClassVar[str] = "lts.release.rollout_halted"

    rollout_id: RolloutId
    version: str
    phase: int = Field(ge=0)
    reason: str
    halted_at: datetime


class RolloutResumed(Event):
    """A halted rollout goes on: its phase is watched again for the phase's duration."""

    type: ClassVar[str] = "lts.release.rollout_resumed"

    rollout_id: RolloutId
    version: str
    phase: int = Field(ge=0)
    resumed_by: str
    role: Role
    resumed_at: datetime


class RollbackStarted(Event):
    """Deployers move all traffic back to `to_version` (the previous safe version); the
    channels yank or mark `from_version` unsafe. Due by `deadline`."""

    type: ClassVar[str] = "lts.release.rollback_started"

    rollout_id: RolloutId
    from_version: str
    to_version: str
    line: str
    candidate_id: str | None = None
    ticket_ids: tuple[int, ...] = ()
    reason: str
    trigger: RollbackTrigger
    detected_at: datetime
    started_at: datetime
    deadline: datetime


class RolledBack(Event):
    """`to_version` serves again and `from_version` was withdrawn from `withdrawn_from`
    (the channels that could yank or mark it unsafe)."""

    type: ClassVar[str] = "lts.release.rolled_back"

    rollout_id: RolloutId
    from_version: str
    to_version: str
    line: str
    ticket_ids: tuple[int, ...] = ()
    reason: str
    trigger: RollbackTrigger
    withdrawn_from: tuple[str, ...] = ()
    detected_at: datetime
    completed_at: datetime


class RollbackOverdue(Event):
    """The rollback was not completed within the policy's limit; it goes on being retried."""

    type: ClassVar[str] = "lts.release.rollback_overdue"

    rollout_id: RolloutId
    from_version: str
    to_version: str
    ticket_ids: tuple[int, ...] = ()
    detected_at: datetime
    deadline: datetime
    overdue_at: datetime
    last_error: str | None = None


class RollbackAttemptFailed(Event):
    """A channel could not re-promote or withdraw yet; retried after `retry_at`."""

    type: ClassVar[str] = "lts.release.rollback_attempt_failed"

    rollout_id: RolloutId
    attempt: int = Field(ge=1)
    error: str
    failed_at: datetime
    retry_at: datetime


RolloutAction = Literal["start", "rollback", "resume", "skip_analysis"]


class RolloutRequestRefused(Event):
    """A request on a rollout that was refused, recorded for the audit."""

    type: ClassVar[str] = "lts.release.rollout_request_refused"

    rollout_id: RolloutId
    actor: str
    held_roles: tuple[Role, ...]
    action: RolloutAction
    refusal: RefusalKind
    reason: str
    refused_at: datetime
