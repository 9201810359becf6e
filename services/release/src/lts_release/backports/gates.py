"""Gates, pure: what the CI results of a patch branch say about the gates a backport requires.

The head commit is the commit first seen last on the branch: a result for a newer commit moves
the head (and re-opens every gate), a re-run on an older commit does not move it back. A gate
stands as its latest result on the head commit: only `passed` passes, `failed` fails, anything
else (pending, running, cancelled, skipped) leaves it open, and no result at all is missing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lts_events.contracts.release.backports import GateEvidence
from lts_events.contracts.release.ci import CiEvidence, CiResultRecorded, CiStatus, Gate


@dataclass(frozen=True, slots=True)
class GateRun:
    """One CI result that counts for a gate (mapped from `CiResultRecorded`)."""

    gate: Gate
    commit: str
    status: CiStatus
    job: str
    run_url: str | None
    evidence: CiEvidence
    event_id: str | None
    recorded_at: datetime

    @staticmethod
    def of(result: CiResultRecorded, event_id: str | None = None) -> GateRun | None:
        """None for a result of a job no gate pattern matched."""
        if result.gate is None:
            return None
        return GateRun(
            gate=result.gate,
            commit=result.commit,
            status=result.status,
            job=result.job,
            run_url=result.evidence.run_url,
            evidence=result.evidence,
            event_id=event_id,
            recorded_at=result.recorded_at,
        )


@dataclass(frozen=True, slots=True)
class BranchRuns:
    """A branch's gate results in the order they were recorded."""

    runs: tuple[GateRun, ...] = ()

    @staticmethod
    def of(runs: Iterable[GateRun]) -> BranchRuns:
        return BranchRuns(tuple(runs))

    @property
    def head(self) -> str | None:
        first_seen: dict[str, int] = {}
        for at, run in enumerate(self.runs):
            first_seen.setdefault(run.commit, at)
        return max(first_seen, key=first_seen.__getitem__) if first_seen else None

    def latest(self, commit: str) -> dict[Gate, GateRun]:
        latest: dict[Gate, GateRun] = {}
        for run in self.runs:
            if run.commit == commit:
                latest[run.gate] = run
        return latest


class GateStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"  # a result that is not a verdict (running, cancelled, skipped)
    MISSING = "missing"  # no result on the head commit
    SKIPPED = "skipped_by_fast_track"  # not essential, emergency: audited later


@dataclass(frozen=True, slots=True)
class GateState:
    gate: Gate
    status: GateStatus
    run: GateRun | None

    @property
    def satisfied(self) -> bool:
        return self.status in (GateStatus.PASSED, GateStatus.SKIPPED)

    def evidence(self) -> GateEvidence:
        run = self.run
        return GateEvidence(
            gate=self.gate,
            status="passed" if self.status is GateStatus.PASSED else "skipped_by_fast_track",
            job=run.job if run else None,
            run_url=run.run_url if run else None,
            ci_event_id=run.event_id if run else None,
            evidence=run.evidence if run else None,
        )


@dataclass(frozen=True, slots=True)
class GateReport:
    commit: str | None
    gates: tuple[GateState, ...]

    @property
    def passed(self) -> bool:
        return self.commit is not None and all(g.satisfied for g in self.gates)

    @property
    def skipped(self) -> tuple[Gate, ...]:
        return tuple(g.gate for g in self.gates if g.status is GateStatus.SKIPPED)

    def missing(self) -> tuple[str, ...]:
        """What keeps the gates from passing, in words a release manager reads."""
        if self.commit is None:
            return ("no CI result on the patch branch yet",)
        return tuple(
            f"gate {g.gate.value}: {g.status.value}" for g in self.gates if not g.satisfied
        )


_VERDICT = {CiStatus.PASSED: GateStatus.PASSED, CiStatus.FAILED: GateStatus.FAILED}


def evaluate(
    required: Sequence[Gate], runs: BranchRuns, *, fast_track: Sequence[Gate] | None = None
) -> GateReport:
    """Each required gate on the head commit. `fast_track`: the essential gates an emergency
    still runs; the other required gates are skipped (and reported as such)."""
    head = runs.head
    latest = runs.latest(head) if head is not None else {}
    states = []
    for gate in required:
        run = latest.get(gate)
        if fast_track is not None and gate not in fast_track:
            passed = run is not None and run.status is CiStatus.PASSED
            status = GateStatus.PASSED if passed else GateStatus.SKIPPED
        elif run is None:
            status = GateStatus.MISSING
        else:
            status = _VERDICT.get(run.status, GateStatus.PENDING)
        states.append(GateState(gate, status, run))
    return GateReport(head, tuple(states))
