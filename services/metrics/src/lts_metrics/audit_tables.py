"""Where an audit batch (or one lane of it, `audit.lanes_of`) is written (`AuditTables`): its
envelope facts (the `audit_envelopes` rows) and its audit copies, in one transaction. On
PostgreSQL the side table and the store's `append_within` on one connection; on the in-memory
store of unit tests, the rows in a dict and the copies through
`InMemoryEventStore.append_together`, so the audit consumer runs in the service's
`build(context)` without PostgreSQL. `main.build` chooses from the context.

A copy keeps its original event id, which the audit log holds once: that alone makes a
redelivered message a no-op (no processed-message row is recorded: it cost a row and an index
entry per event, for what the events table's unique event id already refuses)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC
from typing import Any, Protocol
from uuid import UUID

import asyncpg
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import AppendResult, SqlEventStore, StreamAppend

from lts_metrics.audit import COLUMNS, EnvelopeFacts
from lts_metrics.fresh_audits import FreshAudits
from lts_metrics.json_rows import dumps_rows, select_from_json
from lts_metrics.schema import identifier

log = logging.getLogger(__name__)

_COLUMN_TYPES = ("uuid", None, None, None, None, "timestamptz", "bigint", None, "integer", "bigint")
"""The SQL types of `COLUMNS` (`schema`'s `audit_envelopes`; None: text)."""


class AuditTables(Protocol):
    async def write(
        self, facts: Sequence[EnvelopeFacts], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        """Keep `facts` (the `audit_envelopes` rows, once per event id) and make `appends`, all
        or nothing, leaving out the events the audit log holds already (by event id): the
        results are those of the appends that wrote something."""
        ...


def without(appends: Sequence[StreamAppend], audited: Collection[UUID]) -> list[StreamAppend]:
    """`appends` without the events whose id is in `audited` (and without appends left empty)."""
    kept = []
    for append in appends:
        events = [event for event in append.events if event.event_id not in audited]
        if events:
            kept.append(StreamAppend(append.stream_id, events, append.expected_version))
    return kept


class PostgresAuditTables:
    def __init__(self, store: SqlEventStore, *, fresh: FreshAudits | None = None) -> None:
        """`fresh`: where the copies go once committed, for this process's projections."""
        self._store = store
        self._s = identifier(store.schema)
        self._fresh = fresh
        # one statement for the batch's rows: `executemany` bound and ran one per row, ~17-27 µs
        # of client and server CPU each against ~10-19 (json_rows)
        self._insert_facts = (
            f"INSERT INTO {self._s}.audit_envelopes ({', '.join(COLUMNS)})"
            f" {select_from_json(_COLUMN_TYPES)} ON CONFLICT (event_id) DO NOTHING"
        )

    async def write(
        self, facts: Sequence[EnvelopeFacts], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        """Written whole, as usual; a batch holding an event audited already (a redelivery, or
        the same event under another message id) fails on the unique event id and is written
        again without the events found in the audit log."""
        while appends:
            try:
                return await self._write(facts, appends)
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != "events_event_id_key":
                    raise
            audited = await self._audited([e.event_id for a in appends for e in a.events])
            if not audited:
                raise RuntimeError("an audited event id was refused, then not found")
            log.info("events already audited", extra={"events": len(audited)})
            appends = without(appends, audited)
        return []

    async def _write(
        self, facts: Sequence[EnvelopeFacts], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        async with self._store.transaction() as db:
            await db.execute(self._insert_facts, facts_json(facts))
            results = await self._store.append_within(db, appends)
        if self._fresh is not None:
            self._fresh.committed(results, facts)
        return results

    async def _audited(self, event_ids: Sequence[UUID]) -> set[UUID]:
        async with self._store.transaction() as db:
            found = await db.fetch(
                f"SELECT event_id FROM {self._s}.events WHERE event_id = ANY($1::uuid[])",
                event_ids,
            )
        return {UUID(bytes=row[0].bytes) for row in found}


def facts_json(facts: Sequence[EnvelopeFacts]) -> str:
    """The rows of `facts` for `_insert_facts`. A time without a zone is read as local time, as
    the driver reads one (as text, PostgreSQL would read it in the session's zone instead)."""
    return dumps_rows(
        [
            each
            if each.occurred_at.tzinfo is not None
            else each._replace(occurred_at=each.occurred_at.astimezone(UTC))
            for each in facts
        ]
    )


class InMemoryAuditTables:
    """The rows by event id, kept with their copies: an event whose row is kept is audited."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store
        self.envelopes: dict[UUID, dict[str, Any]] = {}

    async def write(
        self, facts: Sequence[EnvelopeFacts], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        appends = without(appends, self.envelopes.keys())
        results = await self._store.append_together(appends) if appends else []  # all or nothing
        for each in facts:
            self.envelopes.setdefault(each.event_id, each.row())
        return results
