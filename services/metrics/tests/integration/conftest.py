"""A real PostgreSQL metrics store per test: a uuid-suffixed schema with the read models and a
per-test analyst role, both dropped afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from lts_events.store.postgres import PostgresEventStore
from lts_metrics.adoption import AdoptionInbox
from lts_metrics.audit_tables import PostgresAuditTables
from lts_metrics.handlers import AuditLog
from lts_metrics.projector import ProjectionEngine
from lts_metrics.queries import MetricsQueries
from lts_metrics.queries_adoption import AdoptionQueries
from lts_metrics.schema import ensure_schema
from sqlalchemy import text


@dataclass
class Metrics:
    store: PostgresEventStore
    audit: AuditLog
    projections: ProjectionEngine
    queries: MetricsQueries
    analyst_role: str
    adoption: AdoptionQueries
    inbox: AdoptionInbox

    async def settle(self, *, within: float = 60.0) -> int:
        """Project until nothing is pending; returns how many events were applied. Polls because
        the gap-free reader holds back events while any older transaction on the (shared) server
        is still open."""
        applied, deadline = 0, time.monotonic() + within
        while time.monotonic() < deadline:
            applied += await self.projections.catch_up()
            if (await self.projections.status()).caught_up:
                return applied
            await asyncio.sleep(0.1)
        raise AssertionError(f"projections still behind after {within} s")


@pytest.fixture
async def metrics(database_url: str) -> AsyncIterator[Metrics]:
    suffix = uuid.uuid4().hex[:10]
    schema, role = f"metrics_t_{suffix}", f"lts_analyst_t_{suffix}"
    store = await PostgresEventStore.connect(database_url, schema=schema)
    async with store.engine.begin() as conn:
        await ensure_schema(conn, schema=schema, analyst_role=role, analyst_password=None)
    projections = ProjectionEngine(store, store.engine, schema=schema)
    yield Metrics(
        store=store,
        audit=AuditLog(PostgresAuditTables(store, fresh=projections.fresh)),
        projections=projections,
        queries=MetricsQueries(store.engine, schema=schema),
        analyst_role=role,
        adoption=AdoptionQueries(store.engine, schema=schema),
        inbox=AdoptionInbox(store),
    )
    async with store.engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await conn.execute(text(f"DROP OWNED BY {role}"))
        await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
    await store.close()
