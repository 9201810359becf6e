"""OIDC bearer tokens: JWTs signed by an identity provider (Keycloak, Okta, GitHub Actions...)
and checked against the keys it publishes (JWKS), so no secret is shared with it.

PyJWT does the checks (signature with an allowed algorithm only, `exp`, `nbf`, `iss`, `aud`)
and its `PyJWKClient` fetches the JWKS, caches it, and fetches again when a token names a `kid`
it does not know (a rotated key), at most once per cooldown. The fetch is synchronous: the
`Authenticator` is a plain FastAPI dependency, run in the thread pool."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from lts_events.actors import Role
from lts_events.auth_tokens import Principal
from lts_events.settings import OidcIssuer

_ROLE_NAMES = frozenset(role.value for role in Role)


class InvalidBearerToken(Exception):
    """The token is not acceptable; the message says why (it is sent back to the client)."""


class KeysUnavailable(Exception):
    """The issuer's JWKS could not be fetched: not the client's fault, retry later."""


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`), None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def roles_from(values: Any, role_map: Mapping[str, Sequence[Role]]) -> frozenset[Role]:
    """Our roles for the values of the roles claim (one string or a list of them). Values the
    map does not name are ignored; with an empty map, role names stand for themselves."""
    listed: Iterable[Any] = [values] if isinstance(values, str) else values or []
    roles: set[Role] = set()
    for value in listed:
        if not isinstance(value, str):
            continue
        if role_map:
            roles.update(role_map.get(value, ()))
        elif value in _ROLE_NAMES:
            roles.add(Role(value))
    return frozenset(roles)


def principal_from(claims: Mapping[str, Any], issuer: OidcIssuer) -> Principal:
    actor = claim_at(claims, issuer.actor_claim)
    if not isinstance(actor, str) or not actor:
        raise InvalidBearerToken(f"the token has no {issuer.actor_claim!r} claim naming the actor")
    return Principal(actor, roles_from(claim_at(claims, issuer.roles_claim), issuer.role_map))


class OidcVerifier:
    def __init__(self, issuers: Sequence[OidcIssuer]) -> None:
        self._issuers = {
            issuer.issuer: (
                issuer,
                PyJWKClient(
                    issuer.jwks_url,
                    cache_jwk_set=True,
                    lifespan=issuer.jwks_cache_seconds,
                    cooldown_duration=issuer.jwks_refresh_cooldown_seconds,
                    timeout=5,
                ),
            )
            for issuer in issuers
        }

    def verify(self, token: str) -> Principal:
        issuer, keys = self._issuer_of(token)
        try:
            key = keys.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"the signing keys of {issuer.issuer} are unavailable") from error
        except (PyJWKClientError, jwt.DecodeError) as error:
            raise InvalidBearerToken(
                f"no signing key of {issuer.issuer} matches the token"
            ) from error
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(issuer.algorithms),
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=issuer.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise InvalidBearerToken(_reason(error)) from error
        return principal_from(claims, issuer)

    def _issuer_of(self, token: str) -> tuple[OidcIssuer, PyJWKClient]:
        """The issuer the token claims to come from (checked again, signed, by `decode`)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError as error:
            raise InvalidBearerToken("malformed token") from error
        found = self._issuers.get(unverified.get("iss", ""))
        if found is None:
            raise InvalidBearerToken(f"issuer {unverified.get('iss')!r} is not trusted")
        return found


def _reason(error: jwt.InvalidTokenError) -> str:
    reasons: list[tuple[type[jwt.InvalidTokenError], str]] = [
        (jwt.ExpiredSignatureError, "token expired"),
        (jwt.ImmatureSignatureError, "token not valid yet (nbf/iat in the future)"),
        (jwt.InvalidAudienceError, "token is for another audience"),
        (jwt.InvalidIssuerError, "issuer is not trusted"),
        (jwt.InvalidSignatureError, "signature does not verify"),
        (jwt.InvalidAlgorithmError, "signing algorithm not allowed"),
        (jwt.MissingRequiredClaimError, f"token lacks a required claim: {error}"),
    ]
    for kind, reason in reasons:
        if isinstance(error, kind):
            return reason
    return f"invalid token: {error}"


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
