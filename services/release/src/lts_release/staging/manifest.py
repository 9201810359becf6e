"""The build manifest of a candidate: what went in (backports with their source commits, gate
evidence, tickets, CVEs), who built it, and the digest of every artifact and its SBOM."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lts_events.contracts.release.staging import SbomSource
from pydantic import BaseModel, ConfigDict, Field

MANIFEST_SCHEMA = "https://lts-flow.dev/release-manifest/v1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ManifestBackport(_Frozen):
    ticket_id: int
    branch: str
    source_commit: str
    gate_evidence: dict[str, Any] = {}


class ManifestArtifact(_Frozen):
    name: str
    sha256: str
    size: int
    media_type: str
    sbom: str  # path inside the bundle
    sbom_sha256: str
    sbom_source: SbomSource


class ManifestBuilder(_Frozen):
    id: str  # URI of the build platform (SLSA runDetails.builder.id)
    sealed_by: str  # the actor who sealed the candidate


class BuildManifest(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: str = Field(default=MANIFEST_SCHEMA, alias="schema")
    candidate_id: str
    version: str
    line: str
    backports: tuple[ManifestBackport, ...]
    tickets: tuple[int, ...]
    cves: tuple[str, ...]
    builder: ManifestBuilder
    artifacts: tuple[ManifestArtifact, ...]
    public_key_fingerprint: str
    sealed_at: datetime

    def to_json(self) -> bytes:
        document = self.model_dump(mode="json", by_alias=True)
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, content: bytes) -> BuildManifest:
        return cls.model_validate_json(content)
