"""How long to wait before the next try of a delivery, and when to stop: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` tries in all; after failed try n the next is due
    `min(max_delay, base_delay * 2**(n-1))` later (no jitter: one delivery's retries are not in
    step with anyone's)."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def retry_at(self, *, failed_attempt: int, failed_at: datetime) -> datetime | None:
        """When try `failed_attempt + 1` is due, or None when `failed_attempt` was the last."""
        if failed_attempt >= self.max_attempts:
            return None
        delay: timedelta = self.base_delay * 2 ** min(failed_attempt - 1, 30)
        return failed_at + min(delay, self.max_delay)
