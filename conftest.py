"""Shared by every test directory: the `infra` session fixture gives real Kafka and PostgreSQL.

`ensure_infrastructure()` runs once per test session (environment first, then Docker, then local
processes that keep running for the next session) and its settings are exported to the
environment, so code that reads `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` finds them too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lts_events.infra import Infrastructure, ensure_infrastructure


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    found = ensure_infrastructure(keep=False)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in found.env().items():
            patch.setenv(key, value)
        yield found
