"""Readings from Alertmanager notifications and Prometheus answers; what Flagger and Argo are
told."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lts_events.contracts.release.rollout import AnalysisOutcome
from lts_events.contracts.triage import RolloutStrategy
from lts_release.rollout.gates import flagger_verdict, healthy
from lts_release.rollout.machine import RecordReading, StartRollout, decide
from lts_release.rollout.policy import RolloutPolicy
from lts_release.rollout.readings import (
    MalformedHealthEvent,
    alert_reading,
    health_alerts,
    metric_reading,
    query_value,
    render_query,
)
from lts_release.rollout.state import RolloutState, evolve, fold

NOW = datetime(2026, 12, 4, 3, 30, tzinfo=UTC)
NOTIFICATION = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "alertmanager_rollout_critical.json")
    .read_text()
    .replace("VERSION", "1.4.8")
)
CRITICAL = frozenset({"critical"})
POLICY = RolloutPolicy()


def test_a_firing_critical_alert_is_a_failed_debounced_critical_reading() -> None:
    alert = health_alerts(NOTIFICATION)[0]

    reading = alert_reading(alert, critical_severities=CRITICAL, now=NOW)

    assert alert.version == "1.4.8"
    assert (reading.check, reading.outcome, reading.critical, reading.debounced) == (
        "alert:HighErrorRate",
        AnalysisOutcome.FAILED,
        True,
        True,
    )
    assert reading.observed_at == datetime(2026, 12, 4, 3, 20, 58, 432911, tzinfo=UTC)
    assert "channel pypi" in reading.detail


@pytest.mark.parametrize("label", ["1.4.8\u0000", "go1.21.5 linux/amd64", "v" * 101])
def test_a_version_label_no_rollout_can_have_names_no_rollout(label: str) -> None:
    # exporters label their own alerts `version` too (any Unicode); a NUL in one could not be
    # looked up in PostgreSQL, which failed the whole notification (retried, dead-lettered)
    # with the rollout's own alerts grouped in it
    alert = json.loads(json.dumps(NOTIFICATION["alerts"][0]))
    alert["labels"]["version"] = label

    (parsed,) = health_alerts({**NOTIFICATION, "alerts": [alert]})

    assert parsed.version is None


def test_an_alert_without_status_takes_the_notification_status() -> None:
    alert = {k: v for k, v in NOTIFICATION["alerts"][0].items() if k != "status"}

    resolved = health_alerts({**NOTIFICATION, "status": "resolved", "alerts": [alert]})[0]

    reading = alert_reading(resolved, critical_severities=CRITICAL, now=NOW)
    assert reading.outcome is AnalysisOutcome.PASSED


def test_a_warning_alert_is_not_critical() -> None:
    alert = health_alerts(NOTIFICATION)[0]
    warning = alert.model_copy(update={"labels": {**alert.labels, "severity": "warning"}})

    assert not alert_reading(warning, critical_severities=CRITICAL, now=NOW).critical


def test_a_malformed_notification_names_the_field() -> None:
    with pytest.raises(MalformedHealthEvent, match=r"data\.alerts\[0\]\.labels"):
        health_alerts({"status": "firing", "alerts": [{"labels": "not a map"}]})
    with pytest.raises(MalformedHealthEvent, match=r"data\.alerts"):
        health_alerts({"status": "firing", "alerts": []})


def test_prometheus_answers_become_values_or_no_data() -> None:
    vector = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"version": "1.4.8"}, "value": [1733282400.5, "0.0004"]}],
        },
    }
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    nan = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "NaN"]}}
    error = {"status": "error", "errorType": "bad_data", "error": "parse error"}

    assert query_value(vector) == (0.0004, "")
    assert query_value(empty)[0] is None
    assert query_value(nan) == (None, "no data (NaN)")
    assert query_value(error) == (None, "prometheus error: bad_data parse error")


def test_a_threshold_is_a_strict_upper_bound() -> None:
    at = metric_reading("error_rate", threshold=0.001, value=0.001, why="", now=NOW)
    under = metric_reading("error_rate", threshold=0.001, value=0.0009, why="", now=NOW)
    unknown = metric_reading("error_rate", threshold=0.001, value=None, why="no data", now=NOW)

    assert [r.outcome for r in (at, under, unknown)] == [
        AnalysisOutcome.FAILED,
        AnalysisOutcome.PASSED,
        AnalysisOutcome.INCONCLUSIVE,
    ]


def test_queries_name_the_version() -> None:
    query = render_query(
        'rate(x{version="{{version}}",line="{{line}}"}[5m])',
        version="1.4.8",
        line="1.4",
        service=None,
    )

    assert query == 'rate(x{version="1.4.8",line="1.4"}[5m])'


def started() -> RolloutState:
    start = StartRollout("1.4.8", "1.4.8", "1.4", "1.4.7", RolloutStrategy.STAGED_CANARY)
    return fold(decide(RolloutState(), start, rollout_id="1.4.8", now=NOW, policy=POLICY).events)


def test_flagger_is_let_through_while_analysis_holds_and_held_when_a_check_fails() -> None:
    state = started()
    failing = metric_reading("error_rate", threshold=0.001, value=0.01, why="", now=NOW)
    after = _apply(state, RecordReading(failing))

    assert flagger_verdict(state, "confirm-rollout").go
    assert not flagger_verdict(state, "confirm-promotion").go  # 1% of 4 phases
    assert not flagger_verdict(state, "rollback").go
    assert not flagger_verdict(after, "confirm-traffic-increase").go
    assert not healthy(after).go
    # pre-rollout counts toward the threshold as rollout does; post-rollout and event failures
    # are only logged by Flagger, so they are acknowledged whatever the state
    assert flagger_verdict(state, "pre-rollout").go
    assert not flagger_verdict(after, "pre-rollout").go
    assert flagger_verdict(after, "post-rollout").go


def _apply(state: RolloutState, command: RecordReading) -> RolloutState:
    for event in decide(state, command, rollout_id="1.4.8", now=NOW, policy=RolloutPolicy()).events:
        state = evolve(state, event)
    return state


def test_an_approved_fast_track_skips_analysis_without_the_role() -> None:
    start = StartRollout(
        "1.4.8",
        "1.4.8",
        "1.4",
        "1.4.7",
        RolloutStrategy.STAGED_CANARY,
        skip_analysis_reason="emergency fast-track of 1.4.8rc1",
        fast_track_approved=True,
    )

    state = fold(
        decide(RolloutState(), start, rollout_id="1.4.8", now=NOW, policy=RolloutPolicy()).events
    )

    assert state.started is not None
    assert state.started.analysis_skipped
