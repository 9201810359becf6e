"""Secrets in query strings never reach the access log: a real uvicorn server, logging as the
service host sets it up, answers a request that carries `?token=`."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from lts_events.access_log import redact_query
from lts_events.logging import setup_logging


def test_sensitive_values_are_replaced_and_the_rest_kept() -> None:
    target = "/tickets?token=abc&page=2&access_token=def&X-Amz-Signature=ghi&api%5Fkey=jkl&flag"

    redacted = redact_query(target)

    assert redacted == (
        "/tickets?token=REDACTED&page=2&access_token=REDACTED"
        "&X-Amz-Signature=REDACTED&api%5Fkey=REDACTED&flag"
    )


def test_a_path_without_a_query_is_unchanged() -> None:
    assert redact_query("/tickets/ticket-1") == "/tickets/ticket-1"


async def test_uvicorns_access_log_does_not_record_a_token_from_the_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()

    @app.get("/tickets")
    async def tickets() -> list[str]:
        return []

    setup_logging("access-log-test", level="INFO")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # connections wait in the backlog until the server accepts
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/tickets?token=s3cr3t-value&page=2"
            )
    finally:
        server.should_exit = True
        await serving
        listener.close()

    assert response.status_code == 200
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert access, "uvicorn wrote no access log line"
    assert "s3cr3t-value" not in "\n".join(access)
    assert "/tickets?token=REDACTED&page=2" in access[0]
