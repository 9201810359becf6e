"""`GET /dashboard`: the built-in dashboard (see `dashboard_page`), for a browser. The bearer
token comes in the `Authorization` header or, from a plain link, as `?token=` (the access log
redacts it); the filter form carries it on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from lts_events.auth import Principal
from lts_events.contracts.common import Severity

from lts_metrics import dashboard_release
from lts_metrics.dashboard_page import PERIODS, Choice, Figures, render
from lts_metrics.dashboard_release import ReleaseFigures
from lts_metrics.queries import DURATIONS, Filters, MetricsQueries
from lts_metrics.queries_adoption import AdoptionQueries
from lts_metrics.queries_release import ALL_LINES, ReleaseQueries
from lts_metrics.scope import Scope

Authenticate = Callable[..., Principal]


def dashboard_router(
    queries: MetricsQueries,
    adoption: AdoptionQueries,
    authenticate: Authenticate,
    *,
    release: ReleaseQueries,
) -> APIRouter:
    api = APIRouter(tags=["dashboard"])

    def browser_principal(
        request: Request, token: Annotated[str | None, Query(max_length=4096)] = None
    ) -> Principal:
        scheme, value = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not value:
            scheme, value = "Bearer", token or ""
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=value)
        return authenticate(credentials if value else None)

    @api.get("/dashboard", response_class=HTMLResponse, dependencies=[Depends(browser_principal)])
    async def dashboard(
        line: Annotated[str | None, Query(pattern=r"^(\d+\.\d+)?$")] = None,
        severity: Annotated[Severity | None, Query()] = None,
        period: Annotated[str, Query(pattern="^(" + "|".join(PERIODS) + ")$")] = "all",
        token: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> HTMLResponse:
        """The metrics as charts, filtered by line, severity and period."""
        at = datetime.now(UTC)
        days = PERIODS[period]
        start = at - timedelta(days=days) if days is not None else None
        chosen_severity = severity.value if severity else None
        scope = Scope(start=start, line=line or None, severity=chosen_severity)
        tickets = Filters(start=start, severity=chosen_severity)
        figures = Figures(at=at)
        figures.durations = [await queries.duration(m, tickets) for m in DURATIONS]
        figures.sla = await queries.sla_compliance(tickets, at=at)
        figures.backlog = await queries.backlog(tickets, at=at)
        figures.adoption = await adoption.adoption(scope)
        figures.audits = await adoption.fast_track_audits(scope, at=at)
        releases = ReleaseFigures(
            time_to_release=await release.time_to_release(scope),
            rollback_rate=await release.rollback_rate(scope),
            rollback_times=await release.rollback_times(scope),
            pass_rate=await release.test_pass_rate(scope),
            flaky=await release.flaky_tests(scope),
            dora=await release.dora(scope, at=at),
        )
        figures.sections = dashboard_release.cards(releases)
        lines = sorted(
            {row.line for row in await adoption.adoption(Scope())}
            | {row.line for row in await release.rollback_rate(Scope()) if row.line != ALL_LINES}
            | {r.line for r in await release.time_to_release(Scope()) if r.line != ALL_LINES}
        )
        choice = Choice(
            line=line or None,
            severity=chosen_severity,
            period=period,
            token=token,
            lines=lines,
        )
        return HTMLResponse(render(figures, choice))

    return api
