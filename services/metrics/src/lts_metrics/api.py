"""The analysts' HTTP API: figures and timelines from the projections, for any authenticated
caller (analysts first of all). Routes only authenticate, validate and call the queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from lts_events.auth import Principal
from lts_events.contracts.common import Severity

from lts_metrics.queries import (
    Backlog,
    DurationStats,
    Filters,
    MetricsQueries,
    ProjectionStatus,
    SlaStats,
    TimelineItem,
)

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


Selected = Annotated[Filters, Depends(filters)]
At = Annotated[datetime, Depends(moment)]


def router(queries: MetricsQueries, authenticate: Authenticate) -> APIRouter:
    api = APIRouter(dependencies=[Depends(authenticate)], tags=["metrics"])

    @api.get("/metrics/time-to-triage", response_model=DurationStats)
    async def time_to_triage(selected: Selected) -> DurationStats:
        """First TicketOpened to first TicketTriaged, with triage SLA compliance."""
        return await queries.duration("time-to-triage", selected)

    @api.get("/metrics/time-to-plan", response_model=DurationStats)
    async def time_to_plan(selected: Selected) -> DurationStats:
        """First TicketTriaged to first BackportPlanned."""
        return await queries.duration("time-to-plan", selected)

    @api.get("/metrics/time-to-approval", response_model=DurationStats)
    async def time_to_approval(selected: Selected) -> DurationStats:
        """First BackportPlanned to first PlanApproved, with plan SLA compliance."""
        return await queries.duration("time-to-approval", selected)

    @api.get("/metrics/sla-compliance", response_model=list[SlaStats])
    async def sla_compliance(selected: Selected, at: At) -> list[SlaStats]:
        """Triage and plan SLAs: met, missed, overdue, pending, breaches, compliance %."""
        return await queries.sla_compliance(selected, at=at)

    @api.get("/metrics/backlog", response_model=Backlog)
    async def backlog(selected: Selected, at: At) -> Backlog:
        """Open tickets by severity and age, and by state."""
        return await queries.backlog(selected, at=at)

    @api.get("/metrics/projections", response_model=ProjectionStatus)
    async def projections() -> ProjectionStatus:
        """How many audited events the projections have applied, and how many are pending."""
        return await queries.status()

    @api.get("/tickets/{ticket_id}/timeline", response_model=list[TimelineItem])
    async def timeline(ticket_id: int) -> list[TimelineItem]:
        """Every event about the ticket from every service, in order: who, when, why."""
        items = await queries.timeline(ticket_id)
        if not items:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no events for ticket {ticket_id}")
        return items

    return api
