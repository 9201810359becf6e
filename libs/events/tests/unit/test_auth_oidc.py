"""OIDC bearer tokens: keys made in the test, their JWKS served by a real HTTP server in this
process, tokens checked by the service's `Authenticator` behind a FastAPI route."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal, require_role
from lts_events.settings import AuthSettings, CommonSettings, OidcIssuer

ISSUER = "https://idp.example.org/realms/lts"
AUDIENCE = "lts-flow"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        return {**algorithm.to_jwk(public, as_dict=True), "kid": self.kid, "alg": self.alg}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": kid or self.kid}
        )


def rsa_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(f"rsa-{uuid.uuid4().hex[:8]}", "RS256", private)


def ec_key() -> SigningKey:
    return SigningKey(
        f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1())
    )


@dataclass
class Jwks:
    """The identity provider's key endpoint: what it publishes and how often it was asked."""

    url: str
    published: list[SigningKey] = field(default_factory=list)
    fetches: int = 0


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[Jwks, str]]:
    state = Jwks(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps({"keys": [key.jwk() for key in state.published]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/protocol/openid-connect/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, state.url
    server.shutdown()
    server.server_close()


@pytest.fixture
def jwks(jwks_server: tuple[Jwks, str]) -> Jwks:
    """The key endpoint, publishing nothing yet and never asked."""
    state, url = jwks_server
    state.url = url
    state.published.clear()
    state.fetches = 0
    return state


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["triage_engineer"],
        **overrides,
    }


def service(jwks: Jwks, **issuer: Any) -> httpx.AsyncClient:
    """A route that needs the triage engineer role, behind an Authenticator from settings."""
    settings = AuthSettings(
        oidc_issuers=[
            OidcIssuer(
                issuer=ISSUER,
                audience=AUDIENCE,
                jwks_url=jwks.url,
                jwks_refresh_cooldown_seconds=0,
                **issuer,
            )
        ]
    )
    authenticator = Authenticator.from_settings(settings, CommonSettings(environment="production"))
    app = FastAPI()

    @app.get("/whoami")
    def whoami(principal: Annotated[Principal, Depends(authenticator)]) -> dict[str, Any]:
        require_role(Role.TRIAGE_ENGINEER)(principal)
        return {"actor": principal.actor_id, "roles": sorted(principal.roles)}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


async def call(client: httpx.AsyncClient, token: str) -> httpx.Response:
    async with client:
        return await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})


async def test_a_valid_token_is_accepted_with_its_actor_and_roles(jwks: Jwks) -> None:
    key = rsa_key()
    jwks.published.append(key)

    response = await call(service(jwks), key.sign(claims(roles=["triage_engineer", "qa"])))

    assert response.status_code == 200
    assert response.json() == {"actor": "alice", "roles": ["qa", "triage_engineer"]}


async def test_keycloak_groups_are_mapped_to_roles_and_the_actor_read_from_its_claim(
    jwks: Jwks,
) -> None:
    key = ec_key()
    jwks.published.append(key)
    token = key.sign(
        claims(
            roles=None,
            preferred_username="bob",
            realm_access={"roles": ["lts-triagers", "offline_access"]},
        )
    )

    response = await call(
        service(
            jwks,
            roles_claim="realm_access.roles",
            role_map={"lts-triagers": [Role.TRIAGE_ENGINEER]},
            actor_claim="preferred_username",
        ),
        token,
    )

    assert response.status_code == 200
    assert response.json() == {"actor": "bob", "roles": ["triage_engineer"]}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example.org"}, "is not trusted"),
        ({"aud": "another-service"}, "another audience"),
        ({"exp": int(time.time()) - 3600}, "token expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"exp": None}, "required claim"),
    ],
)
async def test_a_token_with_wrong_claims_is_refused_saying_why(
    jwks: Jwks, overrides: dict[str, Any], reason: str
) -> None:
    key = rsa_key()
    jwks.published.append(key)
    token_claims = {k: v for k, v in claims(**overrides).items() if v is not None}

    response = await call(service(jwks), key.sign(token_claims))

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="lts-flow", error="invalid_token"')
    assert reason in challenge


async def test_a_token_signed_by_an_unpublished_key_is_refused(jwks: Jwks) -> None:
    jwks.published.append(rsa_key())

    response = await call(service(jwks), rsa_key().sign(claims()))

    assert response.status_code == 401
    assert "no signing key" in response.headers["WWW-Authenticate"]


async def test_a_token_whose_signature_does_not_match_its_key_is_refused(jwks: Jwks) -> None:
    published = rsa_key()
    jwks.published.append(published)
    forged = rsa_key().sign(claims(), kid=published.kid)

    response = await call(service(jwks), forged)

    assert response.status_code == 401
    assert "signature does not verify" in response.headers["WWW-Authenticate"]


async def test_a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused(
    jwks: Jwks,
) -> None:
    published = rsa_key()
    jwks.published.append(published)
    header = {"kid": published.kid, "alg": "HS256", "typ": "JWT"}
    signing_input = (
        jwt.utils.base64url_encode(json.dumps(header).encode())
        + b"."
        + jwt.utils.base64url_encode(json.dumps(claims()).encode())
    )
    secret = json.dumps(published.jwk()).encode()
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()

    response = await call(service(jwks), token)

    assert response.status_code == 401


async def test_a_valid_token_without_the_required_role_is_forbidden(jwks: Jwks) -> None:
    key = rsa_key()
    jwks.published.append(key)

    response = await call(service(jwks), key.sign(claims(roles=["qa"])))

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


async def test_a_valid_token_granting_no_role_of_ours_is_forbidden(jwks: Jwks) -> None:
    key = rsa_key()
    jwks.published.append(key)

    response = await call(service(jwks), key.sign(claims(roles=["admins"])))

    assert response.status_code == 403


async def test_the_keys_are_cached_and_fetched_again_for_a_rotated_key(jwks: Jwks) -> None:
    first, rotated = rsa_key(), ec_key()
    jwks.published.append(first)
    client = service(jwks)
    async with client:
        headers = {"Authorization": f"Bearer {first.sign(claims())}"}
        assert (await client.get("/whoami", headers=headers)).status_code == 200
        assert (await client.get("/whoami", headers=headers)).status_code == 200
        fetched_before_rotation = jwks.fetches
        jwks.published.append(rotated)

        rotated_call = await client.get(
            "/whoami", headers={"Authorization": f"Bearer {rotated.sign(claims())}"}
        )

    assert fetched_before_rotation == 1
    assert rotated_call.status_code == 200
    assert jwks.fetches == 2


async def test_an_unreachable_key_endpoint_answers_503_not_401(jwks: Jwks) -> None:
    key = rsa_key()
    jwks.url = "http://127.0.0.1:9/unreachable"

    response = await call(service(jwks), key.sign(claims()))

    assert response.status_code == 503
