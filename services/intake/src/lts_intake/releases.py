"""Recent releases, read from `lts.release.events`, so an alert that starts shortly after a
release is flagged as a possible regression. Intake keeps its own small table of them."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from lts_events.consumer import RawMessage
from lts_events.contracts.intake import ReleaseRef
from lts_events.envelope import Envelope
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from lts_intake.tables import ReleaseTable

log = logging.getLogger(__name__)

_PUBLISHED_SUFFIXES = ("release_published", "published", "released")
_LOOKBACK = timedelta(days=30)


class _PublishedRelease(BaseModel):
    """The fields intake needs from a release-published event (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")

    version: str
    published_at: datetime | None = None
    released_at: datetime | None = None
    lts_line: str | None = None
    branch: str | None = None
    release_id: str | None = None


def release_from(envelope: Envelope) -> ReleaseRef | None:
    """A `ReleaseRef` when the event says a release was published; None for any other event."""
    if not envelope.type.endswith(_PUBLISHED_SUFFIXES):
        return None
    try:
        data = _PublishedRelease.model_validate(envelope.data)
    except ValidationError:
        return None
    at = data.published_at or data.released_at or envelope.time
    if at is None:
        return None
    return ReleaseRef(
        version=data.version,
        released_at=at,
        lts_line=data.lts_line or data.branch,
        release_id=data.release_id or envelope.subject,
    )


class SqlReleaseTable:
    """`ReleaseTable` in intake's PostgreSQL schema."""

    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._engine = engine
        self._schema = schema

    @asynccontextmanager
    async def _db(self) -> AsyncIterator[Any]:
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield raw.driver_connection

    async def create_tables(self) -> None:
        async with self._db() as db:
            await db.execute(
                f'''CREATE TABLE IF NOT EXISTS "{self._schema}".releases (
                      version text NOT NULL, lts_line text, released_at timestamptz NOT NULL,
                      release_id text, PRIMARY KEY (version, released_at))'''
            )

    async def insert(self, release: ReleaseRef) -> None:
        async with self._db() as db:
            await db.execute(
                f'INSERT INTO "{self._schema}".releases '
                "(version, lts_line, released_at, release_id) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                release.version,
                release.lts_line,
                release.released_at,
                release.release_id,
            )

    async def within(self, lookback: timedelta) -> Sequence[ReleaseRef]:
        async with self._db() as db:
            rows = await db.fetch(
                f'SELECT version, lts_line, released_at, release_id FROM "{self._schema}".releases '
                "WHERE released_at > now() - $1::interval ORDER BY released_at DESC LIMIT 100",
                lookback,
            )
        return [ReleaseRef(**dict(row)) for row in rows]


class RecentReleases:
    def __init__(self, table: ReleaseTable, *, ttl: float = 10.0) -> None:
        self.table = table
        self._ttl = ttl
        self._cached: tuple[float, Sequence[ReleaseRef]] | None = None

    async def record(self, release: ReleaseRef) -> None:
        await self.table.insert(release)
        self._cached = None

    async def recent(self) -> Sequence[ReleaseRef]:
        """Releases of the last 30 days (cached for `ttl` seconds; a new release refreshes it)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        releases = await self.table.within(_LOOKBACK)
        self._cached = (now, releases)
        return releases

    async def on_release_message(self, message: RawMessage) -> None:
        try:
            envelope = Envelope.from_kafka(message.value, message.headers)
        except (ValueError, ValidationError):
            log.info("skipping an undecodable message on the release topic")
            return
        release = release_from(envelope)
        if release is not None:
            await self.record(release)
