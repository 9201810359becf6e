"""The rebuild's COPY writes timestamps through its own codec (`timestamptz_wire`): PostgreSQL
must store exactly what the driver's own codec stores, for every kind of value."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from lts_metrics.projector import timestamptz_from_wire, timestamptz_wire

pytestmark = pytest.mark.integration

VALUES = [
    datetime(2026, 5, 4, 8, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 5, 4, 8, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the wire's epoch
    datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 5, 4, 8, 0, 0, 5),  # naive: local time, as the driver takes it
    datetime.max,  # the driver's infinities
    datetime.min,
]


@pytest.fixture
async def connections(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, ...]]:
    drivers, ours = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    await ours.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=timestamptz_wire,
        decoder=timestamptz_from_wire,
        format="tuple",
    )
    yield drivers, ours
    await drivers.close()
    await ours.close()


@pytest.mark.parametrize("value", VALUES, ids=str)
async def test_the_rebuild_codec_stores_what_the_driver_stores(
    connections: tuple[asyncpg.Connection, ...], value: datetime
) -> None:
    drivers, ours = connections
    query = "SELECT $1::timestamptz::text, $1::timestamptz"

    expected, ours_stored = await drivers.fetchrow(query, value), await ours.fetchrow(query, value)

    assert ours_stored[0] == expected[0]
    assert ours_stored[1] == expected[1]
    assert type(ours_stored[1]) is type(expected[1])
    assert ours_stored[1].tzinfo is expected[1].tzinfo


@pytest.mark.parametrize("stored", ["infinity", "-infinity", "2000-01-01 00:00:00+00"])
async def test_the_rebuild_codec_reads_what_the_driver_reads(
    connections: tuple[asyncpg.Connection, ...], stored: str
) -> None:
    drivers, ours = connections
    query = f"SELECT '{stored}'::timestamptz"

    assert await ours.fetchval(query) == await drivers.fetchval(query)
