"""When the local stack starts a dead process again, decided: pure, the loop is in
`supervision.py`.

The policy is docker-compose's `restart: unless-stopped` and Kubernetes' CrashLoopBackOff: a
process that dies is started again, at once the first time, then after a delay that doubles
with each quick death up to a cap, and back to no delay once it ran long enough."""

from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    """Seconds before the second restart in a row (the first is immediate)."""
    cap: float = 30.0
    """The longest wait between restarts."""
    stable_after: float = 60.0
    """A process that ran this long before dying is counted as having died once, not again."""

    def deaths_in_a_row(self, before: int, ran_for: float) -> int:
        """Quick deaths in a row, this one included."""
        return 1 if ran_for >= self.stable_after else before + 1

    def delay(self, deaths_in_a_row: int) -> float:
        """Seconds to wait before starting the process again."""
        if deaths_in_a_row <= 1:
            return 0.0
        return float(min(self.cap, self.first * 2 ** (deaths_in_a_row - 2)))


def describe_exit(returncode: int | None) -> str:
    """`exited with 3`, `killed by SIGKILL`, or `exited` when the code is unknown (a process that
    is not our child)."""
    if returncode is None:
        return "exited"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with {returncode}"
