"""The analysts' queries over the projections. Aggregates and percentiles are computed by
PostgreSQL (`percentile_cont`), over filters that use the lifecycle table's indexes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lts_metrics.schema import identifier, sla_outcome

BACKLOG_BUCKETS = (
    ("under_1d", 0, 86_400),
    ("1d_to_3d", 86_400, 3 * 86_400),
    ("3d_to_7d", 3 * 86_400, 7 * 86_400),
    ("over_7d", 7 * 86_400, None),
)


@dataclass(frozen=True, slots=True)
class Filters:
    """Tickets opened in [start, end), of a severity, a source, carrying a label."""

    start: datetime | None = None
    end: datetime | None = None
    severity: str | None = None
    source: str | None = None
    label: str | None = None

    def where(self, *conditions: str) -> tuple[str, dict[str, Any]]:
        clauses, params = list(conditions), dict[str, Any]()
        if self.start is not None:
            clauses.append("opened_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append("opened_at < :end")
            params["end"] = self.end
        if self.severity is not None:
            clauses.append("severity = :severity")
            params["severity"] = self.severity
        if self.source is not None:
            clauses.append("source = :source")
            params["source"] = self.source
        if self.label is not None:
            clauses.append("labels @> ARRAY[CAST(:label AS text)]")
            params["label"] = self.label
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class DurationStats(BaseModel):
    metric: str
    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    max: float | None
    mean: float | None
    sla_compliance_pct: float | None
    unit: str = "seconds"


class SlaStats(BaseModel):
    sla: str
    met: int
    missed: int
    open_overdue: int
    pending: int
    breaches: int
    compliance_pct: float | None


class BacklogRow(BaseModel):
    severity: str | None
    count: int
    oldest_age_s: float | None
    median_age_s: float | None
    by_age: dict[str, int]


class Backlog(BaseModel):
    at: datetime
    total: int
    by_severity: list[BacklogRow]
    by_state: dict[str, int]


class TimelineItem(BaseModel):
    occurred_at: datetime
    event_type: str
    source_service: str
    actor_id: str
    actor_role: str
    reason: str | None
    summary: str
    event_id: str


class ProjectionStatus(BaseModel):
    audited_events: int
    projected_events: int
    pending_events: int
    caught_up: bool


DURATIONS = {
    "time-to-triage": ("time_to_triage_s", "triage_within_sla"),
    "time-to-plan": ("time_to_plan_s", None),
    "time-to-approval": ("time_to_approval_s", "plan_within_sla"),
}


class MetricsQueries:
    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._engine = engine
        self._s = identifier(schema)

    async def duration(self, metric: str, filters: Filters) -> DurationStats:
        column, sla = DURATIONS[metric]
        where, params = filters.where(f"{column} IS NOT NULL")
        compliance = "100.0 * count(*) FILTER (WHERE ok) / NULLIF(count(ok), 0)" if sla else "NULL"
        # the rows in order of the duration: the planner weighs an index in that order (with the
        # filter) against the filter's own index and a sort, and percentile_cont's sort then
        # finds its input sorted
        sql = (
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY v),"
            f" max(v), avg(v), {compliance}"
            f" FROM (SELECT {column} AS v, {sla or 'NULL::boolean'} AS ok"
            f" FROM {self._s}.ticket_lifecycle{where} ORDER BY {column}) AS durations"
        )
        async with self._engine.begin() as conn:
            # the read models live in memory: let the planner prefer the covering index
            await conn.execute(text("SET LOCAL random_page_cost = 1.1"))
            row = (await conn.execute(text(sql), params)).one()
        p = row[1] or [None, None, None]
        return DurationStats(
            metric=metric,
            count=row[0],
            p50=p[0],
            p90=p[1],
            p95=p[2],
            max=row[2],
            mean=_float(row[3]),
            sla_compliance_pct=_float(row[4]),
        )

    async def sla_compliance(self, filters: Filters, *, at: datetime) -> list[SlaStats]:
        where, params = filters.where()
        at_sql = "CAST(:at AS timestamptz)"
        triage = sla_outcome("triaged_at", "triage_deadline", "triage_breached_at", at_sql)
        plan = sla_outcome("approved_at", "plan_deadline", "plan_breached_at", at_sql)
        sql = f"""
            SELECT sla, count(*) FILTER (WHERE outcome = 'met'),
                   count(*) FILTER (WHERE outcome = 'missed'),
                   count(*) FILTER (WHERE outcome = 'open_overdue'),
                   count(*) FILTER (WHERE outcome = 'pending'),
                   count(*) FILTER (WHERE breached)
            FROM (SELECT 'triage' AS sla, {triage} AS outcome,
                         triage_breached_at IS NOT NULL AS breached
                  FROM {self._s}.ticket_lifecycle{where}
                  UNION ALL
                  SELECT 'plan', {plan}, plan_breached_at IS NOT NULL
                  FROM {self._s}.ticket_lifecycle{where}
                  {"AND" if where else "WHERE"} plan_deadline IS NOT NULL) outcomes
            GROUP BY sla"""
        async with self._engine.connect() as conn:
            rows = {r[0]: r for r in await conn.execute(text(sql), {**params, "at": at})}
        return [_sla(name, rows.get(name)) for name in ("triage", "plan")]

    async def backlog(self, filters: Filters, *, at: datetime) -> Backlog:
        where, params = filters.where("state IN ('opened', 'triaged', 'planned')")
        age = "extract(epoch FROM CAST(:at AS timestamptz) - opened_at)"
        buckets = ", ".join(
            f"count(*) FILTER (WHERE {age} >= {low}"
            + (f" AND {age} < {high})" if high is not None else ")")
            for _, low, high in BACKLOG_BUCKETS
        )
        sql = (
            f"SELECT severity, count(*), max({age}),"
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY {age}), {buckets}"
            f" FROM {self._s}.ticket_lifecycle{where} GROUP BY severity ORDER BY severity"
        )
        states = f"SELECT state, count(*) FROM {self._s}.ticket_lifecycle{where} GROUP BY state"
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(text(sql), {**params, "at": at}))
            by_state = {r[0]: r[1] for r in await conn.execute(text(states), params)}
        by_severity = [
            BacklogRow(
                severity=r[0],
                count=r[1],
                oldest_age_s=_float(r[2]),
                median_age_s=_float(r[3]),
                by_age={name: r[4 + i] for i, (name, _, _) in enumerate(BACKLOG_BUCKETS)},
            )
            for r in rows
        ]
        return Backlog(
            at=at,
            total=sum(r.count for r in by_severity),
            by_severity=by_severity,
            by_state=by_state,
        )

    async def timeline(self, ticket_id: int) -> list[TimelineItem]:
        sql = (
            "SELECT occurred_at, event_type, source_service, actor_id, actor_role, reason,"
            f" summary, event_id FROM {self._s}.ticket_timeline WHERE ticket_id = :ticket"
            " ORDER BY occurred_at, sequence"
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(text(sql), {"ticket": ticket_id})
            return [
                TimelineItem(
                    occurred_at=r[0],
                    event_type=r[1],
                    source_service=r[2],
                    actor_id=r[3],
                    actor_role=r[4],
                    reason=r[5],
                    summary=r[6],
                    event_id=str(r[7]),
                )
                for r in rows
            ]


def _sla(name: str, row: Any) -> SlaStats:
    met, missed, overdue, pending, breaches = row[1:] if row is not None else (0, 0, 0, 0, 0)
    decided = met + missed + overdue
    return SlaStats(
        sla=name,
        met=met,
        missed=missed,
        open_overdue=overdue,
        pending=pending,
        breaches=breaches,
        compliance_pct=(100.0 * met / decided) if decided else None,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
