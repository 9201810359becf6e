"""A sealed candidate's bundle, unpacked and checked the way a user would."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from lts_events.contracts.release.staging import SbomSource
from lts_release.staging import names
from lts_release.staging.keys import generate_pem, signer_from_pem
from lts_release.staging.manifest import BuildManifest
from lts_release.staging.seal import NothingToSeal, seal
from lts_release.staging.store import FilesystemBlobStore, put_bytes
from lts_release.staging.verify import VerificationFailed, verify_archive, verify_directory
from typer.testing import CliRunner

from .conftest import ARTIFACTS, Candidate, seal_request

WHEEL = "acme_server-1.4.5-py3-none-any.whl"


def unpack(candidate: Candidate, into: Path) -> Path:
    with tarfile.open(candidate.bundle_path(), "r:gz") as tar:
        tar.extractall(into, filter="data")
    return into / names.bundle_root("1.4.5")


def flip_one_byte(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_sha256sum_check_passes_on_the_unpacked_bundle(
    candidate: Candidate, tmp_path: Path
) -> None:
    root = unpack(candidate, tmp_path / "out")

    result = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{WHEEL}: OK" in result.stdout
    assert "sbom/acme_server-1.4.5.tar.gz.cdx.json: OK" in result.stdout


def test_openssl_verifies_the_bundles_sha256sums(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")

    result = subprocess.run(
        [
            *("openssl", "dgst", "-sha256", "-verify", names.PUBLIC_KEY),
            *("-signature", names.SHA256SUMS_SIG, names.SHA256SUMS),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_sealed_bundle_verifies(candidate: Candidate, tmp_path: Path) -> None:
    verified = verify_archive(candidate.bundle_path(), tmp_path / "x")

    assert verified.version == "1.4.5"
    assert sorted(verified.artifacts) == sorted(ARTIFACTS)
    assert verified.fingerprint == candidate.signer.fingerprint


def test_one_changed_byte_of_an_artifact_fails_naming_it(
    candidate: Candidate, tmp_path: Path
) -> None:
    root = unpack(candidate, tmp_path / "out")
    flip_one_byte(root / WHEEL)

    with pytest.raises(VerificationFailed) as failed:
        verify_directory(root)

    assert failed.value.file == WHEEL
    assert "does not match SHA256SUMS" in failed.value.reason


def test_a_changed_sha256sums_fails_its_signature(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")
    flip_one_byte(root / names.SHA256SUMS, at=3)

    with pytest.raises(VerificationFailed) as failed:
        verify_directory(root)

    assert failed.value.file == names.SHA256SUMS_SIG


def test_another_trusted_key_fails(candidate: Candidate, tmp_path: Path) -> None:
    other = signer_from_pem(generate_pem())

    with pytest.raises(VerificationFailed) as failed:
        verify_archive(candidate.bundle_path(), tmp_path / "x", trusted_key=other.public_pem)

    assert failed.value.file == names.SHA256SUMS_SIG


def test_an_unexpected_fingerprint_fails(candidate: Candidate, tmp_path: Path) -> None:
    with pytest.raises(VerificationFailed) as failed:
        verify_archive(candidate.bundle_path(), tmp_path / "x", fingerprint="sha256:" + "0" * 64)

    assert failed.value.file == names.PUBLIC_KEY


def test_a_missing_sbom_fails_naming_it(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")
    (root / names.sbom_path(WHEEL)).unlink()

    with pytest.raises(VerificationFailed) as failed:
        verify_directory(root)

    assert failed.value.file == names.sbom_path(WHEEL)


def test_an_extra_file_fails_naming_it(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")
    (root / "backdoor.sh").write_text("#!/bin/sh\n")

    with pytest.raises(VerificationFailed) as failed:
        verify_directory(root)

    assert failed.value.file == "backdoor.sh"


def test_every_generated_sbom_is_valid_cyclonedx(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")
    validator = JsonStrictValidator(SchemaVersion.V1_6)

    for name in ARTIFACTS:
        assert validator.validate_str((root / names.sbom_path(name)).read_text()) is None


def test_the_manifest_names_what_went_in(candidate: Candidate, tmp_path: Path) -> None:
    root = unpack(candidate, tmp_path / "out")

    manifest = BuildManifest.from_json((root / names.MANIFEST).read_bytes())

    assert manifest.backports[0].source_commit == "a" * 40
    assert manifest.cves == ("CVE-2026-1234",)
    assert {a.name: a.sha256 for a in manifest.artifacts} == {
        a.name: a.sha256 for a in candidate.request.artifacts
    }
    assert json.loads((root / names.MANIFEST).read_bytes())["schema"].endswith("/v1")


def test_the_provenance_is_an_slsa_statement_over_the_artifacts(
    candidate: Candidate, tmp_path: Path
) -> None:
    root = unpack(candidate, tmp_path / "out")
    envelope = json.loads((root / names.PROVENANCE).read_bytes())

    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))

    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert {s["name"] for s in statement["subject"]} == set(ARTIFACTS)
    assert statement["predicate"]["runDetails"]["builder"]["id"].startswith("https://")


def test_an_uploaded_sbom_is_taken_as_is(store: FilesystemBlobStore, tmp_path: Path) -> None:
    theirs = b'{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"metadata":{}}'
    uploaded = put_bytes(store, theirs)
    signer = signer_from_pem(generate_pem())

    outputs = seal(seal_request(store, **{WHEEL: uploaded.sha256}), store=store, signer=signer)

    wheel_sbom = next(ref for ref in outputs.sboms if ref.artifact == WHEEL)
    assert wheel_sbom.source is SbomSource.UPLOADED
    assert wheel_sbom.file.sha256 == uploaded.sha256
    verify_archive(store.path_of(outputs.bundle.sha256), tmp_path / "x")


def test_a_candidate_without_artifacts_cannot_be_sealed(store: FilesystemBlobStore) -> None:
    request = seal_request(store)
    empty = type(request)(**{**request.__dict__, "artifacts": []})

    with pytest.raises(NothingToSeal):
        seal(empty, store=store, signer=signer_from_pem(generate_pem()))


def test_the_verify_command_passes_then_names_the_changed_file(
    candidate: Candidate, tmp_path: Path
) -> None:
    from lts_release.cli import app

    runner = CliRunner()
    passed = runner.invoke(app, ["verify", str(candidate.bundle_path())])
    root = unpack(candidate, tmp_path / "out")
    flip_one_byte(root / WHEEL)
    failed = runner.invoke(app, ["verify", str(root)])

    assert passed.exit_code == 0, passed.output
    assert "OK release 1.4.5" in passed.output
    assert failed.exit_code == 1
    assert f"FAILED {WHEEL}:" in failed.output


def test_the_verify_command_downloads_a_bundle_by_url(candidate: Candidate, tmp_path: Path) -> None:
    import functools
    import http.server
    import shutil
    import threading

    from lts_release.cli import app

    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(candidate.bundle_path(), served / "release-1.4.5.tar.gz")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/release-1.4.5.tar.gz"
        result = CliRunner().invoke(
            app, ["verify", url, "--fingerprint", candidate.signer.fingerprint]
        )
    finally:
        server.shutdown()
        server.server_close()

    assert result.exit_code == 0, result.output
    assert "OK release 1.4.5" in result.output


def test_an_ed25519_bundle_verifies_with_openssl_and_lts(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    from lts_release.staging.keys import KeyAlgorithm

    signer = signer_from_pem(generate_pem(KeyAlgorithm.ED25519))
    outputs = seal(seal_request(store), store=store, signer=signer)
    with tarfile.open(store.path_of(outputs.bundle.sha256), "r:gz") as tar:
        tar.extractall(tmp_path / "out", filter="data")
    root = tmp_path / "out" / names.bundle_root("1.4.5")

    result = subprocess.run(
        [
            *("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", names.PUBLIC_KEY, "-rawin"),
            *("-in", names.SHA256SUMS, "-sigfile", names.SHA256SUMS_SIG),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert verify_directory(root).fingerprint == signer.fingerprint


def _cosign() -> str | None:
    """cosign on PATH or under $LTS_HOME/bin (`GOBIN=$LTS_HOME/bin go install
    github.com/sigstore/cosign/v3/cmd/cosign@v3.1.2`); the test is skipped without it."""
    import os
    import shutil

    home = Path(os.environ.get("LTS_HOME", Path.home() / ".cache" / "lts-flow"))
    return shutil.which("cosign") or shutil.which("cosign", path=str(home / "bin"))


@pytest.mark.skipif(_cosign() is None, reason="cosign is not installed")
def test_cosign_verifies_the_bundles_sha256sums_offline(
    candidate: Candidate, tmp_path: Path
) -> None:
    root = unpack(candidate, tmp_path / "out")
    verify_blob = [
        *(str(_cosign()), "verify-blob", "--key", names.PUBLIC_KEY),
        *("--signature", names.SHA256SUMS_COSIGN_SIG, "--insecure-ignore-tlog=true"),
    ]

    good = subprocess.run(
        [*verify_blob, names.SHA256SUMS], cwd=root, capture_output=True, text=True, check=False
    )
    flip_one_byte(root / names.SHA256SUMS, at=5)
    bad = subprocess.run(
        [*verify_blob, names.SHA256SUMS], cwd=root, capture_output=True, text=True, check=False
    )

    assert good.returncode == 0, good.stderr
    assert "Verified OK" in good.stderr + good.stdout
    assert bad.returncode != 0
