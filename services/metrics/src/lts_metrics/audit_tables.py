"""Where an audit batch is written (`AuditTables`): its envelope facts (the `audit_envelopes`
rows) and its audit copies, in one transaction. On PostgreSQL the side table and the store's
`append_within` on one connection; on the in-memory store of unit tests, the rows in a dict and
the copies through `InMemoryEventStore.append_together`, so the audit consumer runs in the
service's `build(context)` without PostgreSQL. `main.build` chooses from the context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import AppendResult, SqlEventStore, StreamAppend

from lts_metrics.fresh_audits import FreshAudits
from lts_metrics.schema import identifier


class AuditTables(Protocol):
    async def write(
        self, rows: Sequence[dict[str, Any]], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        """Keep `rows` (`EnvelopeFacts.row()`, once per event id) and make `appends`, all or
        nothing; an append whose message is processed already comes back `duplicate`."""
        ...


class PostgresAuditTables:
    def __init__(self, store: SqlEventStore, *, fresh: FreshAudits | None = None) -> None:
        """`fresh`: where the copies go once committed, for this process's projections."""
        self._store = store
        self._s = identifier(store.schema)
        self._fresh = fresh

    async def write(
        self, rows: Sequence[dict[str, Any]], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        columns = list(rows[0])
        async with self._store.transaction() as db:
            await db.executemany(
                f"INSERT INTO {self._s}.audit_envelopes ({', '.join(columns)})"
                f" VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})"
                " ON CONFLICT (event_id) DO NOTHING",
                [tuple(row[c] for c in columns) for row in rows],
            )
            results = await self._store.append_within(db, appends)
        if self._fresh is not None:
            self._fresh.committed(results, rows)
        return results


class InMemoryAuditTables:
    """The rows by event id; unlike PostgreSQL's events table, the in-memory store does not
    refuse a second event with the same id under another message id."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store
        self.envelopes: dict[UUID, dict[str, Any]] = {}

    async def write(
        self, rows: Sequence[dict[str, Any]], appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        results = await self._store.append_together(appends)  # all or nothing: first
        for row in rows:
            self.envelopes.setdefault(row["event_id"], row)
        return results
