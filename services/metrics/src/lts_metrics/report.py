"""The weekly report (`lts metrics report --week 2026-W49`): every metric for one ISO week as
Markdown and as HTML (the same tables, plus the dashboard's SVG charts). Pure: the figures in
(`WeekFigures`, gathered by `report_io`), the documents out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape

from pydantic import BaseModel

from lts_metrics import dashboard_release
from lts_metrics.charts import Bar, bar_chart
from lts_metrics.dashboard_page import STYLE
from lts_metrics.queries import DurationStats, SlaStats
from lts_metrics.queries_adoption import AdoptionShare, FastTrackAudit
from lts_metrics.queries_release import (
    DoraKeys,
    FlakySuite,
    PassRate,
    ReleaseDurations,
    Rollback,
    RollbackRate,
    RollbackTimes,
)

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """ISO week `YYYY-Www` -> [its Monday 00:00 UTC, the next Monday 00:00 UTC)."""
    match = _WEEK.match(week)
    if match is None:
        raise ValueError(f"not an ISO week (YYYY-Www): {week!r}")
    monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


@dataclass
class WeekFigures:
    week: str
    start: datetime
    end: datetime
    durations: list[DurationStats] = field(default_factory=list)
    sla: list[SlaStats] = field(default_factory=list)
    time_to_release: list[ReleaseDurations] = field(default_factory=list)
    rollback_rate: list[RollbackRate] = field(default_factory=list)
    rollback_times: list[RollbackTimes] = field(default_factory=list)
    overruns: list[Rollback] = field(default_factory=list)
    pass_rate: list[PassRate] = field(default_factory=list)
    flaky: list[FlakySuite] = field(default_factory=list)
    dora: list[DoraKeys] = field(default_factory=list)
    adoption: list[AdoptionShare] = field(default_factory=list)
    audits: list[FastTrackAudit] = field(default_factory=list)


def sections(f: WeekFigures) -> list[tuple[str, Sequence[BaseModel], list[str]]]:
    """(title, rows, columns) of every table, in the report's order."""
    return [
        (
            "DORA keys",
            f.dora,
            [
                "line",
                "deployments",
                "deployment_frequency_bucket",
                "lead_time_p50_s",
                "lead_time_bucket",
                "change_failure_rate_pct",
                "change_failure_bucket",
                "recovery_time_p50_s",
                "recovery_bucket",
            ],
        ),
        (
            "Time to triage, plan and approval (tickets opened this week, seconds)",
            f.durations,
            ["metric", "count", "p50", "p90", "p95", "max", "sla_compliance_pct"],
        ),
        (
            "SLA compliance (tickets opened this week, at the week's end)",
            f.sla,
            ["sla", "met", "missed", "open_overdue", "pending", "breaches", "compliance_pct"],
        ),
        (
            "Time to release (first releases this week, seconds)",
            f.time_to_release,
            ["line", "count", "p50", "p90", "p95", "max", "sla_compliance_pct", "sla_breaches"],
        ),
        (
            "Rollback rate (rollouts started this week)",
            f.rollback_rate,
            ["line", "rollouts_started", "rolled_back", "rollback_rate_pct"],
        ),
        (
            "Time to rollback (detected this week, seconds)",
            f.rollback_times,
            ["line", "rollbacks", "p50", "p90", "max", "overran"],
        ),
        (
            "Rollbacks that overran their limit",
            f.overruns,
            ["rollout_id", "line", "version", "detected_at", "deadline", "completed_at", "seconds"],
        ),
        (
            "Test pass rate (CI results this week)",
            f.pass_rate,
            ["line", "candidate_id", "suite", "passed", "failed", "pass_rate_pct"],
        ),
        ("Flaky suites", f.flaky, ["commit", "line", "job", "suite", "failed_at", "passed_at"]),
        (
            "Adoption of the newest patch",
            f.adoption,
            ["day", "kind", "package", "line", "newest_version", "on_newest", "total", "share_pct"],
        ),
        (
            "Post-facto audits of emergency fast-tracks (at the week's end)",
            [
                a
                for a in f.audits
                if a.status != "closed" or (a.closed_at and a.closed_at >= f.start)
            ],
            ["ticket_id", "follow_up", "severity", "due_at", "closed_at", "status", "closed_late"],
        ),
    ]


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return str(value)


def markdown(f: WeekFigures) -> str:
    lines = [
        f"# LTS Flow metrics, week {f.week}",
        "",
        f"{f.start:%Y-%m-%d} to {f.end - timedelta(days=1):%Y-%m-%d} (UTC). Definitions: the"
        " metrics service's README.",
    ]
    for title, rows, columns in sections(f):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("No data this week.")
            continue
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            values = row.model_dump()
            lines.append("| " + " | ".join(_md(cell(values[c])) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def html(f: WeekFigures) -> str:
    charts = dashboard_release.cards(
        dashboard_release.ReleaseFigures(
            time_to_release=f.time_to_release,
            rollback_rate=f.rollback_rate,
            rollback_times=f.rollback_times,
            pass_rate=f.pass_rate,
            flaky=f.flaky,
            dora=f.dora,
        )
    )
    triage = [
        Bar(
            s.metric.removeprefix("time-to-"),
            v / 3600 if v is not None else None,
            "no data" if v is None else f"{v / 3600:.1f} h",
            group=name,
        )
        for s in f.durations
        for name, v in (("p50", s.p50), ("p90", s.p90))
    ]
    cards = [
        ("durations", "Time to triage, plan and approval", bar_chart("durations", triage)),
        *charts,
    ]
    body = "".join(f"<section class='card'><h2>{escape(t)}</h2>{b}</section>" for _, t, b in cards)
    tables = "".join(_table(title, rows, columns) for title, rows, columns in sections(f))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>LTS Flow metrics, week {escape(f.week)}</title><style>{STYLE}</style></head>"
        f"<body><header><h1>LTS Flow metrics, week {escape(f.week)}</h1>"
        f"<p class='asof'>{f.start:%Y-%m-%d} to {f.end - timedelta(days=1):%Y-%m-%d} UTC</p>"
        f"</header><main>{body}</main><main class='tables'>{tables}</main></body></html>"
    )


def _table(title: str, rows: Sequence[BaseModel], columns: list[str]) -> str:
    if not rows:
        return (
            f"<section class='card'><h2>{escape(title)}</h2><p class='note'>No data.</p></section>"
        )
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(r.model_dump()[c]))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return (
        f"<section class='card'><h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )
