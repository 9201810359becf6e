"""Charts as inline SVG, rendered on the server (no script, no external asset). Pure: data in,
markup out. Each mark carries its value (`data-value`) and prints it, so a reader (and the
browser test) sees the same number the API answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6db5", "#e07b26", "#3a9a55", "#b8405e", "#7b5cb8", "#6b7b8c")
WIDTH = 560
ROW = 26
LABEL_WIDTH = 150


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    shown: str
    """The value as printed (unit and rounding chosen by the caller)."""
    group: str = ""
    """Bars of one group share a colour (e.g. p50, p90, p95)."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[str, float]]
    """(x label, y value), in x order."""


def bar_chart(chart_id: str, bars: Sequence[Bar], *, maximum: float | None = None) -> str:
    """Horizontal bars, one row each; a bar without a value says 'no data'."""
    if not bars:
        return _empty(chart_id)
    groups = list(dict.fromkeys(b.group for b in bars))
    top = maximum or max((b.value or 0.0 for b in bars), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - 90
    height = ROW * len(bars) + 10
    parts = [
        f'<svg class="chart-svg" data-chart="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" aria-label="{escape(chart_id)}">'
    ]
    for i, bar in enumerate(bars):
        y = 5 + i * ROW
        colour = PALETTE[groups.index(bar.group) % len(PALETTE)]
        label = f"{bar.label} {bar.group}".strip()
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end" class="label">'
            f"{escape(label)}</text>"
        )
        if bar.value is None:
            parts.append(f'<text x="{LABEL_WIDTH}" y="{y + 16}" class="value none">no data</text>')
            continue
        length = max(1.0, span * min(bar.value, top) / top) if bar.value > 0 else 0.0
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="18"'
            f' fill="{colour}" data-label="{escape(label)}" data-value="{bar.value:.6g}">'
            f"<title>{escape(label)}: {escape(bar.shown)}</title></rect>"
        )
        parts.append(
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 16}" class="value"'
            f' data-label="{escape(label)}">{escape(bar.shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(chart_id: str, series: Sequence[Series], *, unit: str = "", top: float = 0.0) -> str:
    """Lines over shared x labels (their order of first appearance); the last point of each
    line is labelled with its value."""
    xs = list(dict.fromkeys(x for s in series for x, _ in s.points))
    if not xs:
        return _empty(chart_id)
    height, left, right, bottom = 220, 44, 110, 30
    top_value = max([top, *(v for s in series for _, v in s.points)]) or 1.0
    plot_w, plot_h = WIDTH - left - right, height - bottom - 10

    def x_of(label: str) -> float:
        return left + (plot_w * xs.index(label) / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return 10 + plot_h * (1 - value / top_value)

    parts = [
        f'<svg class="chart-svg" data-chart="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" aria-label="{escape(chart_id)}">',
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{left + plot_w}" y2="{10 + plot_h}"'
        ' class="axis"/>',
        f'<text x="{left - 4}" y="14" text-anchor="end" class="tick">{top_value:.4g}{unit}</text>',
        f'<text x="{left - 4}" y="{10 + plot_h}" text-anchor="end" class="tick">0</text>',
        f'<text x="{left}" y="{height - 8}" class="tick">{escape(xs[0])}</text>',
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" class="tick">'
        f"{escape(xs[-1])}</text>",
    ]
    for i, line in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{x_of(x):.1f},{y_of(v):.1f}" for x, v in line.points)
        parts.append(
            f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2"'
            f' points="{points}" data-series="{escape(line.name)}"/>'
        )
        for x, v in line.points:
            parts.append(
                f'<circle class="point" cx="{x_of(x):.1f}" cy="{y_of(v):.1f}" r="3"'
                f' fill="{colour}" data-series="{escape(line.name)}" data-x="{escape(x)}"'
                f' data-value="{v:.6g}"><title>{escape(line.name)} {escape(x)}: {v:.4g}{unit}'
                "</title></circle>"
            )
        if line.points:
            x, v = line.points[-1]
            parts.append(
                f'<text x="{x_of(x) + 6:.1f}" y="{y_of(v) + 4:.1f}" class="value"'
                f' data-series="{escape(line.name)}">{escape(line.name)}: {v:.4g}{unit}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def tile(tile_id: str, title: str, shown: str, *, note: str = "", tone: str = "") -> str:
    """One headline figure (a DORA key, a rate) with a note under it (e.g. its bucket)."""
    return (
        f'<div class="tile {escape(tone)}" data-tile="{escape(tile_id)}">'
        f'<div class="tile-title">{escape(title)}</div>'
        f'<div class="tile-value">{escape(shown)}</div>'
        f'<div class="tile-note">{escape(note)}</div></div>'
    )


def _empty(chart_id: str) -> str:
    return f'<p class="empty" data-chart="{escape(chart_id)}">no data for these filters</p>'
