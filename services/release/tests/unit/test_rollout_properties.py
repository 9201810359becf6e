"""Properties of the rollout state machine over arbitrary command sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from lts_events.actors import Actor, Role
from lts_events.contracts.release.rollout import (
    AnalysisOutcome,
    AnalysisRecorded,
    CanaryPhase,
    ReadingSource,
    RollbackStarted,
    RolledBack,
    RolloutHalted,
    RolloutPhaseStarted,
    RolloutPromoted,
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
from lts_release.rollout.policy import RolloutPolicy
from lts_release.rollout.state import RolloutState, evolve

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
SRE = Actor(id="sam", role=Role.SRE)
PHASES = (
    CanaryPhase(weight=1, duration_seconds=60),
    CanaryPhase(weight=10, duration_seconds=60),
    CanaryPhase(weight=100, duration_seconds=0),
)

readings = st.builds(
    lambda check, outcome, critical, debounced: RecordReading(
        Reading(check, ReadingSource.PROMETHEUS, outcome, critical, T0, debounced=debounced)
    ),
    st.sampled_from(["metric:error_rate", "metric:p95_ms", "alert:Down"]),
    st.sampled_from(list(AnalysisOutcome)),
    st.booleans(),
    st.booleans(),
)
commands = st.one_of(
    readings,
    st.builds(PhaseDue, st.integers(0, 2)),
    st.just(Resume(SRE, frozenset({Role.SRE}))),
    st.just(RequestRollback(SRE, frozenset({Role.SRE}), "by hand")),
    st.just(RollbackSucceeded(("pypi",))),
    st.just(RollbackFailed("down")),
    st.just(RollbackDeadlinePassed()),
)
policies = st.builds(
    lambda limit, inconclusive, dry_run: RolloutPolicy(
        phases=PHASES,
        consecutive_failure_limit=limit,
        inconclusive_limit=inconclusive,
        dry_run=dry_run,
    ),
    st.integers(1, 3),
    st.integers(1, 3),
    st.booleans(),
)


def replay(policy: RolloutPolicy, script: list[Command]) -> list[tuple[RolloutState, list[Event]]]:
    """(state before, events decided) for every command after the start."""
    state, now, steps = RolloutState(), T0, []
    start = StartRollout("2.0.1", "2.0.1", "2.0", "2.0.0", RolloutStrategy.STAGED_CANARY)
    for command in [start, *script]:
        now += timedelta(seconds=30)
        events = decide(state, command, rollout_id="2.0.1", now=now, policy=policy).events
        steps.append((state, events))
        for event in events:
            state = evolve(state, event)
    return steps[1:]


@settings(max_examples=300, deadline=None)
@given(policies, st.lists(commands, max_size=30))
def test_a_rollback_always_lands_on_the_safe_version(
    policy: RolloutPolicy, script: list[Command]
) -> None:
    for _, events in replay(policy, script):
        for event in events:
            if isinstance(event, RollbackStarted | RolledBack):
                assert event.to_version == "2.0.0"
                assert event.from_version == "2.0.1"


@settings(max_examples=300, deadline=None)
@given(policies.filter(lambda p: not p.dry_run), st.lists(commands, max_size=30))
def test_no_phase_advances_on_failed_analysis(policy: RolloutPolicy, script: list[Command]) -> None:
    for before, events in replay(policy, script):
        if any(isinstance(e, RolloutPromoted) for e in events):
            assert before.failing() == []
            assert before.inconclusive() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(commands.filter(lambda c: isinstance(c, RecordReading | PhaseDue)), max_size=30))
def test_a_dry_run_never_acts(script: list[Command]) -> None:
    policy = RolloutPolicy(phases=PHASES, consecutive_failure_limit=1, dry_run=True)
    for _, events in replay(policy, script):
        assert not any(isinstance(e, RollbackStarted | RolloutHalted) for e in events)
        assert all(e.dry_run for e in events if isinstance(e, AnalysisRecorded))


@settings(max_examples=200, deadline=None)
@given(policies, st.lists(commands, max_size=30))
def test_weights_only_rise_until_a_rollback(policy: RolloutPolicy, script: list[Command]) -> None:
    weights = [
        e.weight
        for _, events in replay(policy, script)
        for e in events
        if isinstance(e, RolloutPhaseStarted)
    ]
    assert weights == sorted(weights)
