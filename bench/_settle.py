"""Between benches, wait until the machine is quiet: one bench's aftermath (the broker deleting
or compacting what it was sent, PostgreSQL's autovacuum of the tables just filled, processes
still stopping) must not be measured as the next bench's cost. Whole `make bench` runs measured
the pipeline 10-20% below runs of it alone for that reason (docs/performance.md, "Pipeline")."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import NamedTuple

QUIET_BUSY_CORES = 0.25
"""The machine counts as quiet once this many cores or fewer were busy over a window."""
WINDOW_S = 1.0
LONGEST_WAIT_S = 30.0
"""A machine that other jobs keep busy is measured as it is after this long (and said so)."""


class CpuTimes(NamedTuple):
    busy: int  # jiffies spent on work of this machine: user, nice, system, irq, softirq
    total: int  # the same plus idle and iowait (steal is the host's, not this machine's)


def cpu_times(stat: str | None = None) -> CpuTimes:
    """The machine's aggregate CPU times from `/proc/stat` (or the text given)."""
    line = (stat if stat is not None else Path("/proc/stat").read_text()).splitlines()[0]
    user, nice, system, idle, iowait, irq, softirq = (int(v) for v in line.split()[1:8])
    busy = user + nice + system + irq + softirq
    return CpuTimes(busy=busy, total=busy + idle + iowait)


def busy_cores(before: CpuTimes, after: CpuTimes, cores: int) -> float:
    """How many cores were busy on average between two readings."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return 0.0
    return cores * (after.busy - before.busy) / elapsed


async def settle(
    *, quiet: float = QUIET_BUSY_CORES, longest: float = LONGEST_WAIT_S
) -> tuple[float, float]:
    """Wait until a window of WINDOW_S had at most `quiet` busy cores, or `longest` seconds
    passed; (seconds waited, busy cores of the last window)."""
    cores = os.cpu_count() or 1
    started = time.monotonic()
    while True:
        before = cpu_times()
        await asyncio.sleep(WINDOW_S)
        busy = busy_cores(before, cpu_times(), cores)
        waited = time.monotonic() - started
        if busy <= quiet or waited >= longest:
            return waited, busy
