"""The projections as Prometheus metrics on the service's `/metrics`.

Scrapes are synchronous and must not query the database, so a background task refreshes a
snapshot (`PrometheusExport.refresh`) and the collector serves it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lts_metrics import prometheus_release
from lts_metrics.schema import identifier

BUCKETS = (300.0, 900.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 86_400.0, 3 * 86_400.0, 7 * 86_400.0)
DURATIONS = ("time_to_triage_s", "time_to_plan_s", "time_to_approval_s")


@dataclass
class Snapshot:
    tickets: dict[tuple[str, str], int] = field(default_factory=dict)
    backlog_oldest: dict[str, float] = field(default_factory=dict)
    histograms: dict[tuple[str, str], tuple[list[int], float, int]] = field(default_factory=dict)
    sla: dict[tuple[str, str], int] = field(default_factory=dict)
    audited_events: int = 0
    projected_position: int = 0
    after_triage: tuple[prometheus_release.Values, prometheus_release.Buckets] = ({}, {})
    """The release, rollback, test, adoption, audit and DORA series (`prometheus_release`)."""


class PrometheusExport(Collector):
    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._engine = engine
        self._s = identifier(schema)
        self.snapshot = Snapshot()

    async def refresh(self) -> None:
        s, snap = self._s, Snapshot()
        async with self._engine.connect() as conn:
            for state, severity, n in await conn.execute(
                text(
                    f"SELECT state, coalesce(severity, 'unknown'), count(*)"
                    f" FROM {s}.ticket_lifecycle GROUP BY 1, 2"
                )
            ):
                snap.tickets[(state, severity)] = n
            for severity, age in await conn.execute(
                text(
                    f"SELECT coalesce(severity, 'unknown'),"
                    f" extract(epoch FROM now() - min(opened_at)) FROM {s}.ticket_lifecycle"
                    " WHERE state IN ('opened', 'triaged', 'planned') GROUP BY 1"
                )
            ):
                snap.backlog_oldest[severity] = float(age or 0.0)
            for column in DURATIONS:
                await self._histogram(conn, column, snap)
            for sla, outcome, n in await conn.execute(text(_SLA.format(s=s))):
                snap.sla[(sla, outcome)] = n
            snap.audited_events = (
                await conn.execute(text(f"SELECT count(*) FROM {s}.audit_envelopes"))
            ).scalar_one()
            snap.after_triage = await prometheus_release.read(conn, s)
            snap.projected_position = (
                await conn.execute(
                    text(f"SELECT coalesce(max(position), 0) FROM {s}.projection_checkpoints")
                )
            ).scalar_one()
        self.snapshot = snap

    async def _histogram(self, conn: AsyncConnection, column: str, snap: Snapshot) -> None:
        buckets = ", ".join(f"count(*) FILTER (WHERE {column} <= {b})" for b in BUCKETS)
        sql = (
            f"SELECT coalesce(severity, 'unknown'), {buckets}, sum({column}), count(*)"
            f" FROM {self._s}.ticket_lifecycle WHERE {column} IS NOT NULL GROUP BY 1"
        )
        for row in await conn.execute(text(sql)):
            counts = [int(c) for c in row[1 : 1 + len(BUCKETS)]]
            snap.histograms[(column, row[0])] = (counts, float(row[-2] or 0.0), int(row[-1]))

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        tickets = GaugeMetricFamily(
            "lts_metrics_tickets",
            "Tickets by lifecycle state and severity",
            labels=["state", "severity"],
        )
        for (state, severity), n in sorted(snap.tickets.items()):
            tickets.add_metric([state, severity], n)
        yield tickets
        oldest = GaugeMetricFamily(
            "lts_metrics_backlog_oldest_age_seconds",
            "Age of the oldest open ticket, by severity",
            labels=["severity"],
        )
        for severity, age in sorted(snap.backlog_oldest.items()):
            oldest.add_metric([severity], age)
        yield oldest
        yield from self._histograms(snap)
        sla = GaugeMetricFamily(
            "lts_metrics_sla_tickets", "Tickets by SLA and outcome", labels=["sla", "outcome"]
        )
        for (name, outcome), n in sorted(snap.sla.items()):
            sla.add_metric([name, outcome], n)
        yield sla
        yield from prometheus_release.families(*snap.after_triage)
        yield GaugeMetricFamily(
            "lts_metrics_audited_events", "Events in the audit log", value=snap.audited_events
        )
        yield GaugeMetricFamily(
            "lts_metrics_projection_position",
            "Store position the projections have applied up to",
            value=snap.projected_position,
        )

    def _histograms(self, snap: Snapshot) -> Iterator[Metric]:
        for column in DURATIONS:
            name = "lts_metrics_" + column.removesuffix("_s") + "_seconds"
            family = HistogramMetricFamily(
                name, f"{column.removesuffix('_s')} per ticket", labels=["severity"]
            )
            for (col, severity), (counts, total, n) in sorted(snap.histograms.items()):
                if col == column:
                    buckets = [(str(b), c) for b, c in zip(BUCKETS, counts, strict=True)]
                    family.add_metric([severity], [*buckets, ("+Inf", n)], total)
            yield family


_SLA = """
SELECT 'triage', CASE WHEN triaged_at <= triage_deadline THEN 'met'
                      WHEN triaged_at IS NOT NULL OR triage_breached_at IS NOT NULL THEN 'missed'
                      ELSE 'open' END, count(*)
FROM {s}.ticket_lifecycle WHERE triage_deadline IS NOT NULL GROUP BY 1, 2
UNION ALL
SELECT 'plan', CASE WHEN approved_at <= plan_deadline THEN 'met'
                    WHEN approved_at IS NOT NULL OR plan_breached_at IS NOT NULL THEN 'missed'
                    ELSE 'open' END, count(*)
FROM {s}.ticket_lifecycle WHERE plan_deadline IS NOT NULL GROUP BY 1, 2
"""
