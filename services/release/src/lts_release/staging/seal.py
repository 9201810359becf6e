"""Sealing a candidate: from its staged artifacts to SHA256SUMS, signatures, manifest, DSSE
provenance, SBOMs and the offline bundle, each stored in the content-addressed store.

SHA256SUMS lists every file of the bundle except itself, its signatures and the public key
(artifacts, SBOMs, manifest, provenance), so its one signature covers them all and
`sha256sum --check SHA256SUMS` in the unpacked bundle checks them all."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lts_events.contracts.release.staging import SbomRef, SbomSource, StagedFile

from lts_release.staging import checksums, names, sbom
from lts_release.staging.bundle import write_bundle
from lts_release.staging.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope
from lts_release.staging.keys import Signer
from lts_release.staging.manifest import (
    BuildManifest,
    ManifestArtifact,
    ManifestBackport,
    ManifestBuilder,
)
from lts_release.staging.provenance import statement_bytes
from lts_release.staging.store import BlobStore, put_bytes


@dataclass(frozen=True)
class StagedArtifact:
    name: str
    sha256: str
    size: int
    media_type: str
    uploaded_sbom_sha256: str | None = None  # a CycloneDX SBOM CI uploaded for it


@dataclass(frozen=True)
class SealRequest:
    candidate_id: str
    version: str
    line: str
    backports: Sequence[ManifestBackport]
    tickets: Sequence[int]
    cves: Sequence[str]
    artifacts: Sequence[StagedArtifact]
    builder_id: str
    sealed_by: str
    sealed_at: datetime


@dataclass(frozen=True)
class SealedOutputs:
    sha256sums: StagedFile
    signatures: tuple[StagedFile, ...]
    public_key: StagedFile
    public_key_fingerprint: str
    signing_algorithm: str
    manifest: StagedFile
    provenance: StagedFile
    sboms: tuple[SbomRef, ...]
    bundle: StagedFile


class NothingToSeal(ValueError):
    pass


def seal(request: SealRequest, *, store: BlobStore, signer: Signer) -> SealedOutputs:
    if not request.artifacts:
        raise NothingToSeal("a candidate without artifacts cannot be sealed")
    artifacts = sorted(request.artifacts, key=lambda artifact: artifact.name)
    sboms = tuple(_sbom(artifact, store, request.sealed_at) for artifact in artifacts)
    document = _manifest(request, artifacts, sboms, signer)
    manifest = _stored(store, names.MANIFEST, document.to_json())
    provenance = _stored(store, names.PROVENANCE, _provenance(document, signer))
    listed = [
        *(StagedFile(path=a.name, sha256=a.sha256, size=a.size) for a in artifacts),
        *(ref.file for ref in sboms),
        manifest,
        provenance,
    ]
    sums = checksums.render({file.path: file.sha256 for file in listed})
    signature = signer.sign(sums)
    outputs = [
        sha256sums := _stored(store, names.SHA256SUMS, sums),
        signature_der := _stored(store, names.SHA256SUMS_SIG, signature),
        signature_b64 := _stored(store, names.SHA256SUMS_COSIGN_SIG, base64.b64encode(signature)),
        public_key := _stored(store, names.PUBLIC_KEY, signer.public_pem),
    ]
    bundle = write_bundle(
        store,
        root=names.bundle_root(request.version),
        members=[(file.path, file.sha256, file.size) for file in [*outputs, *listed]],
        created_at=request.sealed_at,
    )
    return SealedOutputs(
        sha256sums=sha256sums,
        signatures=(signature_der, signature_b64),
        public_key=public_key,
        public_key_fingerprint=signer.fingerprint,
        signing_algorithm=signer.algorithm.value,
        manifest=manifest,
        provenance=provenance,
        sboms=sboms,
        bundle=StagedFile(
            path=f"{names.bundle_root(request.version)}.tar.gz",
            sha256=bundle.sha256,
            size=bundle.size,
        ),
    )


def _stored(store: BlobStore, path: str, content: bytes) -> StagedFile:
    blob = put_bytes(store, content)
    return StagedFile(path=path, sha256=blob.sha256, size=blob.size)


def _sbom(artifact: StagedArtifact, store: BlobStore, at: datetime) -> SbomRef:
    path = names.sbom_path(artifact.name)
    if artifact.uploaded_sbom_sha256 is not None:
        size = store.size(artifact.uploaded_sbom_sha256) or 0
        file = StagedFile(path=path, sha256=artifact.uploaded_sbom_sha256, size=size)
        return SbomRef(artifact=artifact.name, file=file, source=SbomSource.UPLOADED)
    metadata = sbom.python_metadata(artifact.name, lambda: store.open(artifact.sha256))
    document = sbom.generate(
        artifact=artifact.name, sha256=artifact.sha256, metadata=metadata, created_at=at
    )
    file = _stored(store, path, document)
    return SbomRef(artifact=artifact.name, file=file, source=SbomSource.GENERATED)


def _manifest(
    request: SealRequest,
    artifacts: Sequence[StagedArtifact],
    sboms: Sequence[SbomRef],
    signer: Signer,
) -> BuildManifest:
    return BuildManifest(
        candidate_id=request.candidate_id,
        version=request.version,
        line=request.line,
        backports=tuple(request.backports),
        tickets=tuple(sorted(set(request.tickets))),
        cves=tuple(sorted(set(request.cves))),
        builder=ManifestBuilder(id=request.builder_id, sealed_by=request.sealed_by),
        artifacts=tuple(
            ManifestArtifact(
                name=artifact.name,
                sha256=artifact.sha256,
                size=artifact.size,
                media_type=artifact.media_type,
                sbom=ref.file.path,
                sbom_sha256=ref.file.sha256,
                sbom_source=ref.source,
            )
            for artifact, ref in zip(artifacts, sboms, strict=True)
        ),
        public_key_fingerprint=signer.fingerprint,
        sealed_at=request.sealed_at,
    )


def _provenance(manifest: BuildManifest, signer: Signer) -> bytes:
    envelope = sign_envelope(
        IN_TOTO_PAYLOAD_TYPE,
        statement_bytes(manifest),
        sign=signer.sign,
        keyid=signer.fingerprint,
    )
    return (json.dumps(envelope, indent=2) + "\n").encode()
