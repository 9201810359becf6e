"""Bearer-token authentication shared by every service's HTTP API.

A bearer token is either a static token (`LTS_AUTH_TOKENS`, kept as SHA-256 digests:
`auth_tokens.py`) or a JWT from a configured OIDC issuer (`LTS_AUTH_OIDC_ISSUERS`, checked
against the issuer's published keys: `auth_oidc.py`). Either gives a `Principal`: an actor and
the roles it may act in. In the `local` environment, with no static token configured, the
development tokens `dev-<role>` work; elsewhere they are refused, and a service without any
static token or issuer configured refuses to start.

Refusals follow RFC 6750: 401 with `WWW-Authenticate: Bearer ... error="invalid_token"` and why,
403 with `error="insufficient_scope"` when a role is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lts_events.actors import Role
from lts_events.auth_oidc import InvalidBearerToken, KeysUnavailable, OidcVerifier, looks_like_jwt
from lts_events.auth_tokens import Principal, TokenTable, dev_tokens, token_digest
from lts_events.settings import AuthSettings, CommonSettings

__all__ = [
    "Authenticator",
    "Principal",
    "dev_tokens_in_force",
    "load_tokens",
    "require_role",
    "token_digest",
]

REALM = "lts-flow"


def dev_tokens_in_force(auth: AuthSettings, common: CommonSettings) -> bool:
    return common.environment == "local" and not auth.tokens


def load_tokens(
    auth: AuthSettings | None = None, common: CommonSettings | None = None
) -> TokenTable:
    """The static tokens in force: the configured ones, or the dev tokens (local only)."""
    auth = auth or AuthSettings()
    common = common or CommonSettings()
    if dev_tokens_in_force(auth, common):
        return TokenTable(dev_tokens())
    if not auth.tokens and not auth.oidc_issuers:
        raise RuntimeError(
            "LTS_AUTH_TOKENS or LTS_AUTH_OIDC_ISSUERS must be set outside the local environment"
        )
    return TokenTable(
        {
            token: Principal(entry.actor, frozenset(entry.roles))
            for token, entry in auth.tokens.items()
        }
    )


_bearer = HTTPBearer(auto_error=False)


class Authenticator:
    """A FastAPI dependency resolving the bearer token to a `Principal` (401 otherwise). A plain
    function, so FastAPI runs it in its thread pool: fetching an issuer's keys may block."""

    def __init__(self, tokens: TokenTable, oidc: OidcVerifier | None = None) -> None:
        self._tokens = tokens
        self._oidc = oidc

    @classmethod
    def from_settings(
        cls, auth: AuthSettings | None = None, common: CommonSettings | None = None
    ) -> Authenticator:
        auth = auth or AuthSettings()
        oidc = OidcVerifier(auth.oidc_issuers) if auth.oidc_issuers else None
        return cls(load_tokens(auth, common), oidc)

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        if credentials is None:
            raise _unauthorized(None)
        token = credentials.credentials
        principal = self._tokens.find(token)
        if principal is None and self._oidc is not None and looks_like_jwt(token):
            principal = self._verified(self._oidc, token)
        if principal is None:
            raise _unauthorized("unknown bearer token")
        if not principal.roles:
            raise _forbidden("the token grants none of LTS Flow's roles")
        return principal

    @staticmethod
    def _verified(oidc: OidcVerifier, token: str) -> Principal:
        try:
            return oidc.verify(token)
        except InvalidBearerToken as error:
            raise _unauthorized(str(error)) from None
        except KeysUnavailable as error:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, str(error), headers={"Retry-After": "5"}
            ) from None


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """Refuse with 403 unless the principal holds one of `roles`."""

    def check(principal: Principal) -> Principal:
        if not any(principal.has(role) for role in roles):
            wanted = ", ".join(r.value for r in roles)
            raise _forbidden(f"requires one of the roles: {wanted}")
        return principal

    return check


def _challenge(error: str | None = None, description: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    return "Bearer " + ", ".join(parts)


def _unauthorized(reason: str | None) -> HTTPException:
    """No token: a bare challenge (RFC 6750 3.1); a bad one: `invalid_token` and why."""
    challenge = _challenge() if reason is None else _challenge("invalid_token", reason)
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        reason or "missing bearer token",
        headers={"WWW-Authenticate": challenge},
    )


def _forbidden(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        reason,
        headers={"WWW-Authenticate": _challenge("insufficient_scope", reason)},
    )
