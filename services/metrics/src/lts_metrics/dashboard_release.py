"""The release cards of the dashboard (pure): time to release, rollback rate and time, test pass
rate, the DORA keys. Same figures as `/metrics/...` (`queries_release`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from lts_metrics.charts import Bar, bar_chart, tile
from lts_metrics.queries_release import (
    ALL_LINES,
    DoraKeys,
    FlakySuite,
    PassRate,
    ReleaseDurations,
    RollbackRate,
    RollbackTimes,
)

DAY = 86_400.0


@dataclass
class ReleaseFigures:
    time_to_release: list[ReleaseDurations] = field(default_factory=list)
    rollback_rate: list[RollbackRate] = field(default_factory=list)
    rollback_times: list[RollbackTimes] = field(default_factory=list)
    pass_rate: list[PassRate] = field(default_factory=list)
    flaky: list[FlakySuite] = field(default_factory=list)
    dora: list[DoraKeys] = field(default_factory=list)


def days(seconds: float | None) -> str:
    return "no data" if seconds is None else f"{seconds / DAY:.1f} d"


def duration(seconds: float | None) -> str:
    """Minutes under an hour, hours under two days, else days."""
    if seconds is None:
        return "no data"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return days(seconds)


def cards(figures: ReleaseFigures) -> list[tuple[str, str, str]]:
    return [
        ("dora", "DORA keys", _dora(figures.dora)),
        ("time-to-release", "Time to release per line (days)", _time_to_release(figures)),
        ("rollbacks", "Rollback rate per line", _rollbacks(figures)),
        ("pass-rate", "Test pass rate per line", _pass_rate(figures)),
    ]


def _time_to_release(figures: ReleaseFigures) -> str:
    bars = [
        Bar(r.line, value / DAY if value is not None else None, days(value), group=name)
        for r in figures.time_to_release
        for name, value in (("p50", r.p50), ("p90", r.p90), ("p95", r.p95))
    ]
    sla = "; ".join(
        f"{r.line}: {r.count} tickets, SLA "
        + ("n/a" if r.sla_compliance_pct is None else f"{r.sla_compliance_pct:.1f}%")
        for r in figures.time_to_release
    )
    return bar_chart("time-to-release", bars) + f"<p class='note'>{escape(sla)}</p>"


def _rollbacks(figures: ReleaseFigures) -> str:
    bars = [
        Bar(r.line, r.rollback_rate_pct, _pct(r.rollback_rate_pct)) for r in figures.rollback_rate
    ]
    times = "; ".join(
        f"{t.line}: {t.rollbacks} rollbacks, p50 {duration(t.p50)}, {t.overran} overran"
        for t in figures.rollback_times
    )
    return bar_chart("rollback-rate", bars, maximum=100.0) + f"<p class='note'>{escape(times)}</p>"


def _pass_rate(figures: ReleaseFigures) -> str:
    per_line: dict[str, list[int]] = {}
    for row in figures.pass_rate:
        counts = per_line.setdefault(row.line or "unknown", [0, 0])
        counts[0] += row.passed
        counts[1] += row.failed
    bars = [
        Bar(line, rate, _pct(rate))
        for line, (passed, failed) in sorted(per_line.items())
        for rate in [100.0 * passed / (passed + failed) if passed + failed else None]
    ]
    flaky = ", ".join(f"{f.suite}@{f.commit[:10]}" for f in figures.flaky) or "none"
    return bar_chart("pass-rate", bars, maximum=100.0) + (
        f"<p class='note'>flaky suites: {escape(flaky)}</p>"
    )


def _dora(keys: list[DoraKeys]) -> str:
    if not keys:
        return "<p class='empty' data-chart='dora'>no releases for these filters</p>"
    overall = next((k for k in keys if k.line == ALL_LINES), keys[0])
    per_week = None if overall.deployments_per_day is None else overall.deployments_per_day * 7
    tiles = "".join(
        [
            _tile(
                "dora-frequency",
                "Deployment frequency",
                "no data" if per_week is None else f"{per_week:.1f} / week",
                overall.deployment_frequency_bucket,
            ),
            _tile(
                "dora-lead-time",
                "Lead time (median)",
                duration(overall.lead_time_p50_s),
                overall.lead_time_bucket,
            ),
            _tile(
                "dora-change-failure",
                "Change failure rate",
                _pct(overall.change_failure_rate_pct),
                overall.change_failure_bucket,
            ),
            _tile(
                "dora-recovery",
                "Recovery time (median)",
                duration(overall.recovery_time_p50_s),
                overall.recovery_bucket,
            ),
        ]
    )
    rows = "".join(
        f"<tr data-line='{escape(k.line)}'><td>{escape(k.line)}</td><td>{k.deployments}</td>"
        f"<td>{escape(k.deployment_frequency_bucket or '')}</td>"
        f"<td>{escape(k.lead_time_bucket or '')}</td>"
        f"<td>{escape(k.change_failure_bucket or '')}</td>"
        f"<td>{escape(k.recovery_bucket or '')}</td></tr>"
        for k in keys
        if k.line != ALL_LINES
    )
    return (
        f"<div class='tiles'>{tiles}</div><table class='dora'><thead><tr><th>line</th>"
        "<th>deployments</th><th>frequency</th><th>lead time</th><th>change failure</th>"
        f"<th>recovery</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _tile(tile_id: str, title: str, shown: str, bucket: str | None) -> str:
    tone = {"elite": "good", "high": "good", "low": "bad"}.get(bucket or "", "")
    return tile(tile_id, title, shown, note=bucket or "no bucket", tone=tone)


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f}%"
