"""A seeded release run whose metrics are worked out by hand in the tests that use it:
two tickets, three lines' releases (one shipping no ticket), a ticket in two lines released at
different times, a rollout rolled back twice (the second rollback overran), CI results with a
flaky suite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_events.contracts.common import Severity
from lts_events.contracts.release.ci import CiStatus
from lts_events.envelope import Envelope
from lts_metrics.samples import TicketStory
from lts_metrics.samples_release import (
    backport_opened,
    candidate_opened,
    ci_result,
    release_published,
    rolled_back,
    rollout_started,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def envelopes() -> list[Envelope]:
    tickets = [
        TicketStory(ticket_id=1, opened_at=T0, severity=Severity.HIGH, triaged_after=HOUR),
        TicketStory(
            ticket_id=2, opened_at=T0 + DAY, severity=Severity.CRITICAL, triaged_after=HOUR
        ),
    ]
    return [
        *(e for story in tickets for e in story.envelopes()),
        backport_opened(1, "1.4", approved_at=T0 + DAY, deadline=T0 + 10 * DAY),
        backport_opened(1, "1.3", approved_at=T0 + DAY, deadline=T0 + 5 * DAY),
        backport_opened(2, "1.4", approved_at=T0 + 2 * DAY, deadline=T0 + 4 * DAY),
        candidate_opened("1.4.3rc1", "1.4", "1.4.3", {1: "c1", 2: "c9"}, at=T0 + 2 * DAY),
        ci_result("lts/v1.4/issue-1", "c1", at=T0 + 2 * DAY, suites={"unit": (9, 1)}),
        ci_result("lts/v1.4/issue-1", "c1", at=T0 + 2 * DAY + HOUR, suites={"unit": (10, 0)}),
        ci_result("release-lts/v1.3", "c2", at=T0 + 6 * DAY, suites={"integration": (4, 0)}),
        ci_result("release-lts/v1.3", "c2", at=T0 + 6 * DAY, job="lint", status=CiStatus.FAILED),
        release_published("1.4.3", "1.4", (1, 2), at=T0 + 3 * DAY),
        rollout_started("r1", "1.4.3", "1.4", at=T0 + 3 * DAY, limit=HOUR),
        *rolled_back(
            "r1", "1.4.3", "1.4", detected_at=T0 + 3 * DAY + HOUR, took=30 * MINUTE, deadline=HOUR
        ),
        *rolled_back(
            "r1",
            "1.4.3",
            "1.4",
            detected_at=T0 + 3 * DAY + 5 * HOUR,
            took=2 * HOUR,
            deadline=HOUR,
            overdue=True,
        ),
        release_published("1.3.9", "1.3", (1,), at=T0 + 7 * DAY),
        rollout_started("r3", "1.3.9", "1.3", at=T0 + 7 * DAY, limit=HOUR),
        *rolled_back(
            "r3", "1.3.9", "1.3", detected_at=T0 + 7 * DAY + HOUR, took=10 * MINUTE, deadline=HOUR
        ),
        release_published("1.4.4", "1.4", (1,), at=T0 + 8 * DAY),  # ticket 1 again: not first
        rollout_started("r2", "1.4.4", "1.4", at=T0 + 8 * DAY, limit=HOUR),
        release_published("1.4.5", "1.4", (), at=T0 + 9 * DAY),  # a release with no tickets
        rollout_started("r4", "1.4.5", "1.4", at=T0 + 9 * DAY, limit=HOUR),
    ]


def topic_of(envelope: Envelope) -> str:
    return "lts." + envelope.source.removeprefix("lts-flow/") + ".events"
