"""Offline verification of a bundle (`lts release verify`): signatures, checksums, the
manifest's digests, the DSSE provenance and an SBOM for every artifact. The first problem is
raised as `VerificationFailed`, naming the file.

Which key: the bundle's own `release.pub` unless a trusted key (or its fingerprint) is given.
A bundle checked only against its own key proves it is intact, not who made it; the printed
fingerprint is what to compare with the one the release manager publishes."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from lts_release.staging import checksums, keys, names
from lts_release.staging.digests import sha256_of_file
from lts_release.staging.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    EnvelopeProblem,
    b64decode_any,
    open_envelope,
    verify_envelope,
)
from lts_release.staging.manifest import BuildManifest
from lts_release.staging.provenance import subjects
from lts_release.staging.sbom import cyclonedx_problem

UNLISTED = frozenset(
    {names.SHA256SUMS, names.SHA256SUMS_SIG, names.SHA256SUMS_COSIGN_SIG, names.PUBLIC_KEY}
)


class VerificationFailed(Exception):
    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    version: str
    artifacts: tuple[str, ...]
    fingerprint: str
    files_checked: int


def verify_archive(
    archive: Path,
    workdir: Path,
    *,
    trusted_key: bytes | None = None,
    fingerprint: str | None = None,
) -> Verified:
    """Unpack `archive` (tar.gz) into `workdir` safely, then verify it."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(workdir, filter="data")  # no absolute paths, links out, devices
    except (tarfile.TarError, OSError, EOFError) as error:
        raise VerificationFailed(archive.name, f"not a readable tar.gz bundle: {error}") from None
    tops = [entry for entry in workdir.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise VerificationFailed(archive.name, "a bundle holds exactly one top directory")
    return verify_directory(tops[0], trusted_key=trusted_key, fingerprint=fingerprint)


def verify_directory(
    root: Path, *, trusted_key: bytes | None = None, fingerprint: str | None = None
) -> Verified:
    key = _key(root, trusted_key, fingerprint)
    sums = _read(root, names.SHA256SUMS)
    _check_signatures(root, sums, key)
    listed = _parse_sums(sums)
    _check_listed_files(root, listed)
    manifest = _manifest(root, listed)
    _check_manifest(manifest, listed, key)
    _check_sboms(root, manifest)
    _check_provenance(root, manifest, key)
    return Verified(
        version=manifest.version,
        artifacts=tuple(artifact.name for artifact in manifest.artifacts),
        fingerprint=keys.fingerprint(key),
        files_checked=len(listed),
    )


def _read(root: Path, path: str) -> bytes:
    try:
        return (root / path).read_bytes()
    except FileNotFoundError:
        raise VerificationFailed(path, "missing from the bundle") from None


def _key(root: Path, trusted: bytes | None, expected: str | None) -> keys.PublicKey:
    source = "--key" if trusted is not None else names.PUBLIC_KEY
    try:
        key = keys.load_public_key(trusted if trusted is not None else _read(root, source))
    except (ValueError, keys.SigningKeyProblem) as error:
        raise VerificationFailed(source, f"not a usable public key: {error}") from None
    if expected is not None and keys.fingerprint(key) != expected:
        raise VerificationFailed(
            source, f"key fingerprint {keys.fingerprint(key)} is not the expected {expected}"
        )
    return key


def _check_signatures(root: Path, sums: bytes, key: keys.PublicKey) -> None:
    if not keys.verify(key, sums, _read(root, names.SHA256SUMS_SIG)):
        raise VerificationFailed(names.SHA256SUMS_SIG, "signature does not verify SHA256SUMS")
    if (root / names.SHA256SUMS_COSIGN_SIG).exists():
        try:
            cosign = b64decode_any(_read(root, names.SHA256SUMS_COSIGN_SIG).decode().strip())
        except (ValueError, UnicodeDecodeError):
            raise VerificationFailed(names.SHA256SUMS_COSIGN_SIG, "not base64") from None
        if not keys.verify(key, sums, cosign):
            raise VerificationFailed(
                names.SHA256SUMS_COSIGN_SIG, "signature does not verify SHA256SUMS"
            )


def _parse_sums(sums: bytes) -> dict[str, str]:
    try:
        listed = checksums.parse(sums)
    except checksums.ChecksumsProblem as error:
        raise VerificationFailed(names.SHA256SUMS, str(error)) from None
    for path in listed:
        if path.startswith("/") or ".." in path.split("/"):
            raise VerificationFailed(names.SHA256SUMS, f"lists a path outside the bundle: {path}")
    return listed


def _check_listed_files(root: Path, listed: dict[str, str]) -> None:
    for path, digest in sorted(listed.items()):
        file = root / path
        if not file.is_file():
            raise VerificationFailed(path, "listed in SHA256SUMS but missing from the bundle")
        actual, _ = sha256_of_file(file)
        if actual != digest:
            raise VerificationFailed(path, f"SHA-256 {actual} does not match SHA256SUMS ({digest})")
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and relative not in listed and relative not in UNLISTED:
            raise VerificationFailed(relative, "in the bundle but not listed in SHA256SUMS")


def _manifest(root: Path, listed: dict[str, str]) -> BuildManifest:
    if names.MANIFEST not in listed:
        raise VerificationFailed(names.MANIFEST, "not listed in SHA256SUMS")
    try:
        return BuildManifest.from_json(_read(root, names.MANIFEST))
    except ValidationError as error:
        raise VerificationFailed(names.MANIFEST, f"not a build manifest: {error}") from None


def _check_manifest(manifest: BuildManifest, listed: dict[str, str], key: keys.PublicKey) -> None:
    if manifest.public_key_fingerprint != keys.fingerprint(key):
        raise VerificationFailed(
            names.MANIFEST,
            f"names signing key {manifest.public_key_fingerprint}, verified with"
            f" {keys.fingerprint(key)}",
        )
    described = {names.MANIFEST, names.PROVENANCE}
    for artifact in manifest.artifacts:
        if listed.get(artifact.name) != artifact.sha256:
            raise VerificationFailed(
                artifact.name, "the manifest's digest differs from SHA256SUMS (or is not listed)"
            )
        if listed.get(artifact.sbom) != artifact.sbom_sha256:
            raise VerificationFailed(artifact.sbom, f"SBOM of {artifact.name} is not listed")
        described |= {artifact.name, artifact.sbom}
    for path in sorted(set(listed) - described):
        raise VerificationFailed(path, "listed in SHA256SUMS but not in the manifest")


def _check_sboms(root: Path, manifest: BuildManifest) -> None:
    for artifact in manifest.artifacts:
        problem = cyclonedx_problem(_read(root, artifact.sbom))
        if problem is not None:
            raise VerificationFailed(artifact.sbom, problem)


def _check_provenance(root: Path, manifest: BuildManifest, key: keys.PublicKey) -> None:
    try:
        envelope = open_envelope(_read(root, names.PROVENANCE))
    except EnvelopeProblem as error:
        raise VerificationFailed(names.PROVENANCE, str(error)) from None
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailed(names.PROVENANCE, f"payloadType is not {IN_TOTO_PAYLOAD_TYPE}")
    if not verify_envelope(envelope, verify=lambda data, sig: keys.verify(key, data, sig)):
        raise VerificationFailed(names.PROVENANCE, "no DSSE signature verifies")
    try:
        named = subjects(json.loads(envelope.payload))
    except (ValueError, KeyError, TypeError) as error:
        raise VerificationFailed(names.PROVENANCE, f"not an in-toto statement: {error}") from None
    expected = {artifact.name: artifact.sha256 for artifact in manifest.artifacts}
    if named != expected:
        raise VerificationFailed(names.PROVENANCE, "its subjects are not the manifest's artifacts")
