"""The release signing key: ECDSA P-256 (default) or Ed25519, through `cryptography`.

The private key is read from a secret (PEM in an environment variable) or a key file; in the
local environment without either, a development key is generated once under the data
directory. A `Signer` only signs and hands out its public half: it has no method, repr or field
that would put the private key into an event, a log line or an HTTP answer.

Signature formats, chosen so standard tools verify them:
- ECDSA P-256 over SHA-256, DER `SEQUENCE{r,s}`: `openssl dgst -sha256 -verify release.pub
  -signature f.sig f`; base64 of the same bytes is what `cosign sign-blob --key` writes.
- Ed25519, the raw 64 bytes: `openssl pkeyutl -verify -pubin -inkey release.pub -rawin -in f
  -sigfile f.sig`."""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
DEV_KEY_FILE = "release-signing-dev.pem"


class KeyAlgorithm(StrEnum):
    ECDSA_P256 = "ecdsa-p256"
    ED25519 = "ed25519"


class SigningKeyProblem(ValueError):
    """The configured key cannot be used (not PEM, not P-256 or Ed25519, encrypted...)."""


class Signer:
    def __init__(self, private_key: PrivateKey) -> None:
        if isinstance(private_key, ec.EllipticCurvePrivateKey) and not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise SigningKeyProblem(f"ECDSA keys must be P-256, not {private_key.curve.name}")
        self.__key = private_key
        self.public_pem = public_pem(private_key.public_key())
        self.fingerprint = fingerprint(private_key.public_key())
        self.algorithm = (
            KeyAlgorithm.ED25519
            if isinstance(private_key, ed25519.Ed25519PrivateKey)
            else KeyAlgorithm.ECDSA_P256
        )

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.__key, ed25519.Ed25519PrivateKey):
            return self.__key.sign(data)
        return self.__key.sign(data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"Signer({self.algorithm.value}, {self.fingerprint})"

    def __reduce__(self) -> str | tuple[object, ...]:
        # Never pickled into a queue, a cache or a log record.
        raise TypeError("a Signer is not serialisable")


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: PublicKey) -> str:
    """`sha256:<hex>` of the DER SubjectPublicKeyInfo (what `openssl pkey -pubin -outform DER |
    sha256sum` prints)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"sha256:{hashlib.sha256(der).hexdigest()}"


def load_public_key(pem: bytes) -> PublicKey:
    key = serialization.load_pem_public_key(pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise SigningKeyProblem("the public key is neither ECDSA P-256 nor Ed25519")


def verify(key: PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def signer_from_pem(pem: bytes) -> Signer:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        # The library's message never includes key material.
        raise SigningKeyProblem(
            f"the signing key is not an unencrypted PEM private key: {error}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SigningKeyProblem("the signing key must be ECDSA P-256 or Ed25519")
    return Signer(key)


def generate_pem(algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256) -> bytes:
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm is KeyAlgorithm.ED25519
        else ec.generate_private_key(ec.SECP256R1())
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def dev_key_file(data_dir: Path, algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256) -> Path:
    """The local stack's development key, generated once (0600) under `data_dir`; services
    starting together race to create it and none reads it half written."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(generate_pem(algorithm))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def load_signer(
    *, secret_pem: str | None, key_file: Path | None, dev_data_dir: Path | None
) -> Signer:
    """The key from the secret, else the key file, else (local environment only, the caller
    passes `dev_data_dir`) the generated development key."""
    if secret_pem:
        return signer_from_pem(secret_pem.encode())
    if key_file is not None:
        return signer_from_pem(key_file.read_bytes())
    if dev_data_dir is not None:
        return signer_from_pem(dev_key_file(dev_data_dir).read_bytes())
    raise SigningKeyProblem(
        "no release signing key: set LTS_RELEASE_STAGE_SIGNING_KEY (PEM) or"
        " LTS_RELEASE_STAGE_SIGNING_KEY_FILE outside the local environment"
    )
