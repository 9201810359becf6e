"""Real files for staging tests: a wheel and an sdist with core metadata, a plain tarball,
sealed into a candidate in a filesystem store under the test's temporary directory."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lts_release.staging.keys import KeyAlgorithm, Signer, generate_pem, signer_from_pem
from lts_release.staging.manifest import ManifestBackport
from lts_release.staging.seal import SealedOutputs, SealRequest, StagedArtifact, seal
from lts_release.staging.store import FilesystemBlobStore, put_bytes

SEALED_AT = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
METADATA = b"""Metadata-Version: 2.1
Name: acme-server
Version: 1.4.5
Requires-Dist: requests (>=2.31)
Requires-Dist: cryptography>=42; python_version >= "3.11"
Requires-Dist: pytest; extra == "test"
"""


def a_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("acme_server/__init__.py", "VERSION = '1.4.5'\n")
        wheel.writestr("acme_server-1.4.5.dist-info/METADATA", METADATA)
        wheel.writestr("acme_server-1.4.5.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return buffer.getvalue()


def an_sdist() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as sdist:
        for name, content in [
            ("acme_server-1.4.5/setup.py", b"# setup\n"),
            ("acme_server-1.4.5/PKG-INFO", METADATA),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            sdist.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


ARTIFACTS = {
    "acme_server-1.4.5-py3-none-any.whl": (a_wheel, "application/zip"),
    "acme_server-1.4.5.tar.gz": (an_sdist, "application/gzip"),
    "acme-docs-1.4.5.bin": (lambda: os.urandom(300_000), "application/octet-stream"),
}


@dataclass
class Candidate:
    store: FilesystemBlobStore
    signer: Signer
    outputs: SealedOutputs
    request: SealRequest

    def bundle_path(self) -> Path:
        return self.store.path_of(self.outputs.bundle.sha256)


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs", durable=False)


@pytest.fixture
def signer() -> Signer:
    return signer_from_pem(generate_pem(KeyAlgorithm.ECDSA_P256))


def seal_request(store: FilesystemBlobStore, **uploaded_sboms: str) -> SealRequest:
    staged = []
    for name, (make, media_type) in ARTIFACTS.items():
        blob = put_bytes(store, make())
        staged.append(
            StagedArtifact(name, blob.sha256, blob.size, media_type, uploaded_sboms.get(name))
        )
    return SealRequest(
        candidate_id="1.4.5-rc1",
        version="1.4.5",
        line="1.4",
        backports=[
            ManifestBackport(
                ticket_id=7,
                branch="release-lts/v1.4",
                source_commit="a" * 40,
                gate_evidence={"unit": {"status": "passed", "run": "https://ci.example/1"}},
            )
        ],
        tickets=[7],
        cves=["CVE-2026-1234"],
        artifacts=staged,
        builder_id="https://lts-flow.dev/release-service",
        sealed_by="rm-alice",
        sealed_at=SEALED_AT,
    )


@pytest.fixture
def candidate(store: FilesystemBlobStore, signer: Signer) -> Candidate:
    request = seal_request(store)
    return Candidate(store, signer, seal(request, store=store, signer=signer), request)
