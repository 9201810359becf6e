"""The analysts' HTTP API: figures and timelines from the projections, for any authenticated
caller (analysts first of all). Routes only authenticate, validate and call the queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from lts_events.auth import Principal
from lts_events.contracts.common import Severity

from lts_metrics.adoption import TELEMETRY_PATH, AdoptionInbox, PingIn
from lts_metrics.export import AsFormat, Format, respond
from lts_metrics.projector import ProjectionEngine
from lts_metrics.queries import (
    Backlog,
    DurationStats,
    Filters,
    MetricsQueries,
    ProjectionStatus,
    SlaStats,
    TimelineItem,
)
from lts_metrics.queries_adoption import AdoptionQueries, AdoptionShare, FastTrackAudit
from lts_metrics.queries_release import (
    LIST_LIMIT,
    DoraKeys,
    FlakySuite,
    PassRate,
    ReleaseDurations,
    ReleaseQueries,
    Rollback,
    RollbackRate,
    RollbackTimes,
)
from lts_metrics.scope import Scope

Authenticate = Callable[..., Principal]


def filters(
    start: Annotated[
        datetime | None, Query(alias="from", description="Tickets opened at or after (ISO 8601)")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="Tickets opened before (ISO 8601)")
    ] = None,
    severity: Annotated[Severity | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    label: Annotated[str | None, Query(max_length=100)] = None,
) -> Filters:
    for value in (start, end):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "from/to need a time zone (e.g. Z)"
            )
    if start is not None and end is not None and start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`from` is after `to`")
    return Filters(
        start=start,
        end=end,
        severity=severity.value if severity else None,
        source=source,
        label=label,
    )


def moment(
    at: Annotated[
        datetime | None, Query(description="Evaluate deadlines and ages at (default: now)")
    ] = None,
) -> datetime:
    if at is not None and at.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`at` needs a time zone")
    return at or datetime.now(UTC)


def scope(
    start: Annotated[
        datetime | None, Query(alias="from", description="At or after (ISO 8601, with a zone)")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Before (ISO 8601)")] = None,
    line: Annotated[str | None, Query(pattern=r"^\d+\.\d+$", description="LTS line X.Y")] = None,
    severity: Annotated[Severity | None, Query()] = None,
) -> Scope:
    """The filters of the metrics after triage; each metric's doc says which time it filters."""
    period = filters(start=start, end=end)
    return Scope(
        start=period.start,
        end=period.end,
        line=line,
        severity=severity.value if severity else None,
    )


Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many, the latest")]
Selected = Annotated[Filters, Depends(filters)]
Scoped = Annotated[Scope, Depends(scope)]
At = Annotated[datetime, Depends(moment)]


def router(
    queries: MetricsQueries,
    authenticate: Authenticate,
    *,
    adoption_queries: AdoptionQueries,
    release_queries: ReleaseQueries,
    projector: ProjectionEngine,
) -> APIRouter:
    api = APIRouter(dependencies=[Depends(authenticate)], tags=["metrics"])

    @api.get("/metrics/time-to-triage", response_model=DurationStats)
    async def time_to_triage(selected: Selected, as_format: AsFormat = Format.JSON) -> Response:
        """First TicketOpened to first TicketTriaged, with triage SLA compliance."""
        stats = await queries.duration("time-to-triage", selected)
        return respond(stats, as_format, name="time-to-triage")

    @api.get("/metrics/time-to-plan", response_model=DurationStats)
    async def time_to_plan(selected: Selected, as_format: AsFormat = Format.JSON) -> Response:
        """First TicketTriaged to first BackportPlanned."""
        stats = await queries.duration("time-to-plan", selected)
        return respond(stats, as_format, name="time-to-plan")

    @api.get("/metrics/time-to-approval", response_model=DurationStats)
    async def time_to_approval(selected: Selected, as_format: AsFormat = Format.JSON) -> Response:
        """First BackportPlanned to first PlanApproved, with plan SLA compliance."""
        stats = await queries.duration("time-to-approval", selected)
        return respond(stats, as_format, name="time-to-approval")

    @api.get("/metrics/sla-compliance", response_model=list[SlaStats])
    async def sla_compliance(
        selected: Selected, at: At, as_format: AsFormat = Format.JSON
    ) -> Response:
        """Triage and plan SLAs: met, missed, overdue, pending, breaches, compliance %."""
        stats = await queries.sla_compliance(selected, at=at)
        return respond(stats, as_format, name="sla-compliance")

    @api.get("/metrics/backlog", response_model=Backlog)
    async def backlog(selected: Selected, at: At, as_format: AsFormat = Format.JSON) -> Response:
        """Open tickets by severity and age, and by state."""
        return respond(await queries.backlog(selected, at=at), as_format, name="backlog")

    @api.get("/metrics/adoption", response_model=list[AdoptionShare])
    async def adoption(
        scoped: Scoped,
        kind: Annotated[str | None, Query(pattern="^(download|ping)$")] = None,
        as_format: AsFormat = Format.JSON,
    ) -> Response:
        """Per UTC day, kind (download, ping), package and line: the share of the newest patch
        of the line. The period selects days; severity does not apply."""
        rows = await adoption_queries.adoption(scoped, kind=kind)
        return respond(rows, as_format, name="adoption")

    @api.get("/metrics/fast-track-audits", response_model=list[FastTrackAudit])
    async def fast_track_audits(
        scoped: Scoped,
        at: At,
        follow_up_status: Annotated[
            str | None, Query(alias="status", pattern="^(open|overdue|closed)$")
        ] = None,
        limit: Limit = LIST_LIMIT,
        as_format: AsFormat = Format.JSON,
    ) -> Response:
        """Post-facto audits and postmortems owed by emergency fast-tracks: open until closed,
        overdue ones flagged. The period selects by when the follow-up was opened."""
        rows = await adoption_queries.fast_track_audits(
            scoped, at=at, status=follow_up_status, limit=limit
        )
        return respond(rows, as_format, name="fast-track-audits")

    @api.get("/metrics/time-to-release", response_model=list[ReleaseDurations])
    async def time_to_release(scoped: Scoped, as_format: AsFormat = Format.JSON) -> Response:
        """First TicketOpened to the first ReleasePublished of a line listing the ticket, per
        line and over all (`all`), with release SLA compliance. The period selects by
        publication."""
        rows = await release_queries.time_to_release(scoped)
        return respond(rows, as_format, name="time-to-release")

    @api.get("/metrics/rollback-rate", response_model=list[RollbackRate])
    async def rollback_rate(
        scoped: Scoped, by_version: bool = False, as_format: AsFormat = Format.JSON
    ) -> Response:
        """Distinct rollouts rolled back / rollouts started, per line (and version). The period
        selects by rollout start."""
        rows = await release_queries.rollback_rate(scoped, by_version=by_version)
        return respond(rows, as_format, name="rollback-rate")

    @api.get("/metrics/time-to-rollback", response_model=list[RollbackTimes])
    async def time_to_rollback(scoped: Scoped, as_format: AsFormat = Format.JSON) -> Response:
        """Failure detected -> RolledBack, per line, and how many overran their limit."""
        rows = await release_queries.rollback_times(scoped)
        return respond(rows, as_format, name="time-to-rollback")

    @api.get("/metrics/overrun-rollbacks", response_model=list[Rollback])
    async def overrun_rollbacks(
        scoped: Scoped, limit: Limit = LIST_LIMIT, as_format: AsFormat = Format.JSON
    ) -> Response:
        """Rollbacks that overran their time limit (RollbackOverdue, or completed late), the
        `limit` latest."""
        rows = await release_queries.overrun_rollbacks(scoped, limit=limit)
        return respond(rows, as_format, name="overrun-rollbacks")

    @api.get("/metrics/test-pass-rate", response_model=list[PassRate])
    async def test_pass_rate(
        scoped: Scoped,
        candidate: Annotated[str | None, Query(max_length=100)] = None,
        suite: Annotated[str | None, Query(max_length=200)] = None,
        by_candidate: bool = False,
        as_format: AsFormat = Format.JSON,
    ) -> Response:
        """passed / (passed + failed) per line and suite, and per candidate with
        `by_candidate` or a `candidate` (CiResultRecorded). The period selects by report
        time."""
        rows = await release_queries.test_pass_rate(
            scoped, candidate=candidate, suite=suite, by_candidate=by_candidate
        )
        return respond(rows, as_format, name="test-pass-rate")

    @api.get("/metrics/flaky-tests", response_model=list[FlakySuite])
    async def flaky_tests(
        scoped: Scoped, limit: Limit = LIST_LIMIT, as_format: AsFormat = Format.JSON
    ) -> Response:
        """Suites that failed, then passed on the same commit and job, the `limit` latest."""
        rows = await release_queries.flaky_tests(scoped, limit=limit)
        return respond(rows, as_format, name="flaky-tests")

    @api.get("/metrics/dora", response_model=list[DoraKeys])
    async def dora_keys(scoped: Scoped, at: At, as_format: AsFormat = Format.JSON) -> Response:
        """The DORA keys per line and overall, with the report's performance buckets."""
        rows = await release_queries.dora(scoped, at=at)
        return respond(rows, as_format, name="dora")

    @api.get("/metrics/projections", response_model=ProjectionStatus)
    async def projections() -> ProjectionStatus:
        """How many audited events the projections have applied, and how many are pending."""
        return await projector.status()

    @api.get("/tickets/{ticket_id}/timeline", response_model=list[TimelineItem])
    async def timeline(ticket_id: int) -> list[TimelineItem]:
        """Every event about the ticket from every service, in order: who, when, why."""
        items = await queries.timeline(ticket_id)
        if not items:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no events for ticket {ticket_id}")
        return items

    return api


def telemetry_router(inbox: AdoptionInbox) -> APIRouter:
    """Open to any running deployment (no token): it only counts a version."""
    api = APIRouter(tags=["telemetry"])

    @api.post(TELEMETRY_PATH, status_code=status.HTTP_202_ACCEPTED)
    async def ping(body: PingIn) -> dict[str, str]:
        """Count one running deployment of `package` `version` today. Only the package, the
        version and the time are stored: no address, header or identifier."""
        await inbox.ping(body, at=datetime.now(UTC))
        return {"status": "counted"}

    return api
