"""Schemathesis fuzzes every operation of the OpenAPI document against the real service (uvicorn
on a real port, real PostgreSQL and Kafka): no input may produce a 5xx."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import asyncpg_url
from lts_intake.main import SPEC
from schemathesis.core.result import Ok
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

TOKEN = "dev-automation"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(kafka: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    unique = uuid.uuid4().hex[:10]
    name = f"intake_fuzz_{unique}"
    monkeypatch.setenv("LTS_INTAKE_INBOUND_ALERTS_TOPIC", f"lts.inbound.alerts_{unique}")
    monkeypatch.setenv("LTS_INTAKE_RELEASE_TOPIC", f"lts.release_{unique}.events")
    monkeypatch.setenv("LTS_INTAKE_ALERT_WEBHOOK_TOKEN", TOKEN)
    port = _free_port()
    app = build_app(
        dataclasses.replace(SPEC, name=name),
        RuntimeSettings(kafka_bootstrap_servers=kafka, database_url=database_url),
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"{base}/healthz", timeout=1).status_code == 200
                and uvicorn_server.started
            ):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    try:
        yield base
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        asyncio.run(_drop_schema(database_url, name))


async def _drop_schema(database_url: str, name: str) -> None:
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()


def test_no_generated_request_makes_the_service_answer_5xx(server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert {op.path for op in operations} >= {
        "/reports",
        "/webhooks/alertmanager",
        "/feeds/osv",
        "/tickets",
    }
    failures: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy(), auth=st.sampled_from([True, True, True, False]))
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case: schemathesis.Case[Any], auth: bool) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
            response = case.call(base_url=server, headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        fuzz()

    assert failures == []
