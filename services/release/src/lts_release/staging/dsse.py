"""DSSE envelopes (secure-systems-lab/dsse protocol.md): what is signed is the PAE of the
payload type and the payload bytes, never the base64 text.

PAE(T, BODY) = "DSSEv1" SP LEN(T) SP T SP LEN(BODY) SP BODY, LEN the decimal byte count."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(
    payload_type: str, payload: bytes, *, sign: Callable[[bytes], bytes], keyid: str
) -> dict[str, Any]:
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": keyid, "sig": base64.b64encode(sign(pae(payload_type, payload))).decode()}
        ],
    }


@dataclass(frozen=True)
class OpenedEnvelope:
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]


class EnvelopeProblem(ValueError):
    pass


def open_envelope(document: bytes) -> OpenedEnvelope:
    """Parse an envelope (standard or URL-safe base64); the signatures still need checking."""
    try:
        raw = json.loads(document)
        payload_type = raw["payloadType"]
        payload = b64decode_any(raw["payload"])
        signatures = tuple(b64decode_any(entry["sig"]) for entry in raw["signatures"])
    except (ValueError, KeyError, TypeError) as error:
        raise EnvelopeProblem(f"not a DSSE envelope: {error}") from None
    if not isinstance(payload_type, str) or not signatures:
        raise EnvelopeProblem("a DSSE envelope needs a payloadType and at least one signature")
    return OpenedEnvelope(payload_type, payload, signatures)


def verify_envelope(envelope: OpenedEnvelope, *, verify: Callable[[bytes, bytes], bool]) -> bool:
    """True when one signature verifies over the PAE (`verify(data, signature)`)."""
    signed = pae(envelope.payload_type, envelope.payload)
    return any(verify(signed, signature) for signature in envelope.signatures)


def b64decode_any(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("base64 text expected")
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except binascii.Error as error:
        raise ValueError(f"not base64: {error}") from None
