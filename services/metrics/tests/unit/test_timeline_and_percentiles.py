"""Timeline ordering, summaries, percentiles and audit naming: pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from lts_events.event import REGISTRY
from lts_metrics.audit import audited_class, service_of
from lts_metrics.percentiles import of_sorted, of_sorted_runs, percentile_cont
from lts_metrics.timeline import TimelineEntry, ordered, summarize

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def entry(at: datetime, sequence: int, type_: str = "lts.triage.x") -> TimelineEntry:
    return TimelineEntry(
        ticket_id=1,
        sequence=sequence,
        event_id=str(sequence),
        occurred_at=at,
        event_type=type_,
        source_service="triage",
        actor_id="a",
        actor_role="qa",
        reason=None,
        summary="",
    )


def test_timeline_is_ordered_by_time_then_by_arrival() -> None:
    late_arrival_earlier_event = entry(T0, 9)
    first = entry(T0 + timedelta(seconds=1), 1)
    tie_a, tie_b = entry(T0 + timedelta(seconds=2), 3), entry(T0 + timedelta(seconds=2), 2)

    result = ordered([first, tie_a, late_arrival_earlier_event, tie_b])

    assert [e.sequence for e in result] == [9, 1, 2, 3]


def test_summary_names_the_event_and_its_telling_fields() -> None:
    summary = summarize(
        "lts.triage.backport_planned",
        {"revision": 2, "target_branches": ["release-lts/v1.4", "release-lts/v1.3"], "x": 1},
    )

    assert summary == (
        "backport_planned: revision=2, target_branches=[release-lts/v1.4, release-lts/v1.3]"
    )


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([10.0], 0.95, 10.0),
        ([5.0, 1.0, 3.0], 0.0, 1.0),
        ([5.0, 1.0, 3.0], 1.0, 5.0),
    ],
)
def test_percentiles_interpolate_like_postgres_percentile_cont(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile_cont(values, fraction) == pytest.approx(expected)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile_cont([], 0.5) is None
    assert of_sorted_runs([[], []], 0.5) is None


def test_percentiles_of_sorted_runs_are_those_of_the_runs_merged() -> None:
    """Time-to-release over all lines bisects the lines' sorted durations instead of merging
    them: the same figures, to the bit, with ties across and within runs and empty runs."""
    rng = random.Random(11)
    for _ in range(300):
        runs = [
            sorted(
                float(rng.randint(0, 6)) if rng.random() < 0.4 else rng.uniform(0, 6)
                for _ in range(rng.randint(0, 25))
            )
            for _ in range(rng.randint(1, 5))
        ]
        merged = sorted(value for run in runs for value in run)
        for fraction in (0.0, 0.5, 0.9, 0.95, 1.0):
            assert of_sorted_runs(runs, fraction) == of_sorted(merged, fraction), (runs, fraction)


@pytest.mark.parametrize(
    ("topic", "service"),
    [
        ("lts.intake.events", "intake"),
        ("e2e-1.lts.triage.events", "triage"),
        ("lts.inbound.alerts", "lts.inbound.alerts"),
    ],
)
def test_the_source_service_comes_from_the_topic(topic: str, service: str) -> None:
    assert service_of(topic) == service


def test_audit_copies_of_unknown_types_do_not_enter_the_registry() -> None:
    cls = audited_class("lts.future.thing_happened", 4)

    copy = cls.model_validate({"a": 1, "nested": {"b": [1, 2]}})

    assert (copy.type, copy.schema_version) == ("lts.future.thing_happened", 4)
    assert copy.to_data() == {"a": 1, "nested": {"b": [1, 2]}}
    assert not REGISTRY.knows("lts.future.thing_happened")
