"""Prometheus series of the metrics after triage (release, rollbacks, tests, adoption,
post-facto audits, DORA), read from the same tables and SQL as the views, into the export's
snapshot (`PrometheusExport.refresh`): scrapes never touch the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from lts_metrics.release_sql import FLAKY, ROLLBACKS, ROLLOUTS, TEST_RUNS
from lts_metrics.schema import FOLLOW_UP_STATE, follow_up_status

DAY = 86_400.0
RELEASE_BUCKETS = (DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY)
ROLLBACK_BUCKETS = (300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, DAY)


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...]
    sql: str
    """Selects the label values, then the value."""


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    source: str
    """A FROM clause with `line` and `v` (seconds)."""
    buckets: tuple[float, ...]


GAUGES = (
    Gauge(
        "lts_metrics_release_sla_tickets",
        "Released (ticket, line) pairs by release SLA"
        " outcome (met: first release by its release deadline)",
        ("line", "outcome"),
        "SELECT line, CASE WHEN within_sla THEN 'met' ELSE 'missed' END, count(*)"
        " FROM {s}.ticket_releases WHERE within_sla IS NOT NULL GROUP BY 1, 2",
    ),
    Gauge(
        "lts_metrics_rollouts_started",
        "Rollouts started (RolloutStarted), per line",
        ("line",),
        "SELECT coalesce(line, 'unknown'), count(*) FROM "
        + ROLLOUTS
        + " r WHERE started_at IS NOT NULL GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_rollouts_rolled_back",
        "Distinct rollouts rolled back at least once",
        ("line",),
        "SELECT coalesce(line, 'unknown'), count(*) FROM "
        + ROLLOUTS
        + " r WHERE started_at IS NOT NULL AND rollbacks > 0 GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_rollback_rate_ratio",
        "Rollouts rolled back / rollouts started"
        " (distinct rollouts, 0..1): the change failure rate",
        ("line",),
        "SELECT coalesce(line, 'unknown'), avg((rollbacks > 0)::int) FROM "
        + ROLLOUTS
        + " r WHERE started_at IS NOT NULL GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_rollbacks_overran",
        "Rollbacks that overran their time limit",
        ("line",),
        "SELECT coalesce(line, 'unknown'), count(*) FROM "
        + ROLLBACKS
        + " b WHERE overran GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_tests",
        "Test cases in CI results by line and result (errors count as failed)",
        ("line", "result"),
        "SELECT coalesce(line, 'unknown'), r, sum(n) FROM (SELECT line, 'passed' r, passed n"
        " FROM {s}.ci_results UNION ALL SELECT line, 'failed', failed FROM {s}.ci_results) t"
        " GROUP BY 1, 2",
    ),
    Gauge(
        "lts_metrics_test_pass_ratio",
        "passed / (passed + failed) of CI results, per line",
        ("line",),
        "SELECT coalesce(line, 'unknown'), sum(passed)::float"
        " / nullif(sum(passed) + sum(failed), 0) FROM " + TEST_RUNS + " t GROUP BY 1"
        " HAVING sum(passed) + sum(failed) > 0",
    ),
    Gauge(
        "lts_metrics_flaky_suites",
        "Suites that failed, then passed on the same commit",
        ("line",),
        "SELECT coalesce(line, 'unknown'), count(*) FROM " + FLAKY + " f GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_adoption_newest_share_ratio",
        "Share of the newest patch of each line"
        " on its latest day of data (0..1), by kind (download, ping)",
        ("line", "kind", "package"),
        "SELECT DISTINCT ON (line, kind, package) line, kind, package, share_pct / 100"
        " FROM {s}.v_adoption_share WHERE share_pct IS NOT NULL"
        " ORDER BY line, kind, package, day DESC",
    ),
    Gauge(
        "lts_metrics_fast_track_follow_ups",
        "Follow-ups of emergency fast-tracks (post-facto audit, postmortem) by status",
        ("follow_up", "status"),
        "SELECT follow_up, "
        + follow_up_status("closed_at", "overdue_at", "due_at", "now()")
        + ", count(*) FROM "
        + FOLLOW_UP_STATE
        + " f GROUP BY 1, 2",
    ),
    Gauge(
        "lts_metrics_deployments",
        "Releases published (ReleasePublished), per line",
        ("line",),
        "SELECT coalesce(line, 'unknown'), count(*) FROM {s}.release_publications GROUP BY 1",
    ),
    Gauge(
        "lts_metrics_lead_time_median_seconds",
        "DORA lead time: median of plan approved -> first release of the line",
        ("line",),
        "SELECT line, percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_s)"
        " FROM {s}.ticket_releases WHERE lead_time_s IS NOT NULL GROUP BY 1",
    ),
)
HISTOGRAMS = (
    Histogram(
        "lts_metrics_time_to_release_seconds",
        "First TicketOpened -> first release of the line shipping the ticket, per line",
        "(SELECT line, time_to_release_s AS v FROM {s}.ticket_releases"
        " WHERE time_to_release_s IS NOT NULL) h",
        RELEASE_BUCKETS,
    ),
    Histogram(
        "lts_metrics_time_to_rollback_seconds",
        "Failure detected -> rolled back, per line",
        "(SELECT coalesce(line, 'unknown') AS line, time_to_rollback_s AS v FROM "
        + ROLLBACKS
        + " b WHERE time_to_rollback_s IS NOT NULL) h",
        ROLLBACK_BUCKETS,
    ),
)

Values = dict[str, list[tuple[tuple[str, ...], float]]]
Buckets = dict[str, list[tuple[str, list[int], float, int]]]


async def read(conn: AsyncConnection, schema: str) -> tuple[Values, Buckets]:
    gauges: Values = {}
    for gauge in GAUGES:
        rows = await conn.execute(text(gauge.sql.format(s=schema)))
        gauges[gauge.name] = [
            (tuple(str(v) for v in r[:-1]), float(r[-1])) for r in rows if r[-1] is not None
        ]
    histograms: Buckets = {}
    for histogram in HISTOGRAMS:
        counts = ", ".join(f"count(*) FILTER (WHERE v <= {b})" for b in histogram.buckets)
        sql = f"SELECT line, {counts}, sum(v), count(*) FROM {histogram.source} GROUP BY line"
        histograms[histogram.name] = [
            (str(r[0]), [int(c) for c in r[1:-2]], float(r[-2] or 0.0), int(r[-1]))
            for r in await conn.execute(text(sql.format(s=schema)))
        ]
    return gauges, histograms


def families(gauges: Values, histograms: Buckets) -> Iterator[Metric]:
    for gauge in GAUGES:
        family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
        for labels, value in sorted(gauges.get(gauge.name, [])):
            family.add_metric(list(labels), value)
        yield family
    for histogram in HISTOGRAMS:
        hist = HistogramMetricFamily(histogram.name, histogram.help, labels=["line"])
        for line, counts, total, n in sorted(histograms.get(histogram.name, [])):
            buckets = [(str(b), c) for b, c in zip(histogram.buckets, counts, strict=True)]
            hist.add_metric([line], [*buckets, ("+Inf", n)], total)
        yield hist
