"""The analysts' database role reads the documented views and nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from lts_events.actors import automation
from lts_events.contracts import intake, triage
from lts_events.contracts.common import Severity, TicketSource
from lts_events.envelope import Envelope
from lts_metrics.audit import facts_of
from lts_metrics.samples import ENGINEER, FastTrackStory, TicketStory
from lts_metrics.schema import VIEWS, ensure_schema
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from .conftest import Metrics

pytestmark = pytest.mark.integration


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

# One ticket through every milestone within its SLAs, one triaged late and never planned, one
# never triaged.
APPROVED = TicketStory(
    ticket_id=1,
    opened_at=T0,
    severity=Severity.HIGH,
    labels=("security",),
    triaged_after=2 * HOUR,
    planned_after=12 * HOUR,
    approved_after=40 * HOUR,
)
LATE = TicketStory(
    ticket_id=2,
    opened_at=T0 + HOUR,
    severity=Severity.MEDIUM,
    source=TicketSource.OSV,
    triaged_after=30 * HOUR,
)
WAITING = TicketStory(ticket_id=3, opened_at=T0 + 2 * HOUR)
STORIES = (APPROVED, LATE, WAITING)
# ticket 1 was fast-tracked too: its audit closed in time, its postmortem found overdue
FAST_TRACK = FastTrackStory(
    ticket_id=1,
    approved_at=T0 + 41 * HOUR,
    due_after=48 * HOUR,
    audit_closed_after=24 * HOUR,
    overdue_after=49 * HOUR,
)
ENVELOPES = [
    *(envelope for story in STORIES for envelope in story.envelopes()),
    *FAST_TRACK.envelopes(),
]
TESS = (ENGINEER.id, ENGINEER.role.value)
INTAKE = (automation("intake").id, automation("intake").role.value)
TRIAGE = (automation("triage").id, automation("triage").role.value)


def topic_of(envelope: Envelope) -> str:
    return "lts.intake.events" if envelope.source.endswith("intake") else "lts.triage.events"


# What each documented view shows of the stories: the query (its own columns, in a fixed
# order) and the rows, worked out from the stories above.
EXPECTED: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "v_ticket_lifecycle": (
        "SELECT ticket_id, state, severity, source, labels, time_to_triage_s, time_to_plan_s, "
        "time_to_approval_s, triage_within_sla, plan_within_sla FROM {v} ORDER BY ticket_id",
        [
            (1, "approved", "high", "report", ["security"], 7200.0, 36000.0, 100800.0, True, True),
            (2, "triaged", "medium", "osv", [], 108000.0, None, None, False, None),
            (3, "opened", None, "report", [], None, None, None, None, None),
        ],
    ),
    "v_time_to_triage": (
        "SELECT ticket_id, seconds, within_sla FROM {v} ORDER BY ticket_id",
        [(1, 7200.0, True), (2, 108000.0, False)],
    ),
    "v_time_to_plan": ("SELECT ticket_id, seconds FROM {v}", [(1, 36000.0)]),
    "v_time_to_approval": (
        "SELECT ticket_id, seconds, within_sla FROM {v}",
        [(1, 100800.0, True)],
    ),
    "v_sla_compliance": (
        "SELECT ticket_id, sla, outcome FROM {v} ORDER BY ticket_id, sla DESC",
        [
            (1, "triage", "met"),
            (1, "plan", "met"),
            (2, "triage", "missed"),
            (2, "plan", "open_overdue"),  # its plan deadline passed long ago, nothing approved
            (3, "triage", "pending"),  # no deadline before triage sets one
        ],
    ),
    "v_backlog": (
        "SELECT ticket_id, state, age_s > 0 FROM {v} ORDER BY ticket_id",
        [(2, "triaged", True), (3, "opened", True)],
    ),
    "v_ticket_timeline": (
        "SELECT ticket_id, event_type, source_service, actor_id, actor_role, reason FROM {v} "
        "ORDER BY ticket_id, occurred_at, sequence",
        [
            (1, intake.TicketOpened.type, "intake", *INTAKE, "opened"),
            (1, triage.TicketTriaged.type, "triage", *TESS, "severity high"),
            (1, triage.BackportPlanned.type, "triage", *TESS, "backport planned"),
            (1, triage.PlanApproved.type, "triage", *TRIAGE, "approval matrix satisfied"),
            (1, triage.EmergencyFastTrackApproved.type, "triage", "lee", "engineering_lead", None),
            (1, triage.FollowUpOpened.type, "triage", *TRIAGE, None),
            (1, triage.FollowUpOpened.type, "triage", *TRIAGE, None),
            (1, triage.FollowUpClosed.type, "triage", "lee", "engineering_lead", None),
            (1, triage.FollowUpOverdue.type, "triage", *TRIAGE, None),
            (2, intake.TicketOpened.type, "intake", *INTAKE, "opened"),
            (2, triage.TicketTriaged.type, "triage", *TESS, "severity medium"),
            (3, intake.TicketOpened.type, "intake", *INTAKE, "opened"),
        ],
    ),
    "v_audit_log": (
        "SELECT event_id::text, service, subject, type, actor_id, actor_role, reason FROM {v} "
        "ORDER BY position",
        [
            (
                e.id,
                e.source.removeprefix("lts-flow/"),
                e.subject,
                e.type,
                e.actorid,
                str(e.actorrole),
                e.reason,
            )
            for e in ENVELOPES
        ],
    ),
    "v_fast_track_audits": (
        "SELECT ticket_id, follow_up, severity, fast_tracked_at, due_at, closed_at, closed_by,"
        " status, closed_late FROM {v} ORDER BY follow_up",
        [
            (
                1,
                "post_facto_audit",
                "high",
                T0 + 41 * HOUR,
                T0 + 89 * HOUR,
                T0 + 65 * HOUR,
                "lee",
                "closed",
                False,
            ),
            (1, "postmortem", "high", T0 + 41 * HOUR, T0 + 89 * HOUR, None, None, "overdue", False),
        ],
    ),
    # no adoption input in this data set (see test_adoption.py)
    "v_adoption_counts": ("SELECT day, count FROM {v}", []),
    "v_adoption_share": ("SELECT day, share_pct FROM {v}", []),
    # no release input in this data set: test_release_metrics.py reads these as the analyst
    **{
        view: ("SELECT count(*) FROM {v}", [(0,)])
        for view in (
            "v_releases",
            "v_time_to_release",
            "v_rollouts",
            "v_rollbacks",
            "v_test_runs",
            "v_test_pass_rate",
            "v_flaky_tests",
        )
    },
    "v_audit_envelopes": (
        "SELECT ce_id, ce_source, subject, topic FROM {v} ORDER BY ce_id",
        sorted((e.id, e.source, e.subject, topic_of(e)) for e in ENVELOPES),
    ),
}


async def as_analyst(metrics: Metrics, sql: str) -> list[tuple[Any, ...]]:
    async with metrics.store.engine.connect() as conn:
        await conn.execute(text(f"SET ROLE {metrics.analyst_role}"))
        try:
            return [tuple(row) for row in await conn.execute(text(sql))]
        finally:
            await conn.rollback()


async def test_analyst_reads_every_documented_view(metrics: Metrics) -> None:
    for envelope in ENVELOPES:
        await metrics.audit.record(envelope, facts_of(envelope, topic=topic_of(envelope)))
    await metrics.settle()
    schema = metrics.store.schema

    read = {
        view: await as_analyst(metrics, query.format(v=f"{schema}.{view}"))
        for view, (query, _) in EXPECTED.items()
    }

    assert set(EXPECTED) == set(VIEWS)  # a new view needs its expected rows here
    for view, (_, rows) in EXPECTED.items():
        assert read[view] == rows, view


@pytest.mark.parametrize(
    "table", ["ticket_lifecycle", "ticket_timeline", "audit_envelopes", "events", "checkpoints"]
)
async def test_analyst_cannot_read_the_base_tables(metrics: Metrics, table: str) -> None:
    schema = metrics.store.schema

    with pytest.raises(DBAPIError, match="permission denied"):
        await as_analyst(metrics, f"SELECT * FROM {schema}.{table}")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {s}.v_ticket_lifecycle (ticket_id, state) VALUES (1, 'opened')",
        "UPDATE {s}.v_ticket_lifecycle SET state = 'approved'",
        "DELETE FROM {s}.v_ticket_timeline",
        "INSERT INTO {s}.ticket_lifecycle (ticket_id, state) VALUES (1, 'opened')",
        "CREATE TABLE {s}.mine (x int)",
        "CREATE TABLE public.analyst_was_here (x int)",
    ],
)
async def test_analyst_cannot_write_anything(metrics: Metrics, statement: str) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        await as_analyst(metrics, statement.format(s=metrics.store.schema))


async def test_analyst_cannot_read_another_services_schema(metrics: Metrics) -> None:
    other = f"{metrics.store.schema}_other"
    async with metrics.store.engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {other}"))
        await conn.execute(text(f"CREATE TABLE {other}.events (x int)"))
    try:
        with pytest.raises(DBAPIError, match="permission denied"):
            await as_analyst(metrics, f"SELECT * FROM {other}.events")
    finally:
        async with metrics.store.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {other} CASCADE"))


async def test_the_analyst_role_has_a_statement_timeout(metrics: Metrics) -> None:
    async with metrics.store.engine.connect() as conn:
        settings = (
            await conn.execute(
                text("SELECT rolconfig FROM pg_roles WHERE rolname = :r"),
                {"r": metrics.analyst_role},
            )
        ).scalar_one()

    assert "statement_timeout=30s" in settings


async def test_without_a_password_the_analyst_role_cannot_log_in(
    metrics: Metrics, database_url: str
) -> None:
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="not permitted"):
        await asyncpg.connect(_as(database_url, metrics.analyst_role, "any"))


async def test_with_its_password_the_analyst_logs_in_and_reads_the_views(
    metrics: Metrics, database_url: str
) -> None:
    """What docker-compose's LTS_METRICS_ANALYST_PASSWORD is for (`psql -U lts_analyst`)."""
    password = f"analyst-{uuid.uuid4().hex[:8]}"
    schema = metrics.store.schema
    async with metrics.store.engine.begin() as conn:
        await ensure_schema(
            conn, schema=schema, analyst_role=metrics.analyst_role, analyst_password=password
        )

    analyst = await asyncpg.connect(_as(database_url, metrics.analyst_role, password))
    try:
        who = await analyst.fetchval("SELECT current_user")
        lifecycles = await analyst.fetchval(f"SELECT count(*) FROM {schema}.v_ticket_lifecycle")
    finally:
        await analyst.close()

    assert who == metrics.analyst_role
    assert lifecycles == 0


def _as(database_url: str, user: str, password: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", username=user, password=password)
    return url.render_as_string(hide_password=False)
