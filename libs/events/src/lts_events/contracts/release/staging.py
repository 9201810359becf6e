"""Staging of a release candidate (owned by the release service's `staging` part).

CI uploads artifacts into a content-addressed store (`ArtifactStored`, one per file; a CycloneDX
SBOM that CI made for an artifact is stored the same way, naming it in `sbom_for`). Sealing
writes SHA256SUMS, its signatures, the build manifest, the DSSE/in-toto provenance, an SBOM per
artifact and the offline bundle, all content-addressed, and records them (`CandidateSealed`);
from then on the candidate's staged files never change. No event carries key material: only
the public key's file and fingerprint. Stream: the candidate's (`candidate-{id}`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from lts_events.event import Event


class StagedFile(BaseModel):
    """A file of a sealed candidate: its path inside the bundle (and in SHA256SUMS), the
    SHA-256 under which the artifact store keeps it, its size in bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str
    size: int


class SbomSource(StrEnum):
    GENERATED = "generated"  # from the artifact's own metadata (wheel METADATA, sdist PKG-INFO)
    UPLOADED = "uploaded"  # made by CI and uploaded with `sbom_for`, taken as is


class SbomRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    artifact: str
    file: StagedFile
    source: SbomSource


class ArtifactStored(Event):
    type: ClassVar[str] = "lts.release.artifact_stored"

    candidate_id: str
    name: str
    size: int
    sha256: str
    media_type: str
    uploaded_by: str
    stored_at: datetime
    sbom_for: str | None = None


class CandidateSealed(Event):
    """The candidate's staged outputs; immutable afterwards (no further artifact, no re-seal)."""

    type: ClassVar[str] = "lts.release.candidate_sealed"

    candidate_id: str
    version: str
    line: str
    sha256sums: StagedFile
    signatures: tuple[StagedFile, ...]
    public_key: StagedFile
    public_key_fingerprint: str
    signing_algorithm: str
    manifest: StagedFile
    provenance: StagedFile
    sboms: tuple[SbomRef, ...]
    bundle: StagedFile
    sealed_by: str
    sealed_at: datetime
