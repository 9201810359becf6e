"""Percentiles the way PostgreSQL's `percentile_cont` computes them (linear interpolation between
the closest ranks). The API computes them in SQL, except time-to-release's over all lines
(`queries_release`, from the lines' sorted durations); tests check the SQL ones against this."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    if not values:
        return None
    return of_sorted(sorted(values), fraction)


def of_sorted(ordered: Sequence[float], fraction: float) -> float | None:
    """`percentile_cont` of values already in ascending order (no sort)."""
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
