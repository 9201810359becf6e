from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from lts_release.staging.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    open_envelope,
    pae,
    sign_envelope,
    verify_envelope,
)
from lts_release.staging.keys import Signer, verify


def test_pae_matches_the_spec_example() -> None:
    # secure-systems-lab/dsse protocol.md, "Test vector"
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_the_envelope_signs_the_pae_not_the_base64_payload(signer: Signer) -> None:
    payload = b'{"_type":"https://in-toto.io/Statement/v1"}'
    key = load_pem_public_key(signer.public_pem)

    envelope = sign_envelope(IN_TOTO_PAYLOAD_TYPE, payload, sign=signer.sign, keyid="k")

    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    assert verify(key, pae(IN_TOTO_PAYLOAD_TYPE, payload), signature)  # type: ignore[arg-type]
    assert not verify(key, envelope["payload"].encode(), signature)  # type: ignore[arg-type]


def test_an_envelope_in_url_safe_base64_opens_and_verifies(signer: Signer) -> None:
    payload = bytes(range(250, 256)) * 3  # base64 with + and /, url-safe with - and _
    envelope = sign_envelope("application/x", payload, sign=signer.sign, keyid="k")
    envelope["payload"] = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    key = load_pem_public_key(signer.public_pem)

    opened = open_envelope(json.dumps(envelope).encode())

    assert opened.payload == payload
    assert verify_envelope(opened, verify=lambda d, s: verify(key, d, s))  # type: ignore[arg-type]


def test_a_changed_payload_does_not_verify(signer: Signer) -> None:
    envelope = sign_envelope("application/x", b"one", sign=signer.sign, keyid="k")
    envelope["payload"] = base64.b64encode(b"two").decode()
    key = load_pem_public_key(signer.public_pem)

    opened = open_envelope(json.dumps(envelope).encode())

    assert not verify_envelope(opened, verify=lambda d, s: verify(key, d, s))  # type: ignore[arg-type]
