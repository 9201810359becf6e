"""The analysts' database role reads the documented views and nothing else."""

from __future__ import annotations

import pytest
from lts_metrics.schema import VIEWS
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from .conftest import Metrics

pytestmark = pytest.mark.integration


async def as_analyst(metrics: Metrics, sql: str) -> None:
    async with metrics.store.engine.connect() as conn:
        await conn.execute(text(f"SET ROLE {metrics.analyst_role}"))
        try:
            await conn.execute(text(sql))
        finally:
            await conn.rollback()


async def test_analyst_reads_every_documented_view(metrics: Metrics) -> None:
    schema = metrics.store.schema

    for view in VIEWS:
        await as_analyst(metrics, f"SELECT * FROM {schema}.{view} LIMIT 1")


@pytest.mark.parametrize(
    "table", ["ticket_lifecycle", "ticket_timeline", "audit_envelopes", "events", "checkpoints"]
)
async def test_analyst_cannot_read_the_base_tables(metrics: Metrics, table: str) -> None:
    schema = metrics.store.schema

    with pytest.raises(DBAPIError, match="permission denied"):
        await as_analyst(metrics, f"SELECT * FROM {schema}.{table}")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {s}.v_ticket_lifecycle (ticket_id, state) VALUES (1, 'opened')",
        "UPDATE {s}.v_ticket_lifecycle SET state = 'approved'",
        "DELETE FROM {s}.v_ticket_timeline",
        "INSERT INTO {s}.ticket_lifecycle (ticket_id, state) VALUES (1, 'opened')",
        "CREATE TABLE {s}.mine (x int)",
        "CREATE TABLE public.analyst_was_here (x int)",
    ],
)
async def test_analyst_cannot_write_anything(metrics: Metrics, statement: str) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        await as_analyst(metrics, statement.format(s=metrics.store.schema))


async def test_analyst_cannot_read_another_services_schema(metrics: Metrics) -> None:
    other = f"{metrics.store.schema}_other"
    async with metrics.store.engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {other}"))
        await conn.execute(text(f"CREATE TABLE {other}.events (x int)"))
    try:
        with pytest.raises(DBAPIError, match="permission denied"):
            await as_analyst(metrics, f"SELECT * FROM {other}.events")
    finally:
        async with metrics.store.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {other} CASCADE"))
