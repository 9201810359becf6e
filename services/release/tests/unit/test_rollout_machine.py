"""The rollout state machine: phases on passing analysis, consecutive failures, dry run,
inconclusive readings, the emergency skip, manual and automatic rollback and its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_events.actors import Actor, Role
from lts_events.contracts.release.rollout import (
    AnalysisOutcome,
    AnalysisRecorded,
    AnalysisSkipped,
    CanaryPhase,
    ReadingSource,
    RollbackOverdue,
    RollbackStarted,
    RollbackTrigger,
    RolledBack,
    RolloutCompleted,
    RolloutHalted,
    RolloutPhaseStarted,
    RolloutPromoted,
    RolloutRequestRefused,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.event import Event
from lts_release.rollout.machine import (
    Command,
    PhaseDue,
    Reading,
    RecordReading,
    RequestRollback,
    Resume,
    RollbackDeadlinePassed,
    RollbackFailed,
    RollbackSucceeded,
    StartRollout,
    decide,
)
from lts_release.rollout.policy import SEED_PHASES, RolloutPolicy
from lts_release.rollout.state import RolloutState, evolve

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
POLICY = RolloutPolicy()
SRE = Actor(id="sam", role=Role.SRE)
QA = Actor(id="quinn", role=Role.QA)
START = StartRollout("1.4.8", "1.4.8", "1.4", "1.4.7", RolloutStrategy.STAGED_CANARY)


class Run:
    """A rollout driven command by command, its events kept as the store would."""

    def __init__(self, policy: RolloutPolicy = POLICY) -> None:
        self.policy = policy
        self.state = RolloutState()
        self.events: list[Event] = []
        self.now = T0

    def do(self, command: Command, *, after: timedelta = timedelta()) -> list[Event]:
        self.now += after
        decided = decide(self.state, command, rollout_id="1.4.8", now=self.now, policy=self.policy)
        for event in decided.events:
            self.state = evolve(self.state, event)
        self.events += decided.events
        return decided.events

    def due(self) -> list[Event]:
        until = self.state.analysis_until
        assert until is not None
        self.now = max(self.now, until)
        return self.do(PhaseDue(self.state.phase))


def reading(
    outcome: AnalysisOutcome,
    *,
    check: str = "metric:error_rate",
    debounced: bool = False,
    critical: bool = True,
) -> RecordReading:
    return RecordReading(
        Reading(check, ReadingSource.PROMETHEUS, outcome, critical, T0, debounced=debounced)
    )


PASS, FAIL, UNKNOWN = AnalysisOutcome.PASSED, AnalysisOutcome.FAILED, AnalysisOutcome.INCONCLUSIVE


def test_a_canary_starts_at_the_seed_first_phase_weight() -> None:
    run = Run()

    events = run.do(START)

    phase = events[-1]
    assert isinstance(phase, RolloutPhaseStarted)
    assert (phase.weight, phase.analysis_until) == (1, T0 + timedelta(hours=24))


def test_passing_analysis_walks_the_seed_phases_to_completion() -> None:
    run = Run()
    run.do(START)

    weights = []
    while run.state.status == "progressing":
        run.do(reading(PASS))
        weights += [e.weight for e in run.due() if isinstance(e, RolloutPhaseStarted)]

    assert weights == [10, 50, 100]
    assert isinstance(run.events[-1], RolloutCompleted)


def test_an_immediate_rollout_is_one_phase_at_full_weight() -> None:
    run = Run()

    events = run.do(StartRollout("1.4.8", "1.4.8", "1.4", "1.4.7", RolloutStrategy.IMMEDIATE))

    assert [e.weight for e in events if isinstance(e, RolloutPhaseStarted)] == [100]


def test_one_flaky_reading_does_not_roll_back() -> None:
    run = Run()
    run.do(START)

    run.do(reading(FAIL))
    run.do(reading(PASS))
    events = run.do(reading(FAIL))

    assert not any(isinstance(e, RollbackStarted) for e in run.events)
    assert isinstance(events[0], AnalysisRecorded)
    assert events[0].consecutive_failures == 1


def test_consecutive_failures_up_to_the_limit_roll_back_to_the_safe_version() -> None:
    run = Run()
    run.do(START, after=timedelta(minutes=1))

    run.do(reading(FAIL))
    events = run.do(reading(FAIL))

    rollback = events[-1]
    assert isinstance(rollback, RollbackStarted)
    assert (rollback.from_version, rollback.to_version) == ("1.4.8", "1.4.7")
    assert rollback.deadline == run.now + timedelta(minutes=5)


def test_a_debounced_critical_alert_rolls_back_at_once() -> None:
    run = Run()
    run.do(START)

    events = run.do(reading(FAIL, check="alert:HighErrorRate", debounced=True))

    assert isinstance(events[-1], RollbackStarted)
    assert events[-1].trigger is RollbackTrigger.AUTOMATIC


def test_a_non_critical_failure_holds_the_phase_without_rolling_back() -> None:
    run = Run()
    run.do(START)
    run.do(reading(FAIL, check="alert:SlowDisk", critical=False, debounced=True))

    events = run.due()

    assert [type(e) for e in events] == [RolloutHalted]
    assert run.state.weight == 1


def test_inconclusive_readings_halt_at_the_limit() -> None:
    run = Run(RolloutPolicy(inconclusive_limit=2))
    run.do(START)

    run.do(reading(UNKNOWN))
    events = run.do(reading(UNKNOWN))

    assert isinstance(events[-1], RolloutHalted)


def test_a_dry_run_records_what_it_would_do_and_does_nothing() -> None:
    run = Run(RolloutPolicy(dry_run=True))
    run.do(START)

    run.do(reading(FAIL))
    events = run.do(reading(FAIL))

    assert [type(e) for e in events] == [AnalysisRecorded]
    assert events[0].would == "rollback"  # type: ignore[attr-defined]
    assert [type(e) for e in run.due()] == [RolloutPromoted, RolloutPhaseStarted]


def test_skipping_analysis_needs_the_emergency_approvers_and_is_audited() -> None:
    run = Run()
    sre_skip = StartRollout(
        "1.4.8",
        "1.4.8",
        "1.4",
        "1.4.7",
        RolloutStrategy.STAGED_CANARY,
        actor=SRE,
        held_roles=frozenset({Role.SRE}),
        skip_analysis_reason="outage",
    )
    manager = Actor(id="rita", role=Role.RELEASE_MANAGER)
    manager_skip = StartRollout(
        "1.4.8",
        "1.4.8",
        "1.4",
        "1.4.7",
        RolloutStrategy.STAGED_CANARY,
        actor=manager,
        held_roles=frozenset({Role.RELEASE_MANAGER}),
        skip_analysis_reason="P0",
    )

    refused = run.do(sre_skip)
    started = run.do(manager_skip)
    run.do(reading(FAIL, critical=False))

    assert isinstance(refused[0], RolloutRequestRefused)
    assert any(isinstance(e, AnalysisSkipped) and e.skipped_by == "rita" for e in started)
    assert RolloutPromoted in [type(e) for e in run.due()]


def test_a_release_without_a_previous_safe_version_is_not_rolled_out() -> None:
    run = Run()

    events = run.do(StartRollout("1.5.0", "1.5.0", "1.5", None, RolloutStrategy.STAGED_CANARY))

    assert isinstance(events[0], RolloutRequestRefused)
    assert run.state.status == "none"


def test_manual_rollback_needs_sre_or_release_manager() -> None:
    run = Run()
    run.do(START)

    refused = run.do(RequestRollback(QA, frozenset({Role.QA}), "looks odd"))
    done = run.do(RequestRollback(SRE, frozenset({Role.SRE}), "customer reports"))

    assert isinstance(refused[0], RolloutRequestRefused)
    assert isinstance(done[0], RollbackStarted)
    assert done[0].trigger is RollbackTrigger.MANUAL
    assert done[0].reason == "customer reports"


def test_a_halted_rollout_resumes_its_phase() -> None:
    run = Run(RolloutPolicy(inconclusive_limit=1))
    run.do(START)
    run.do(reading(UNKNOWN))

    events = run.do(Resume(SRE, frozenset({Role.SRE})), after=timedelta(hours=1))

    phase = events[-1]
    assert isinstance(phase, RolloutPhaseStarted)
    assert (phase.phase, phase.analysis_until) == (0, run.now + timedelta(hours=24))


def test_a_rollback_completes_with_its_times() -> None:
    run = Run()
    run.do(START)
    run.do(reading(FAIL, debounced=True), after=timedelta(minutes=3))

    events = run.do(RollbackSucceeded(("pypi",)), after=timedelta(minutes=2))

    done = events[0]
    assert isinstance(done, RolledBack)
    assert (done.from_version, done.to_version, done.withdrawn_from) == (
        "1.4.8",
        "1.4.7",
        ("pypi",),
    )
    assert (done.detected_at, done.completed_at) == (T0, T0 + timedelta(minutes=5))


def test_a_rollback_not_done_by_its_deadline_is_overdue_once() -> None:
    run = Run()
    run.do(START)
    run.do(reading(FAIL, debounced=True))
    run.do(RollbackFailed("index unreachable"))

    first = run.do(RollbackDeadlinePassed(), after=timedelta(minutes=5))
    second = run.do(RollbackDeadlinePassed())

    assert [type(e) for e in first] == [RollbackOverdue]
    assert first[0].last_error == "index unreachable"  # type: ignore[attr-defined]
    assert second == []


def test_a_completed_rollback_is_never_overdue() -> None:
    run = Run()
    run.do(START)
    run.do(reading(FAIL, debounced=True))
    run.do(RollbackSucceeded())

    assert run.do(RollbackDeadlinePassed(), after=timedelta(minutes=6)) == []


def test_policy_refuses_weights_that_do_not_reach_full_traffic() -> None:
    import pytest

    with pytest.raises(ValueError, match="rise to 100"):
        RolloutPolicy(phases=(CanaryPhase(weight=50, duration_seconds=1),))
    assert SEED_PHASES[-1].weight == 100
