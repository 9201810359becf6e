"""Staging's decisions on a candidate, pure: may this upload or seal happen, and what is
recorded. The shell (`staging/service.py`) does the I/O around them.

Rules:
- only an opened candidate takes uploads; a sealed one never changes (409);
- an artifact name is a plain file name (`names.artifact_name_problem`, 422);
- a name keeps its first digest: the same bytes again are a no-op, other bytes a 409;
- an SBOM from CI (`sbom_for`) names an artifact already uploaded; one per artifact;
- sealing needs at least one artifact; sealing a sealed candidate answers the seal it has."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lts_events.contracts.release.backports import BackportReady
from lts_events.contracts.release.staging import ArtifactStored
from lts_events.event import Event

from lts_release.candidate import CandidateState
from lts_release.staging import names
from lts_release.staging.manifest import ManifestBackport
from lts_release.staging.seal import SealRequest, StagedArtifact


class RefusalKind(StrEnum):
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    INVALID = "invalid"  # 422


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
    reason: str
    field: str | None = None  # the input it is about (`name`, `sbom_for`, `sha256`)


@dataclass(frozen=True)
class Received:
    """An upload as the store received it."""

    name: str
    sha256: str
    size: int
    media_type: str
    sbom_for: str | None


def refuse_upload(
    state: CandidateState, candidate_id: str, name: str, sbom_for: str | None
) -> Refusal | None:
    """Checked before any byte is received."""
    if not state.exists:
        return Refusal(RefusalKind.NOT_FOUND, f"no candidate {candidate_id}")
    if state.sealed is not None:
        return Refusal(
            RefusalKind.CONFLICT, f"candidate {candidate_id} is sealed: its files never change"
        )
    problem = names.artifact_name_problem(sbom_for if sbom_for is not None else name)
    if problem is not None:
        return Refusal(RefusalKind.INVALID, problem, "sbom_for" if sbom_for else "name")
    if sbom_for is not None and staged_as(state, sbom_for, None) is None:
        return Refusal(
            RefusalKind.INVALID,
            f"sbom_for names {sbom_for!r}, which is not uploaded yet",
            "sbom_for",
        )
    return None


def record_upload(
    state: CandidateState, received: Received, *, uploaded_by: str, now: datetime
) -> ArtifactStored | Refusal | None:
    """The event to append; None when the same bytes are already staged under that name."""
    candidate_id = state.candidate_id or ""
    before = refuse_upload(state, candidate_id, received.name, received.sbom_for)
    if before is not None:  # the state may have moved while the bytes streamed in
        return before
    existing = staged_as(state, received.name, received.sbom_for)
    if existing is not None and existing.sha256 == received.sha256:
        return None
    if existing is not None:
        what = f"the SBOM of {received.sbom_for}" if received.sbom_for else received.name
        return Refusal(
            RefusalKind.CONFLICT,
            f"{what} is already staged with sha256 {existing.sha256}; a candidate's files never"
            " change (open a new candidate)",
            "sbom_for" if received.sbom_for else "name",
        )
    return ArtifactStored(
        candidate_id=candidate_id,
        name=received.name,
        size=received.size,
        sha256=received.sha256,
        media_type=received.media_type,
        uploaded_by=uploaded_by,
        stored_at=now,
        sbom_for=received.sbom_for,
    )


def staged_as(state: CandidateState, name: str, sbom_for: str | None) -> ArtifactStored | None:
    """An artifact by name, or the SBOM CI uploaded for artifact `sbom_for`."""
    for stored in state.staged:
        if sbom_for is None and stored.sbom_for is None and stored.name == name:
            return stored
        if sbom_for is not None and stored.sbom_for == sbom_for:
            return stored
    return None


def refuse_seal(state: CandidateState, candidate_id: str) -> Refusal | None:
    if not state.exists:
        return Refusal(RefusalKind.NOT_FOUND, f"no candidate {candidate_id}")
    if state.sealed is None and not artifacts_of(state):
        return Refusal(
            RefusalKind.CONFLICT, f"candidate {candidate_id} has no artifact to seal yet"
        )
    return None


def artifacts_of(state: CandidateState) -> list[StagedArtifact]:
    sboms = {s.sbom_for: s.sha256 for s in state.staged if s.sbom_for is not None}
    return [
        StagedArtifact(a.name, a.sha256, a.size, a.media_type, sboms.get(a.name))
        for a in state.staged
        if a.sbom_for is None
    ]


def gate_evidence(backport_events: Iterable[Event], commit: str) -> dict[str, Any]:
    """The gates of the backport's last `BackportReady` on `commit` (what made it ready)."""
    ready = [e for e in backport_events if isinstance(e, BackportReady) and e.commit == commit]
    if not ready:
        return {}
    last = ready[-1]
    return {
        "gates": [gate.model_dump(mode="json", exclude_none=True) for gate in last.gates],
        "qa_signed_by": last.qa_signed_by,
        "qa_exception_by": last.qa_exception_by,
        "security_signed_by": last.security_signed_by,
        "fast_tracked": last.fast_tracked,
        "skipped_gates": list(last.skipped_gates),
        "ready_at": last.ready_at.isoformat(),
    }


def seal_request(
    state: CandidateState,
    *,
    evidence: Sequence[dict[str, Any]],
    builder_id: str,
    sealed_by: str,
    now: datetime,
) -> SealRequest:
    """`evidence[i]`: gate evidence of the candidate's i-th backport (`gate_evidence`)."""
    opened = state.opened
    assert opened is not None  # refuse_seal first
    return SealRequest(
        candidate_id=opened.candidate_id,
        version=opened.version,
        line=opened.line,
        backports=[
            ManifestBackport(
                ticket_id=backport.ticket_id,
                branch=backport.patch_branch,
                source_commit=backport.commit,
                gate_evidence=gates,
            )
            for backport, gates in zip(opened.backports, evidence, strict=True)
        ],
        tickets=[backport.ticket_id for backport in opened.backports],
        cves=[cve for backport in opened.backports for cve in backport.cve_ids],
        artifacts=artifacts_of(state),
        builder_id=builder_id,
        sealed_by=sealed_by,
        sealed_at=now,
    )
