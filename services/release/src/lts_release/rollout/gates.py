"""What a progressive-delivery controller asking this service is told, from the rollout's
state. Flagger's gate webhooks go on a 2xx and halt otherwise; its `rollback` hook rolls
back on a 2xx. Argo Rollouts' web metric reads `success`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lts_release.rollout.state import RolloutState

FlaggerHook = Literal[
    "confirm-rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "pre-rollout",
    "rollout",
    "post-rollout",
    "rollback",
    "event",
]
"""Every webhook type of Flagger's Canary (fluxcd/flagger pkg/apis/flagger/v1beta1
HookType), so that a Canary may send any of them here."""


@dataclass(frozen=True, slots=True)
class Verdict:
    go: bool
    reason: str


def healthy(state: RolloutState) -> Verdict:
    """Analysis holds: running or done, no check failing or inconclusive (a dry run's
    readings never hold a controller back)."""
    if state.status in ("rolling_back", "rolled_back"):
        return Verdict(False, f"rollout {state.status.replace('_', ' ')}")
    if state.status == "halted":
        return Verdict(False, f"rollout halted: {state.halted_reason}")
    started = state.started
    if started is not None and not (started.dry_run or started.analysis_skipped):
        if failing := state.failing():
            return Verdict(False, "failing: " + ", ".join(failing))
        if unknown := state.inconclusive():
            return Verdict(False, "inconclusive: " + ", ".join(unknown))
    return Verdict(True, f"rollout {state.status} at {state.weight}%")


def flagger_verdict(state: RolloutState, hook: FlaggerHook) -> Verdict:
    match hook:
        case "rollback":
            rolling_back = state.status in ("rolling_back", "rolled_back")
            why = "roll back" if rolling_back else f"no rollback: rollout {state.status}"
            return Verdict(rolling_back, why)
        case "confirm-promotion":
            if state.status == "completed" or (state.status == "progressing" and state.last_phase):
                return healthy(state)
            return Verdict(
                False, f"not promoted yet: phase {state.phase + 1} of {len(state.phases)}"
            )
        case "confirm-rollout" | "confirm-traffic-increase" | "pre-rollout" | "rollout":
            # pre-rollout and rollout failures count toward the analysis threshold
            if state.status == "completed":
                return Verdict(True, "rollout completed")
            return healthy(state)
        case "post-rollout" | "event":  # Flagger only logs their failures: nothing to halt
            return Verdict(True, f"noted: rollout {state.status}")
