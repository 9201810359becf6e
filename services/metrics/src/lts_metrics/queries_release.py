"""The release metrics over their tables and the SQL of `release_sql` (one home with the
views): time-to-release, rollback rate, time-to-rollback and overrun rollbacks, test pass rate
and flaky suites, the DORA keys. Each names the time its period filters."""

from __future__ import annotations

import asyncio
import sys
from array import array
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Result, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lts_metrics import dora, percentiles
from lts_metrics.release_sql import FLAKY, ROLLBACKS, STARTED_ROLLOUTS, TEST_RUNS
from lts_metrics.schema import identifier
from lts_metrics.scope import Scope

LIST_LIMIT = 500
"""Lists (overrun rollbacks, flaky suites) answer at most this many, the latest."""
ALL_LINES = "all"
"""The `line` of a row over every line."""


class ReleaseDurations(BaseModel):
    line: str
    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    max: float | None
    mean: float | None
    sla_compliance_pct: float | None
    sla_breaches: int
    unit: str = "seconds"


class RollbackRate(BaseModel):
    line: str
    version: str | None
    rollouts_started: int
    rolled_back: int
    rollback_rate_pct: float | None


class RollbackTimes(BaseModel):
    line: str
    rollbacks: int
    p50: float | None
    p90: float | None
    max: float | None
    overran: int
    unit: str = "seconds"


class Rollback(BaseModel):
    rollout_id: str
    line: str | None
    version: str | None
    detected_at: datetime | None
    deadline: datetime | None
    completed_at: datetime | None
    seconds: float | None
    overran: bool


class PassRate(BaseModel):
    line: str | None
    candidate_id: str | None
    suite: str
    passed: int
    failed: int
    pass_rate_pct: float | None


class FlakySuite(BaseModel):
    commit: str
    line: str | None
    job: str
    suite: str
    failed_at: datetime
    passed_at: datetime


class DoraKeys(BaseModel):
    line: str
    days: float
    deployments: int
    deployments_per_day: float | None
    deployment_frequency_bucket: str | None
    lead_time_p50_s: float | None
    lead_time_bucket: str | None
    change_failure_rate_pct: float | None
    change_failure_bucket: str | None
    recovery_time_p50_s: float | None
    recovery_bucket: str | None


class ReleaseQueries:
    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._engine = engine
        self._s = identifier(schema)

    async def _rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        async with self._engine.connect() as conn:
            return list(await conn.execute(text(sql), params))

    async def _models(
        self, models: TypeAdapter[list[M]], sql: str, params: dict[str, Any]
    ) -> list[M]:
        async with self._engine.connect() as conn:
            return validated(models, await conn.execute(text(sql), params))

    async def time_to_release(self, scope: Scope) -> list[ReleaseDurations]:
        """Per line and over all lines (`all`, first, also when nothing matches): tickets whose
        first release of the line was published in the period, by severity.

        Each line's durations come in order from a covering index (its aggregate sorts
        nothing), packed (`float8send`: read here with no float object per value); the
        figures over all lines are computed here from them without merging them
        (`percentiles.of_sorted_runs` bisects the sorted runs): PostgreSQL sorted all 114,285
        durations again for them, 40 % of the statement, and merging them here took 12 ms of
        client CPU. Same interpolation as `percentile_cont`, the mean summed in PostgreSQL's
        input order (line by line). Without a line filter, one statement per line, all at once
        on their own pooled connections (as `dora`): reading 114,285 rows is most of the time,
        and one backend reads them on one core."""
        sla = ", count(*) FILTER (WHERE within_sla), count(within_sla), count(breached_at)"
        rows = await self._sorted_runs(scope, "time_to_release_s", also=sla)
        every = _release_durations(
            ALL_LINES,
            [r[1] for r in rows],
            sum(r[2] for r in rows),
            sum(r[3] for r in rows),
            sum(r[4] for r in rows),
        )
        return [every, *(_release_durations(r[0], [r[1]], *r[2:]) for r in rows)]

    async def _lines(self) -> list[str]:
        """Every line of `ticket_releases`, in order: one index probe per line."""
        sql = f"""
            WITH RECURSIVE lines AS (
                SELECT min(line) AS line FROM {self._s}.ticket_releases
                UNION ALL
                SELECT (SELECT min(t.line) FROM {self._s}.ticket_releases t
                        WHERE t.line > lines.line)
                FROM lines WHERE lines.line IS NOT NULL)
            SELECT line FROM lines WHERE line IS NOT NULL"""
        return [r[0] for r in await self._rows(sql, {})]

    async def _sorted_runs(
        self, scope: Scope, column: str, *, also: str = ""
    ) -> list[tuple[Any, ...]]:
        """Per line in scope: (line, its values of a `ticket_releases` duration in ascending
        order, then the `also` aggregates), one statement per line, all at once."""
        lines = [scope.line] if scope.line is not None else await self._lines()
        parts = await asyncio.gather(
            *(self._line_run(replace(scope, line=line), column, also) for line in lines)
        )
        return [row for part in parts for row in part]

    async def _line_run(self, scope: Scope, column: str, also: str) -> list[tuple[Any, ...]]:
        """One line's row of `_sorted_runs` (none when it has no value in scope)."""
        where, params = scope.where(
            f"{column} IS NOT NULL", time="published_at", line="line", severity="severity"
        )
        sql = f"""
            SELECT line, string_agg(float8send({column}), ''::bytea ORDER BY {column}){also}
            FROM {self._s}.ticket_releases{where} GROUP BY line"""
        return [(r[0], _unpacked(r[1]), *r[2:]) for r in await self._rows(sql, params)]

    async def rollback_rate(self, scope: Scope, *, by_version: bool = False) -> list[RollbackRate]:
        """Rollouts started in the period per line (and version): how many were rolled back
        at least once. Distinct rollouts, so never above 100%."""
        where, params = scope.where(time="started_at", line="line")
        version = "version" if by_version else "NULL::text"
        sets = "((line, version), ())" if by_version else "((line), ())"
        sql = f"""
            SELECT coalesce(line, '{ALL_LINES}'), {"version" if by_version else "NULL"},
                   count(*), count(*) FILTER (WHERE rolled_back)
            FROM (SELECT line, {version} AS version, rolled_back
                  FROM {STARTED_ROLLOUTS.format(s=self._s)} AS r{where}) AS started
            GROUP BY GROUPING SETS {sets} ORDER BY 1, 2 NULLS FIRST"""
        rows = await self._rows(sql, params)
        return [
            RollbackRate(
                line=r[0],
                version=r[1],
                rollouts_started=r[2],
                rolled_back=r[3],
                rollback_rate_pct=100.0 * r[3] / r[2] if r[2] else None,
            )
            for r in rows
        ]

    async def rollback_times(self, scope: Scope) -> list[RollbackTimes]:
        """Completed rollbacks detected in the period: detected -> rolled back, and how many
        overran their limit."""
        where, params = scope.where("completed_at IS NOT NULL", time="detected_at", line="line")
        sql = f"""
            SELECT coalesce(line, '{ALL_LINES}'), count(*),
                   percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY time_to_rollback_s),
                   max(time_to_rollback_s), count(*) FILTER (WHERE overran)
            FROM {ROLLBACKS.format(s=self._s)} AS b{where}
            GROUP BY GROUPING SETS ((line), ()) ORDER BY line NULLS FIRST"""
        return [
            RollbackTimes(
                line=r[0],
                rollbacks=r[1],
                p50=(r[2] or [None])[0],
                p90=(r[2] or [None, None])[1],
                max=r[3],
                overran=r[4],
            )
            for r in await self._rows(sql, params)
        ]

    async def overrun_rollbacks(self, scope: Scope, *, limit: int = LIST_LIMIT) -> list[Rollback]:
        """Rollbacks detected in the period that overran their time limit (also those still
        running past it), the `limit` latest."""
        where, params = scope.where("overran", time="detected_at", line="line")
        sql = f"""
            SELECT * FROM (
                SELECT rollout_id, line, version, detected_at, deadline, completed_at,
                       time_to_rollback_s AS seconds, overran
                FROM {ROLLBACKS.format(s=self._s)} AS b{where}
                ORDER BY detected_at DESC, rollout_id LIMIT {int(limit)}) AS latest
            ORDER BY detected_at, rollout_id"""
        return await self._models(_ROLLBACKS, sql, params)

    async def test_pass_rate(
        self,
        scope: Scope,
        *,
        candidate: str | None = None,
        suite: str | None = None,
        by_candidate: bool = False,
    ) -> list[PassRate]:
        """CI results reported in the period, per line and suite, and per candidate when asked
        (`by_candidate`, or a `candidate` chosen): a line has a candidate per release."""
        chosen = (("candidate_id = :candidate", candidate), ("suite = :suite", suite))
        extra = [condition for condition, value in chosen if value]
        where, params = scope.where(*extra, time="reported_at", line="line")
        per_candidate = by_candidate or candidate is not None
        per = "candidate_id" if per_candidate else "NULL::text"
        source = TEST_RUNS.format(s=self._s) if per_candidate else f"{self._s}.ci_results"
        sql = f"""
            SELECT line, {per} AS candidate, suite, sum(passed)::bigint, sum(failed)::bigint
            FROM {source} AS t{where}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        rows = await self._rows(sql, {**params, "candidate": candidate, "suite": suite})
        return [
            PassRate(
                line=r[0],
                candidate_id=r[1],
                suite=r[2],
                passed=r[3],
                failed=r[4],
                pass_rate_pct=100.0 * r[3] / (r[3] + r[4]) if r[3] + r[4] else None,
            )
            for r in rows
        ]

    async def flaky_tests(self, scope: Scope, *, limit: int = LIST_LIMIT) -> list[FlakySuite]:
        """The `limit` latest flaky suites of the period."""
        where, params = scope.where(time="failed_at", line="line")
        sql = (
            f"SELECT * FROM (SELECT * FROM {FLAKY.format(s=self._s)} AS f{where}"
            f" ORDER BY failed_at DESC, commit LIMIT {int(limit)}) AS latest"
            " ORDER BY failed_at, commit"
        )
        return await self._models(_FLAKY, sql, params)

    async def dora(self, scope: Scope, *, at: datetime) -> list[DoraKeys]:
        """Per line and over all lines, for the period [start, end) (default: from the first
        publication in scope to `at`): deployments (ReleasePublished), lead time (plan
        approved -> published), change failure rate (= rollback rate), recovery time
        (failure detected -> rolled back)."""
        # four independent statements, each on its own pooled connection: the answer waits
        # for the slowest (the lead time's median), not for their sum
        deployed, lead_times, failure_rates, recovery_times = await asyncio.gather(
            self._deployments(scope),
            self._lead_times(scope),
            self.rollback_rate(scope),
            self.rollback_times(scope),
        )
        if ALL_LINES not in deployed or deployed[ALL_LINES][0] == 0:
            return []
        start = scope.start or deployed[ALL_LINES][1]
        days = max((scope.end or at) - start, timedelta(days=1)) / timedelta(days=1)
        lead = {r.line: r for r in lead_times}
        failures = {r.line: r for r in failure_rates}
        recovery = {r.line: r for r in recovery_times}
        keys = []
        for line, (count, _) in sorted(
            deployed.items(), key=lambda kv: (kv[0] != ALL_LINES, kv[0])
        ):
            per_day = count / days
            lead_p50 = lead[line].p50 if line in lead else None
            cfr = failures[line].rollback_rate_pct if line in failures else None
            recovery_p50 = recovery[line].p50 if line in recovery else None
            keys.append(
                DoraKeys(
                    line=line,
                    days=round(days, 3),
                    deployments=count,
                    deployments_per_day=per_day,
                    deployment_frequency_bucket=dora.frequency_bucket(per_day),
                    lead_time_p50_s=lead_p50,
                    lead_time_bucket=dora.lead_time_bucket(lead_p50),
                    change_failure_rate_pct=cfr,
                    change_failure_bucket=dora.change_failure_bucket(cfr),
                    recovery_time_p50_s=recovery_p50,
                    recovery_bucket=dora.recovery_bucket(recovery_p50),
                )
            )
        return keys

    async def _deployments(self, scope: Scope) -> dict[str, tuple[int, datetime]]:
        """Per line and over all lines: releases published in the period, and the first."""
        where, params = scope.where(time="published_at", line="line")
        sql = (
            f"SELECT coalesce(line, '{ALL_LINES}'), count(*), min(published_at)"
            f" FROM {self._s}.release_publications{where} GROUP BY GROUPING SETS ((line), ())"
        )
        return {r[0]: (r[1], r[2]) for r in await self._rows(sql, params)}

    async def _lead_times(self, scope: Scope) -> list[ReleaseDurations]:
        where, params = scope.where(
            "lead_time_s IS NOT NULL", time="published_at", line="line", severity="severity"
        )
        sql = f"""
            SELECT coalesce(line, '{ALL_LINES}'),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_s)
            FROM {self._s}.ticket_releases{where} GROUP BY GROUPING SETS ((line), ())"""
        return [
            ReleaseDurations(
                line=r[0],
                count=0,
                p50=r[1],
                p90=None,
                p95=None,
                max=None,
                mean=None,
                sla_compliance_pct=None,
                sla_breaches=0,
            )
            for r in await self._rows(sql, params)
        ]


def _unpacked(packed: bytes) -> array[float]:
    """`float8send`'s values (IEEE 754 doubles, big-endian), as floats of this machine."""
    values = array("d", packed)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _release_durations(
    line: str, runs: Sequence[Sequence[float]], met: int, with_deadline: int, breaches: int
) -> ReleaseDurations:
    """The figures of durations given as runs in ascending order (a line's one, or every
    line's), their mean summed run after run (one `sum`, as over the runs joined)."""
    count = sum(len(run) for run in runs)
    return ReleaseDurations(
        line=line,
        count=count,
        p50=percentiles.of_sorted_runs(runs, 0.5),
        p90=percentiles.of_sorted_runs(runs, 0.9),
        p95=percentiles.of_sorted_runs(runs, 0.95),
        max=max((run[-1] for run in runs if run), default=None),
        mean=sum(chain.from_iterable(runs)) / count if count else None,
        sla_compliance_pct=100.0 * met / with_deadline if with_deadline else None,
        sla_breaches=breaches,
    )


M = TypeVar("M", bound=BaseModel)
_ROLLBACKS = TypeAdapter(list[Rollback])
_FLAKY = TypeAdapter(list[FlakySuite])


def validated(models: TypeAdapter[list[M]], rows: Result[Any]) -> list[M]:
    """The rows as models, validated as one list: for the lists of hundreds of rows, a fifth
    of the cost of a model per row."""
    columns = list(rows.keys())
    return models.validate_python([dict(zip(columns, row, strict=True)) for row in rows])


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
