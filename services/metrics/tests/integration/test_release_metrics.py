"""The release metrics on a seeded run (`release_run`), each figure worked out by hand."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from lts_events.auth import Authenticator
from lts_metrics.api import router
from lts_metrics.audit import facts_of
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.scope import Scope

from .conftest import Metrics
from .release_run import DAY, HOUR, T0, envelopes, topic_of
from .test_analyst_role import as_analyst

pytestmark = pytest.mark.integration
ANALYST = {"Authorization": "Bearer dev-analyst"}
GRAFANA_DASHBOARD = (
    Path(__file__).resolve().parents[4] / "infra/grafana/dashboards/lts-flow-metrics.json"
)


@pytest.fixture
async def release(metrics: Metrics) -> ReleaseQueries:
    for envelope in envelopes():
        await metrics.audit.record(envelope, facts_of(envelope, topic=topic_of(envelope)))
    await metrics.settle()
    return ReleaseQueries(metrics.store.engine, schema=metrics.store.schema)


async def test_time_to_release_runs_from_opening_to_the_first_release_of_each_line(
    release: ReleaseQueries,
) -> None:
    rows = await release.time_to_release(Scope())

    # (1, 1.4): 3 d, due 10 d; (2, 1.4): 2 d, due 3 d after its opening; (1, 1.3): 7 d, due 5 d
    assert [(r.line, r.count, r.p50, r.max, r.sla_compliance_pct) for r in rows] == [
        ("all", 3, 3 * 86_400.0, 7 * 86_400.0, pytest.approx(200 / 3)),
        ("1.3", 1, 7 * 86_400.0, 7 * 86_400.0, 0.0),
        ("1.4", 2, 2.5 * 86_400.0, 3 * 86_400.0, 100.0),
    ]


async def test_time_to_release_filters_by_severity_and_line(release: ReleaseQueries) -> None:
    critical = await release.time_to_release(Scope(severity="critical"))
    line_13 = await release.time_to_release(Scope(line="1.3"))
    no_release = await release.time_to_release(Scope(line="9.9"))

    assert [(r.line, r.count, r.p50, r.sla_breaches) for r in no_release] == [("all", 0, None, 0)]
    assert [(r.line, r.count, r.p50) for r in critical] == [
        ("all", 1, 2 * 86_400.0),
        ("1.4", 1, 2 * 86_400.0),
    ]
    assert [(r.line, r.count) for r in line_13] == [("all", 1), ("1.3", 1)]


async def test_rollback_rate_counts_distinct_rollouts_never_above_100_percent(
    release: ReleaseQueries,
) -> None:
    rows = await release.rollback_rate(Scope())

    # r1 rolled back twice counts once; r2 and r4 were not rolled back; r3 once
    assert [(r.line, r.rollouts_started, r.rolled_back, r.rollback_rate_pct) for r in rows] == [
        ("1.3", 1, 1, 100.0),
        ("1.4", 3, 1, pytest.approx(100 / 3)),
        ("all", 4, 2, 50.0),
    ]


async def test_time_to_rollback_and_the_rollback_that_overran(release: ReleaseQueries) -> None:
    times = await release.rollback_times(Scope())
    overran = await release.overrun_rollbacks(Scope())

    # r1: 30 min and 2 h (over its 1 h limit, RollbackOverdue), r3: 10 min
    assert [(t.line, t.rollbacks, t.p50, t.max, t.overran) for t in times] == [
        ("all", 3, 1800.0, 7200.0, 1),
        ("1.3", 1, 600.0, 600.0, 0),
        ("1.4", 2, 4500.0, 7200.0, 1),
    ]
    assert [(r.rollout_id, r.detected_at, r.seconds) for r in overran] == [
        ("r1", T0 + 3 * DAY + 5 * HOUR, 7200.0)
    ]


async def test_test_pass_rate_per_line_candidate_and_suite_and_the_flaky_suite(
    release: ReleaseQueries,
) -> None:
    rates = await release.test_pass_rate(Scope(), by_candidate=True)
    per_line = await release.test_pass_rate(Scope())
    flaky = await release.flaky_tests(Scope())

    assert [
        (r.line, r.candidate_id, r.suite, r.passed, r.failed, r.pass_rate_pct) for r in rates
    ] == [
        ("1.3", None, "integration", 4, 0, 100.0),
        ("1.3", None, "lint", 0, 1, 0.0),  # a failed job without test counts: one failure
        ("1.4", "1.4.3rc1", "unit", 19, 1, 95.0),
    ]
    assert [(r.line, r.candidate_id, r.suite, r.pass_rate_pct) for r in per_line] == [
        ("1.3", None, "integration", 100.0),
        ("1.3", None, "lint", 0.0),
        ("1.4", None, "unit", 95.0),
    ]
    assert [(f.commit, f.suite, f.failed_at, f.passed_at) for f in flaky] == [
        ("c1", "unit", T0 + 2 * DAY, T0 + 2 * DAY + HOUR)
    ]


async def test_dora_keys_per_line_and_overall_with_their_buckets(release: ReleaseQueries) -> None:
    keys = await release.dora(Scope(start=T0, end=T0 + 10 * DAY), at=T0 + 10 * DAY)

    assert [
        (
            k.line,
            k.deployments,
            k.deployments_per_day,
            k.deployment_frequency_bucket,
            k.lead_time_p50_s,
            k.lead_time_bucket,
            k.change_failure_rate_pct,
            k.change_failure_bucket,
            k.recovery_time_p50_s,
            k.recovery_bucket,
        )
        for k in keys
    ] == [
        ("all", 4, 0.4, "high", 2 * 86_400.0, "high", 50.0, "low", 1800.0, "elite"),
        ("1.3", 1, 0.1, "medium", 6 * 86_400.0, "high", 100.0, "low", 600.0, "elite"),
        (
            "1.4",
            3,
            pytest.approx(0.3),
            "high",
            1.5 * 86_400.0,
            "high",
            pytest.approx(100 / 3),
            "low",
            4500.0,
            "high",
        ),
    ]


@pytest.fixture
async def client(metrics: Metrics, release: ReleaseQueries) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(
        router(
            metrics.queries,
            Authenticator.from_settings(),
            adoption_queries=metrics.adoption,
            release_queries=release,
            projector=metrics.projections,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        yield http


@pytest.mark.parametrize(
    ("path", "rows"),
    [
        ("/metrics/time-to-release", 3),
        ("/metrics/rollback-rate", 3),
        ("/metrics/time-to-rollback", 3),
        ("/metrics/overrun-rollbacks", 1),
        ("/metrics/test-pass-rate", 3),
        ("/metrics/flaky-tests", 1),
        ("/metrics/dora?from=2026-11-02T00:00:00Z&to=2026-11-12T00:00:00Z", 3),
    ],
)
async def test_every_release_metric_answers_json_and_csv(
    client: httpx.AsyncClient, path: str, rows: int
) -> None:
    as_json = await client.get(path, headers=ANALYST)
    as_csv = await client.get(path + ("&" if "?" in path else "?") + "format=csv", headers=ANALYST)

    assert as_json.status_code == 200
    assert len(as_json.json()) == rows
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(as_csv.text.splitlines()) == rows + 1  # a header line, flat columns


async def test_the_analyst_reads_each_release_metric_from_its_view(
    metrics: Metrics, release: ReleaseQueries
) -> None:
    s = metrics.store.schema

    async def read(sql: str) -> list[tuple[object, ...]]:
        return await as_analyst(metrics, sql.format(s=s))

    assert await read("SELECT version, tickets FROM {s}.v_releases ORDER BY published_at") == [
        ("1.4.3", 2),
        ("1.3.9", 1),
        ("1.4.4", 1),
        ("1.4.5", 0),
    ]
    assert await read(
        "SELECT ticket_id, line, version, seconds, lead_time_s, within_sla"
        " FROM {s}.v_time_to_release ORDER BY ticket_id, line"
    ) == [
        (1, "1.3", "1.3.9", 7 * 86_400.0, 6 * 86_400.0, False),
        (1, "1.4", "1.4.3", 3 * 86_400.0, 2 * 86_400.0, True),
        (2, "1.4", "1.4.3", 2 * 86_400.0, 86_400.0, True),
    ]
    assert await read(
        "SELECT rollout_id, rollbacks, rolled_back FROM {s}.v_rollouts ORDER BY rollout_id"
    ) == [("r1", 2, True), ("r2", 0, False), ("r3", 1, True), ("r4", 0, False)]
    assert await read(
        "SELECT rollout_id, seconds, overran FROM {s}.v_rollbacks ORDER BY detected_at"
    ) == [("r1", 1800.0, False), ("r1", 7200.0, True), ("r3", 600.0, False)]
    assert await read(
        "SELECT line, candidate_id, suite, pass_rate_pct FROM {s}.v_test_pass_rate"
        " ORDER BY line, suite"
    ) == [
        ("1.3", None, "integration", 100.0),
        ("1.3", None, "lint", 0.0),
        ("1.4", "1.4.3rc1", "unit", 95.0),
    ]
    assert await read("SELECT commit, suite FROM {s}.v_flaky_tests") == [("c1", "unit")]
    assert len(await read("SELECT * FROM {s}.v_test_runs")) == 4


async def test_the_grafana_dora_tiles_run_as_the_analyst_on_the_seeded_run(
    metrics: Metrics, release: ReleaseQueries
) -> None:
    panels = json.loads(GRAFANA_DASHBOARD.read_text())["panels"]
    sqls = {p["title"]: t["rawSql"] for p in panels for t in p["targets"] if "rawSql" in t}
    start, end = "'2026-11-02T00:00:00Z'", "'2026-11-12T00:00:00Z'"

    def grafana(sql: str) -> str:  # what Grafana's macros expand to, for the run's ten days
        sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN {start} AND {end}", sql)
        sql = sql.replace("$__timeFrom()", start).replace("$__timeTo()", end)
        return sql.replace("${line}", ".*").replace("metrics.", f"{metrics.store.schema}.")

    read = {
        title: [tuple(float(v) for v in row) for row in await as_analyst(metrics, grafana(sql))]
        for title, sql in sqls.items()
    }

    assert read == {
        "Deployment frequency (per week)": [(pytest.approx(2.8),)],  # 4 releases in 10 days
        "Lead time for changes (median)": [(2 * 86_400.0,)],
        "Change failure rate": [(pytest.approx(50.0),)],
        "Failed deployment recovery time (median)": [(1800.0,)],
    }
