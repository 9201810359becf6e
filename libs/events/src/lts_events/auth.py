"""Bearer-token authentication shared by every service's HTTP API.

Tokens map to an actor and the roles that actor may act in. They come from `LTS_AUTH_TOKENS`
(JSON: {"<token>": {"actor": "alice", "roles": ["triage_engineer"]}}); outside the `local`
environment the built-in development tokens are refused."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lts_events.actors import Actor, Role


@dataclass(frozen=True, slots=True)
class Principal:
    actor_id: str
    roles: frozenset[Role]

    def acting_as(self, role: Role) -> Actor:
        return Actor(id=self.actor_id, role=role)

    def has(self, role: Role) -> bool:
        return role in self.roles


def _dev_tokens() -> dict[str, Principal]:
    """One token per role, `dev-<role>`, for the local stack and the tests."""
    tokens = {
        f"dev-{role.value}": Principal(f"dev-{role.value}", frozenset({role})) for role in Role
    }
    tokens["dev-maintainer-alice"] = Principal(
        "alice", frozenset({Role.MAINTAINER, Role.CODE_REVIEWER, Role.TRIAGE_ENGINEER})
    )
    return tokens


def load_tokens(environ: Mapping[str, str] | None = None) -> dict[str, Principal]:
    env = os.environ if environ is None else environ
    raw = env.get("LTS_AUTH_TOKENS")
    if not raw:
        if env.get("LTS_ENVIRONMENT", "local") != "local":
            raise RuntimeError("LTS_AUTH_TOKENS must be set outside the local environment")
        return _dev_tokens()
    parsed = json.loads(raw)
    return {
        token: Principal(entry["actor"], frozenset(Role(r) for r in entry["roles"]))
        for token, entry in parsed.items()
    }


_bearer = HTTPBearer(auto_error=False)


class Authenticator:
    """A FastAPI dependency resolving the bearer token to a `Principal` (401 otherwise)."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._tokens = dict(tokens)

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("missing bearer token")
        for token, principal in self._tokens.items():
            if hmac.compare_digest(token.encode(), credentials.credentials.encode()):
                return principal
        raise _unauthorized("unknown bearer token")


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """Refuse with 403 unless the principal holds one of `roles`."""

    def check(principal: Principal) -> Principal:
        if not any(principal.has(role) for role in roles):
            wanted = ", ".join(r.value for r in roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {wanted}")
        return principal

    return check


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )
