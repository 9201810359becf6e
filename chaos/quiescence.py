"""Waiting until the run has settled: every relay at its store's head, no consumer lag, and the
stores' counts unchanged over a settling interval; or the timeout."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from chaos.observe import Snapshot

log = logging.getLogger(__name__)


def settled(previous: Snapshot | None, current: Snapshot) -> bool:
    return (
        previous is not None
        and not current.relays_behind
        and current.lag == 0
        and current.events == previous.events
    )


async def wait_quiescent(
    observe: Callable[[], Awaitable[Snapshot]], *, within: float, settle: float = 3.0
) -> bool:
    """True once two observations `settle` seconds apart are settled; False after `within`
    seconds. An observation that fails (the broker or the server is coming back) starts over."""
    deadline = time.monotonic() + within
    previous: Snapshot | None = None
    while time.monotonic() < deadline:
        try:
            current = await asyncio.wait_for(observe(), timeout=30.0)
        except Exception as error:
            log.info("quiescence: not observable yet (%s)", type(error).__name__)
            previous = None
        else:
            if settled(previous, current):
                return True
            log.info("quiescence: %s", current)
            previous = current
        await asyncio.sleep(settle)
    return False
