"""The built-in dashboard's page: server-rendered HTML with inline SVG charts (`charts`) and
inline styles, nothing fetched from anywhere. Pure: the figures in, the page out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from lts_metrics.charts import Bar, Series, bar_chart, line_chart, tile
from lts_metrics.queries import Backlog, DurationStats, SlaStats
from lts_metrics.queries_adoption import AdoptionShare, FastTrackAudit

PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "all": None}
SEVERITIES = ("blocker", "critical", "high", "medium", "low")
HOUR = 3600.0


@dataclass(frozen=True)
class Choice:
    """The filters as chosen on the page."""

    line: str | None = None
    severity: str | None = None
    period: str = "all"
    token: str | None = None
    lines: Sequence[str] = ()
    """Lines to offer (those with data)."""


@dataclass
class Figures:
    at: datetime
    durations: list[DurationStats] = field(default_factory=list)
    sla: list[SlaStats] = field(default_factory=list)
    backlog: Backlog | None = None
    adoption: list[AdoptionShare] = field(default_factory=list)
    audits: list[FastTrackAudit] = field(default_factory=list)
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    """Extra cards (id, title, body markup), e.g. the release metrics."""


def hours(seconds: float | None) -> str:
    return "no data" if seconds is None else f"{seconds / HOUR:.1f} h"


def percent(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f}%"


def render(figures: Figures, choice: Choice) -> str:
    cards = [
        _card("durations", "Time to triage, plan and approval (hours)", _durations(figures)),
        _card("sla", "SLA compliance", _sla(figures)),
        _card("backlog", "Open tickets by severity", _backlog(figures)),
        *(_card(card_id, title, body) for card_id, title, body in figures.sections),
        _card("adoption", "Adoption of the newest patch per line", _adoption(figures)),
        _card("audits", "Post-facto audits of emergency fast-tracks", _audits(figures)),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>LTS Flow metrics</title><style>{STYLE}</style></head><body>"
        f"<header><h1>LTS Flow metrics</h1>{_form(choice)}"
        f"<p class='asof'>as of {escape(figures.at.strftime('%Y-%m-%d %H:%M UTC'))}</p></header>"
        f"<main>{''.join(cards)}</main></body></html>"
    )


def _card(card_id: str, title: str, body: str) -> str:
    return f"<section class='card' id='{escape(card_id)}'><h2>{escape(title)}</h2>{body}</section>"


def _form(choice: Choice) -> str:
    def select(name: str, options: Sequence[tuple[str, str]], chosen: str | None) -> str:
        items = "".join(
            f"<option value='{escape(v)}'{' selected' if v == (chosen or '') else ''}>"
            f"{escape(text)}</option>"
            for v, text in options
        )
        return f"<label>{name} <select name='{name}'>{items}</select></label>"

    token = (
        f"<input type='hidden' name='token' value='{escape(choice.token)}'>" if choice.token else ""
    )
    return (
        "<form method='get' action='' class='filters'>"
        + select("line", [("", "all lines"), *((x, x) for x in choice.lines)], choice.line)
        + select("severity", [("", "all"), *((x, x) for x in SEVERITIES)], choice.severity)
        + select("period", [(p, p) for p in PERIODS], choice.period)
        + token
        + "<button type='submit'>apply</button></form>"
    )


def _durations(figures: Figures) -> str:
    bars = [
        Bar(
            stats.metric.removeprefix("time-to-"),
            value / HOUR if value is not None else None,
            hours(value),
            group=name,
        )
        for stats in figures.durations
        for name, value in (("p50", stats.p50), ("p90", stats.p90), ("p95", stats.p95))
    ]
    counts = ", ".join(f"{s.metric}: {s.count}" for s in figures.durations)
    return bar_chart("durations", bars) + f"<p class='note'>tickets: {escape(counts)}</p>"


def _sla(figures: Figures) -> str:
    bars = [Bar(f"{s.sla} SLA", s.compliance_pct, percent(s.compliance_pct)) for s in figures.sla]
    detail = "; ".join(
        f"{s.sla}: {s.met} met, {s.missed} missed, {s.open_overdue} overdue, {s.pending} pending"
        for s in figures.sla
    )
    return bar_chart("sla", bars, maximum=100.0) + f"<p class='note'>{escape(detail)}</p>"


def _backlog(figures: Figures) -> str:
    rows = figures.backlog.by_severity if figures.backlog else []
    bars = [Bar(r.severity or "unknown", float(r.count), str(r.count)) for r in rows]
    return bar_chart("backlog", bars)


def _adoption(figures: Figures) -> str:
    latest: dict[tuple[str, str], AdoptionShare] = {}
    for row in figures.adoption:  # ordered by day: the last one per line and kind wins
        latest[(row.line, row.kind)] = row
    bars = [
        Bar(f"{line} ({row.newest_version})", row.share_pct, percent(row.share_pct), group=kind)
        for (line, kind), row in sorted(latest.items())
    ]
    over_time = [
        Series(
            f"{line} {kind}",
            [
                (r.day.isoformat(), r.share_pct or 0.0)
                for r in figures.adoption
                if (r.line, r.kind) == (line, kind)
            ],
        )
        for line, kind in sorted(latest)
    ]
    return bar_chart("adoption-latest", bars, maximum=100.0) + line_chart(
        "adoption-over-time", over_time, unit="%", top=100.0
    )


def _audits(figures: Figures) -> str:
    counts = {status: 0 for status in ("open", "overdue", "closed")}
    for audit in figures.audits:
        counts[audit.status] += 1
    tiles = "".join(
        tile(f"audits-{s}", s, str(n), tone="bad" if s == "overdue" and n else "")
        for s, n in counts.items()
    )
    listed = [a for a in figures.audits if a.status != "closed"]
    rows = "".join(
        f"<tr class='{escape(a.status)}'><td>{a.ticket_id}</td><td>{escape(a.follow_up)}</td>"
        f"<td>{escape(a.severity or '')}</td>"
        f"<td>{escape(a.due_at.strftime('%Y-%m-%d %H:%M') if a.due_at else '')}</td>"
        f"<td>{escape(a.status)}</td></tr>"
        for a in listed
    )
    table = (
        "<table class='audits'><thead><tr><th>ticket</th><th>follow-up</th><th>severity</th>"
        f"<th>due (UTC)</th><th>status</th></tr></thead><tbody>{rows}</tbody></table>"
        if listed
        else "<p class='note'>nothing open</p>"
    )
    return f"<div class='tiles'>{tiles}</div>{table}"


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f6f8;
color:#1d2630}
header{background:#1d2630;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;
align-items:center;gap:16px}
h1{font-size:20px;margin:0 16px 0 0}
.filters label{margin-right:10px;font-size:14px}
.filters select,.filters button{font-size:14px;padding:2px 6px}
.asof{font-size:13px;opacity:.8;margin:0 0 0 auto}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px;
padding:16px 24px}
.card{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 3px #0002}
h2{font-size:16px;margin:0 0 8px}
.chart-svg text{font-size:12px;fill:#1d2630}
.chart-svg .tick{fill:#6b7b8c;font-size:11px}
.chart-svg .axis{stroke:#c0c8d0}
.note{font-size:12px;color:#4a5865;margin:4px 0}
.empty{color:#6b7b8c;font-style:italic}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:8px}
.tile{border:1px solid #d5dbe1;border-radius:6px;padding:8px 12px;min-width:120px}
.tile.bad{border-color:#b8405e;background:#fbeef1}
.tile.good{border-color:#3a9a55;background:#eef8f1}
.tile-title{font-size:12px;color:#4a5865}
.tile-value{font-size:22px;font-weight:600}
.tile-note{font-size:12px;color:#4a5865}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e7eb}
tr.overdue td{color:#9b2c45;font-weight:600}
"""
