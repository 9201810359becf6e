"""Static bearer tokens: configured as SHA-256 digests (or plaintext, hashed when loaded), the
dev tokens only in the local environment."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal, load_tokens, require_role, token_digest
from lts_events.settings import AuthSettings, CommonSettings, TokenEntry

CI_TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08-ci"
PRODUCTION = CommonSettings(environment="production")
LOCAL = CommonSettings(environment="local")


def configured(tokens: dict[str, TokenEntry]) -> AuthSettings:
    return AuthSettings(tokens=tokens)


async def call(authenticator: Authenticator, token: str | None) -> httpx.Response:
    app = FastAPI()

    @app.get("/release")
    def release(principal: Annotated[Principal, Depends(authenticator)]) -> dict[str, Any]:
        require_role(Role.RELEASE_MANAGER)(principal)
        return {"actor": principal.actor_id}

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.get("/release", headers=headers)


async def test_a_token_configured_by_its_digest_is_accepted() -> None:
    settings = configured(
        {token_digest(CI_TOKEN): TokenEntry(actor="ci", roles=[Role.RELEASE_MANAGER])}
    )

    response = await call(Authenticator.from_settings(settings, PRODUCTION), CI_TOKEN)

    assert response.status_code == 200
    assert response.json() == {"actor": "ci"}


async def test_a_plaintext_token_is_accepted_and_kept_only_as_its_digest() -> None:
    settings = configured({CI_TOKEN: TokenEntry(actor="ci", roles=[Role.RELEASE_MANAGER])})

    table = load_tokens(settings, PRODUCTION)
    response = await call(Authenticator.from_settings(settings, PRODUCTION), CI_TOKEN)

    assert response.status_code == 200
    assert CI_TOKEN not in repr(vars(table))
    assert CI_TOKEN.encode() not in repr(vars(table)).encode()


async def test_a_token_that_is_only_a_digest_of_nothing_configured_is_refused() -> None:
    settings = configured(
        {token_digest(CI_TOKEN): TokenEntry(actor="ci", roles=[Role.RELEASE_MANAGER])}
    )

    response = await call(Authenticator.from_settings(settings, PRODUCTION), token_digest(CI_TOKEN))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_no_token_gets_a_bare_bearer_challenge() -> None:
    response = await call(Authenticator.from_settings(AuthSettings(), LOCAL), None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="lts-flow"'


async def test_a_known_token_without_the_role_is_forbidden() -> None:
    response = await call(Authenticator.from_settings(AuthSettings(), LOCAL), "dev-qa")

    assert response.status_code == 403


async def test_dev_tokens_work_in_the_local_environment() -> None:
    response = await call(Authenticator.from_settings(AuthSettings(), LOCAL), "dev-release_manager")

    assert response.status_code == 200


async def test_dev_tokens_are_refused_once_tokens_are_configured() -> None:
    settings = configured(
        {token_digest(CI_TOKEN): TokenEntry(actor="ci", roles=[Role.RELEASE_MANAGER])}
    )

    response = await call(Authenticator.from_settings(settings, LOCAL), "dev-release_manager")

    assert response.status_code == 401


def test_outside_local_some_authentication_must_be_configured() -> None:
    with pytest.raises(RuntimeError, match="LTS_AUTH_TOKENS or LTS_AUTH_OIDC_ISSUERS"):
        Authenticator.from_settings(AuthSettings(), PRODUCTION)


def test_a_malformed_digest_is_refused_when_loaded() -> None:
    settings = configured({"sha256:abc": TokenEntry(actor="ci", roles=[Role.RELEASE_MANAGER])})

    with pytest.raises(ValueError, match="64 hex digits"):
        load_tokens(settings, PRODUCTION)


def test_tokens_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LTS_AUTH_TOKENS", f'{{"{token_digest(CI_TOKEN)}": {{"actor": "ci", "roles": ["qa"]}}}}'
    )

    table = load_tokens(AuthSettings(), PRODUCTION)

    assert table.find(CI_TOKEN) == Principal("ci", frozenset({Role.QA}))
