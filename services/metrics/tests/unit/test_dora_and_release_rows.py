"""The DORA buckets at their edges, and the release events' rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lts_metrics import dora
from lts_metrics.rows import ROWS
from lts_metrics.rows_release import CI_RESULTS, PUBLICATIONS, RELEASED_TICKETS, ROLLOUTS
from lts_metrics.samples_release import ci_result, release_published, rolled_back

from .test_rows_and_versions import fact

T0 = datetime(2026, 12, 1, tzinfo=UTC)
DAY, HOUR = 86_400.0, 3600.0
HOURS = timedelta(hours=1)


@pytest.mark.parametrize(
    ("per_day", "bucket"),
    [
        (3.0, "elite"),
        (1.0, "elite"),
        (0.99, "high"),
        (1 / 7, "high"),
        (0.1, "medium"),
        (1 / 30, "medium"),
        (0.03, "low"),
        (None, None),
    ],
)
def test_deployment_frequency_buckets(per_day: float | None, bucket: str | None) -> None:
    assert dora.frequency_bucket(per_day) == bucket


@pytest.mark.parametrize(
    ("seconds", "lead", "recovery"),
    [
        (0.5 * HOUR, "elite", "elite"),
        (HOUR, "elite", "high"),
        (DAY, "high", "medium"),
        (7 * DAY, "medium", "low"),
        (30 * DAY, "low", "low"),
        (None, None, None),
    ],
)
def test_lead_time_and_recovery_buckets(
    seconds: float | None, lead: str | None, recovery: str | None
) -> None:
    assert dora.lead_time_bucket(seconds) == lead
    assert dora.recovery_bucket(seconds) == recovery


@pytest.mark.parametrize(
    ("rate", "bucket"),
    [(0.0, "elite"), (5.0, "elite"), (10.0, "high"), (15.0, "medium"), (15.1, "low"), (None, None)],
)
def test_change_failure_rate_buckets(rate: float | None, bucket: str | None) -> None:
    assert dora.change_failure_bucket(rate) == bucket


def _fact_of(envelope: object) -> object:
    return fact(envelope.type, envelope.data, subject=envelope.subject)  # type: ignore[attr-defined]


def test_a_release_is_one_publication_row_and_one_row_per_ticket_it_ships() -> None:
    published = _fact_of(release_published("1.4.3", "1.4", (7, 9, 7), at=T0))

    rows = ROWS.rows_of(published)  # type: ignore[arg-type]

    assert [(table, row[1:]) for table, row in rows] == [
        (PUBLICATIONS.name, ("1.4.3rc1", "1.4.3", "1.4", T0, 2, 3)),  # 3: its patch
        (RELEASED_TICKETS.name, (7, "1.4", "1.4.3", T0)),
        (RELEASED_TICKETS.name, (9, "1.4", "1.4.3", T0)),
    ]


def test_a_release_with_no_tickets_is_a_publication_without_ticket_rows() -> None:
    rows = ROWS.rows_of(_fact_of(release_published("1.4.5", "1.4", (), at=T0)))  # type: ignore[arg-type]

    assert [table for table, _ in rows] == [PUBLICATIONS.name]


def test_a_rollback_rows_carry_detection_completion_and_deadline() -> None:
    started, done = rolled_back(
        "r1",
        "1.4.3",
        "1.4",
        detected_at=T0,
        took=__import__("datetime").timedelta(hours=2),
        deadline=__import__("datetime").timedelta(hours=1),
    )

    rows = [ROWS.rows_of(_fact_of(e))[0] for e in (started, done)]  # type: ignore[arg-type]

    assert [(table, row[2:]) for table, row in rows] == [
        (
            ROLLOUTS.name,
            ("rollback_started", "1.4", "1.4.3", T0, T0, T0 + timedelta(hours=1), None),
        ),
        (ROLLOUTS.name, ("rolled_back", "1.4", "1.4.3", T0 + timedelta(hours=2), T0, None, None)),
    ]


def test_a_ci_result_is_one_row_per_suite_with_errors_counted_as_failures() -> None:
    result = _fact_of(
        ci_result("lts/v1.3/issue-4", "abc", at=T0, suites={"unit": (5, 1), "api": (2, 0)})
    )

    rows = ROWS.rows_of(result)  # type: ignore[arg-type]

    assert [(table, row[1], row[3], row[8], row[9]) for table, row in rows] == [
        (CI_RESULTS.name, "unit", "1.3", 5, 1),
        (CI_RESULTS.name, "api", "1.3", 2, 0),
    ]
