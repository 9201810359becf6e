"""Readiness probes that talk the real protocols: a Kafka metadata request, a PostgreSQL query."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def answers(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on `host:port` (a cheap first check)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""

    async def runner() -> T:
        return await make()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()


def kafka_ready(bootstrap_servers: str, *, timeout_ms: int = 3000) -> bool:
    """True when the cluster answers a metadata request listing at least one broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    if not answers(host, int(port)):
        return False

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=timeout_ms / 1000)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=timeout_ms / 1000)
            return bool(cluster.get("brokers"))
        except Exception:
            return False
        finally:
            await admin.close()

    return run_async(probe)


def postgres_ready(database_url: str, *, timeout_s: float = 3.0) -> bool:
    """True when the server accepts a connection and answers `SELECT 1`."""
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(database_url, timeout=timeout_s)
        except Exception:
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return run_async(probe)
