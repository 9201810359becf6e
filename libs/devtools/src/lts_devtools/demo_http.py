"""What every step of `lts demo` shares: the console it prints to, dev tokens, answers checked,
and waiting on a condition (polled over HTTP) with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

console = Console()
if not console.is_terminal:  # piped (e.g. `lts dev` logs): wide enough for the timeline
    console = Console(width=160)


class StepFailed(RuntimeError):
    pass


def token(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-{role}"}


def check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise StepFailed(f"{what} answered {response.status_code}: {response.text[:300]}")


async def wait_for(what: str, probe: Callable[[], Awaitable[Any]], seconds: float) -> Any:
    """The probe's first answer that is not None, polled for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.3)
    raise StepFailed(f"timed out after {seconds:.0f} s waiting for {what}")
