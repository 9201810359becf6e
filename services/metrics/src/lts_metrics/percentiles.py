"""Percentiles the way PostgreSQL's `percentile_cont` computes them (linear interpolation between
the closest ranks). The API computes them in SQL, except time-to-release's (`queries_release`,
from each line's sorted durations); tests check the SQL ones against this."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
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


def of_sorted_runs(runs: Sequence[Sequence[float]], fraction: float) -> float | None:
    """`of_sorted` of the merged runs (each in ascending order), without merging them: the two
    closest ranks are found by bisection, so 100,000 durations cost microseconds, not a sort."""
    count = sum(len(run) for run in runs)
    if not count:
        return None
    rank = fraction * (count - 1)
    low, high = math.floor(rank), math.ceil(rank)
    at_low = _kth(runs, low)
    at_high = at_low if high == low else _kth(runs, high)
    return at_low + (at_high - at_low) * (rank - low)


def _kth(runs: Sequence[Sequence[float]], k: int) -> float:
    """The value at 0-based rank `k` of the merged runs: a value of some run whose place among
    all values (from the number below it to the number up to it) covers `k`."""
    for run in runs:
        lo, hi = 0, len(run)
        while lo < hi:
            mid = (lo + hi) // 2
            value = run[mid]
            if sum(bisect_left(r, value) for r in runs) > k:
                hi = mid
            elif sum(bisect_right(r, value) for r in runs) <= k:
                lo = mid + 1
            else:
                return value
    raise IndexError(f"rank {k} is beyond the runs")
