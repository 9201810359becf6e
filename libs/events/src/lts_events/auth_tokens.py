"""Static bearer tokens, kept only as SHA-256 digests.

A configured token is either `sha256:<64 hex digits>` (what production configuration holds,
so a leaked settings dump grants nothing) or a plaintext token (development), hashed when
loaded. Unsalted SHA-256 suits tokens made at random (e.g. `openssl rand -hex 32`), not
passwords people choose: a random 256-bit token cannot be guessed from its digest."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lts_events.actors import Actor, Role

DIGEST_PREFIX = "sha256:"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Principal:
    actor_id: str
    roles: frozenset[Role]

    def acting_as(self, role: Role) -> Actor:
        return Actor(id=self.actor_id, role=role)

    def has(self, role: Role) -> bool:
        return role in self.roles


def token_digest(token: str) -> str:
    """What to put in `LTS_AUTH_TOKENS` instead of the token itself."""
    return DIGEST_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def _digest_bytes(configured: str) -> bytes:
    if configured.startswith(DIGEST_PREFIX):
        hexdigest = configured.removeprefix(DIGEST_PREFIX).lower()
        if not _HEX_DIGEST.fullmatch(hexdigest):
            raise ValueError(f"{DIGEST_PREFIX} must be followed by 64 hex digits")
        return bytes.fromhex(hexdigest)
    return hashlib.sha256(configured.encode()).digest()


class TokenTable:
    """Tokens by digest. `find` compares the presented token's digest with every configured one
    in constant time, and does not stop at a match: how long it takes says nothing about which
    digest, if any, matched."""

    def __init__(self, configured: Mapping[str, Principal]) -> None:
        self._digests = [
            (_digest_bytes(token), principal) for token, principal in configured.items()
        ]

    def __len__(self) -> int:
        return len(self._digests)

    def find(self, token: str) -> Principal | None:
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, principal in self._digests:
            if hmac.compare_digest(digest, presented):
                found = principal
        return found


def dev_tokens() -> dict[str, Principal]:
    """One token per role, `dev-<role>`, for the local stack and the tests."""
    tokens = {
        f"dev-{role.value}": Principal(f"dev-{role.value}", frozenset({role})) for role in Role
    }
    tokens["dev-maintainer-alice"] = Principal(
        "alice", frozenset({Role.MAINTAINER, Role.CODE_REVIEWER, Role.TRIAGE_ENGINEER})
    )
    return tokens
