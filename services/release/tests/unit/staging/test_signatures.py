"""Signatures checked with the real openssl binary, and in cosign's sign-blob format."""

from __future__ import annotations

import base64
import pickle
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lts_release.staging.keys import (
    DEV_KEY_FILE,
    KeyAlgorithm,
    Signer,
    generate_pem,
    load_signer,
    signer_from_pem,
)

BLOB = b"0" * 64 + b"  acme_server-1.4.5-py3-none-any.whl\n"


def write(tmp_path: Path, signer: Signer, data: bytes) -> tuple[Path, Path, Path]:
    (tmp_path / "pub.pem").write_bytes(signer.public_pem)
    (tmp_path / "SHA256SUMS").write_bytes(data)
    (tmp_path / "SHA256SUMS.sig").write_bytes(signer.sign(data))
    return tmp_path / "pub.pem", tmp_path / "SHA256SUMS", tmp_path / "SHA256SUMS.sig"


def openssl_dgst_verify(
    pub: Path, signed: Path, signature: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", pub, "-signature", signature, signed],
        capture_output=True,
        text=True,
        check=False,
    )


def test_openssl_verifies_the_ecdsa_signature(tmp_path: Path, signer: Signer) -> None:
    pub, signed, signature = write(tmp_path, signer, BLOB)

    result = openssl_dgst_verify(pub, signed, signature)

    assert result.returncode == 0, result.stderr
    assert "Verified OK" in result.stdout


def test_openssl_refuses_the_signature_of_a_changed_file(tmp_path: Path, signer: Signer) -> None:
    pub, signed, signature = write(tmp_path, signer, BLOB)
    signed.write_bytes(BLOB.replace(b"0", b"1", 1))

    result = openssl_dgst_verify(pub, signed, signature)

    assert result.returncode != 0


def test_openssl_verifies_an_ed25519_signature(tmp_path: Path) -> None:
    signer = signer_from_pem(generate_pem(KeyAlgorithm.ED25519))
    pub, signed, signature = write(tmp_path, signer, BLOB)

    result = subprocess.run(
        [
            *("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub),
            *("-rawin", "-in", signed, "-sigfile", signature),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_cosign_signature_is_base64_der_ecdsa_over_the_blob(signer: Signer) -> None:
    cosign_signature = base64.b64encode(signer.sign(BLOB))

    public = serialization.load_pem_public_key(signer.public_pem)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(cosign_signature), BLOB, ec.ECDSA(hashes.SHA256()))


def test_the_signer_never_shows_its_private_key(signer: Signer) -> None:
    private_der = signer._Signer__key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    shown = repr(signer) + str(vars(signer))

    assert "PRIVATE" not in shown
    assert base64.b64encode(private_der).decode()[:40] not in shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_the_local_development_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_signer(secret_pem=None, key_file=None, dev_data_dir=tmp_path)
    second = load_signer(secret_pem=None, key_file=None, dev_data_dir=tmp_path)

    assert first.fingerprint == second.fingerprint
    assert (tmp_path / DEV_KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_a_configured_secret_wins_over_the_development_key(tmp_path: Path) -> None:
    pem = generate_pem()

    signer = load_signer(secret_pem=pem.decode(), key_file=None, dev_data_dir=tmp_path)

    assert signer.fingerprint == signer_from_pem(pem).fingerprint
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_the_fingerprint_is_the_one_openssl_computes(tmp_path: Path, signer: Signer) -> None:
    (tmp_path / "pub.pem").write_bytes(signer.public_pem)

    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", tmp_path / "pub.pem", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout

    digest = subprocess.run(["sha256sum"], input=der, capture_output=True, check=True).stdout
    assert signer.fingerprint == f"sha256:{digest.split()[0].decode()}"
