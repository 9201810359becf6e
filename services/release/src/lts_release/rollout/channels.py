"""The port a rollback uses to act on the release channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RollbackChannels(Protocol):
    """Re-promote `to_version` (the previous safe version) and yank or mark `from_version`
    (published as `candidate_id`, when the rollout knows it) unsafe on every channel that
    supports it. Returns the names of the channels that withdrew `from_version`; raises when
    a channel could not act yet (the rollback is retried, so each action must be
    idempotent: yanking twice is yanking once)."""

    async def roll_back(
        self,
        *,
        candidate_id: str | None,
        line: str,
        from_version: str,
        to_version: str,
        reason: str,
    ) -> Sequence[str]: ...


class NoChannels:
    """No channel to act on: deployers act on `RollbackStarted` alone and the rollback
    completes at once. Used until the publication part's channels are wired in."""

    async def roll_back(
        self,
        *,
        candidate_id: str | None,
        line: str,
        from_version: str,
        to_version: str,
        reason: str,
    ) -> Sequence[str]:
        return ()
