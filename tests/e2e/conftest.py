"""The real stack for end-to-end tests (`harness.stack`): intake, triage and metrics as their own
processes on free ports, against real Kafka and PostgreSQL.

Isolation on shared infrastructure: a fresh database per run (every service's schema in it) and a
per-run Kafka namespace for topics and consumer groups (`harness.namespace`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import pytest

from harness.database import create_database, drop_database
from harness.stack import SERVICES, Stack, build_stack

__all__ = ["ANCHORING", "Stack", "running_stack"]

# Chain anchors within a second of new events (not every 5 minutes), with a known key.
ANCHORING = {
    "LTS_ANCHOR_KEY": "e2e-anchor-key",
    **{f"LTS_{name.upper()}_ANCHOR_INTERVAL": "1" for name in ("intake", "triage", "metrics")},
}


@contextmanager
def running_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: Mapping[str, str] = ANCHORING,
    services: Sequence[str] = SERVICES,
) -> Iterator[Stack]:
    """A stack on a database and Kafka namespace of its own, started, for the block."""
    server_url: str = request.getfixturevalue("database_url")
    kafka: str = request.getfixturevalue("kafka")
    run_id = uuid.uuid4().hex[:10]
    database = f"lts_e2e_{run_id}"
    stack = build_stack(
        kafka_bootstrap_servers=kafka,
        database_url=create_database(server_url, database),
        database=database,
        logs=tmp_path_factory.mktemp("stack"),
        namespace=f"e2e-{run_id}.",
        extra_env=extra_env,
        services=services,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        drop_database(server_url, database)


# One stack for every end-to-end module: starting it takes seconds of both cores, and the
# modules beside test_stack.py (the /docs browser check) only read from it. (test_tracing.py
# starts its own, exporting telemetry, so that the others run as a service does by default.)
@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(request, tmp_path_factory) as stack:
        yield stack
