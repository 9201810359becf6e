"""What a staged file may be called, and where each output lives inside an offline bundle.

Artifact names are plain file names (wheels, sdists, tarballs, any file): no directory, no
character that `sha256sum` would escape, no name the bundle itself uses. One home for the
bundle's layout, read by the sealer and by `lts release verify` alike."""

from __future__ import annotations

import re

SHA256SUMS = "SHA256SUMS"
SHA256SUMS_SIG = "SHA256SUMS.sig"  # binary DER (ECDSA) or raw 64 bytes (Ed25519): openssl
SHA256SUMS_COSIGN_SIG = "SHA256SUMS.cosign.sig"  # base64 of the same bytes: cosign sign-blob
PUBLIC_KEY = "release.pub"  # PEM SubjectPublicKeyInfo
MANIFEST = "manifest.json"
PROVENANCE = "provenance.intoto.json"  # DSSE envelope over an in-toto Statement (SLSA v1)
SBOM_DIR = "sbom"
SBOM_SUFFIX = ".cdx.json"

RESERVED = frozenset(
    {SHA256SUMS, SHA256SUMS_SIG, SHA256SUMS_COSIGN_SIG, PUBLIC_KEY, MANIFEST, PROVENANCE, SBOM_DIR}
)
MAX_NAME = 255
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")


def artifact_name_problem(name: str) -> str | None:
    """Why `name` cannot name an artifact, or None when it can."""
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        return (
            f"artifact name {name!r} must be a plain file name of letters, digits and . _ + ~ -"
            f" (at most {MAX_NAME} characters, not starting with a punctuation mark)"
        )
    if name in RESERVED:
        return f"artifact name {name!r} is reserved for the candidate's own outputs"
    return None


def sbom_path(artifact: str) -> str:
    """Path of an artifact's SBOM inside the bundle (and in SHA256SUMS)."""
    return f"{SBOM_DIR}/{artifact}{SBOM_SUFFIX}"


def bundle_root(version: str) -> str:
    """The bundle's one top-level directory, so that it unpacks into a folder of its own."""
    return f"release-{version}"
