"""Gathers one week's figures for the weekly report from the queries (the same as the API's)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from lts_metrics.queries import DURATIONS, Filters, MetricsQueries
from lts_metrics.queries_adoption import AdoptionQueries
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.report import WeekFigures, week_bounds
from lts_metrics.scope import Scope


async def week_figures(engine: AsyncEngine, *, schema: str, week: str) -> WeekFigures:
    start, end = week_bounds(week)
    tickets, scope = Filters(start=start, end=end), Scope(start=start, end=end)
    queries = MetricsQueries(engine, schema=schema)
    adoption = AdoptionQueries(engine, schema=schema)
    release = ReleaseQueries(engine, schema=schema)
    return WeekFigures(
        week=week,
        start=start,
        end=end,
        durations=[await queries.duration(metric, tickets) for metric in DURATIONS],
        sla=await queries.sla_compliance(tickets, at=end),
        time_to_release=await release.time_to_release(scope),
        rollback_rate=await release.rollback_rate(scope),
        rollback_times=await release.rollback_times(scope),
        overruns=await release.overrun_rollbacks(scope),
        pass_rate=await release.test_pass_rate(scope, by_candidate=True),
        flaky=await release.flaky_tests(scope),
        dora=await release.dora(scope, at=end),
        adoption=await adoption.adoption(scope),
        audits=await adoption.fast_track_audits(Scope(end=end), at=end),
    )
