"""Retrying a channel operation that failed transiently: a few attempts with a growing pause;
the last transient error is raised when they are used up (the caller answers 503 and records
nothing: publication is idempotent, so the release manager's retry picks up where this left)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from lts_release.channels.base import TransientChannelError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    first_pause_seconds: float = 0.5
    factor: float = 4.0

    def pause_before(self, attempt: int) -> float:
        """The pause before attempt `attempt` (2, 3, ...)."""
        return self.first_pause_seconds * self.factor ** (attempt - 2)


async def retried(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    for attempt in range(1, policy.attempts + 1):
        try:
            return await operation()
        except TransientChannelError:
            if attempt == policy.attempts:
                raise
            await sleep(policy.pause_before(attempt + 1))
    raise AssertionError("unreachable: the loop returns or raises")
