"""The projection engine: metrics store -> read-model tables, through the gap-free reader.

Each step locks the projection's checkpoint row, reads the store after it (`read_all`, the
transaction-id barrier), folds the events with the pure projections (`lifecycle`, `timeline`) and
writes the changed rows and the new checkpoint in the same transaction: a crash re-reads at most
the batch that did not commit, and a batch is never applied twice. A rebuild replays the store into
shadow tables and swaps them in with one short transaction (see `rebuild`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any
from uuid import UUID

from lts_events._fast import gc_paused
from lts_events.envelope import RecordedEvent
from lts_events.store import Checkpoint, EventStore
from pydantic_core import from_json
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lts_metrics import derived, rows_release, timeline
from lts_metrics import rows as event_rows
from lts_metrics.facts import AuditFact, current_shape, needs_upcast, ticket_of
from lts_metrics.lifecycle import LIFECYCLE, TicketLifecycle
from lts_metrics.row_tables import ALL as ROW_TABLES
from lts_metrics.schema import INDEXES, PRIMARY_KEYS, PROJECTION_TABLES, VIEWS, identifier, view_sql

NAME = "tickets"
_FIELDS = [f.name for f in fields(TicketLifecycle)]
_TUPLE_FIELDS = {"labels", "targets"}
_COPY_DEFAULTS: dict[str, Any] = dict.fromkeys(_TUPLE_FIELDS, ())
"""Lifecycle columns whose default (`schema`: NOT NULL DEFAULT '{}') is not NULL, as values."""
_ENTRY_FIELDS = list(timeline.TimelineEntry._fields)

Progress = Callable[[int], None]
_SLICE = 500
"""The rebuild folds a batch in slices of this many events and lets the event loop run between
them: the server keeps sending the next batch and taking the last one meanwhile."""


class ProjectionEngine:
    def __init__(self, store: EventStore, engine: AsyncEngine, *, schema: str) -> None:
        self._store = store
        self._engine = engine
        self._s = identifier(schema)
        self._scan_sql = _SCAN.format(s=self._s)

    async def step(self, *, limit: int = 1000) -> int:
        """Project the next batch; returns how many events it applied (0: caught up)."""
        async with self._engine.begin() as conn:
            after = await self._lock_checkpoint(conn)
            records = await self._store.read_all(after=after, limit=limit)
            if records:
                await self._apply(conn, records)
            return len(records)

    async def catch_up(self, *, limit: int = 1000) -> int:
        total = 0
        while applied := await self.step(limit=limit):
            total += applied
        return total

    async def rebuild(self, *, batch: int = 5000, progress: Progress | None = None) -> int:
        """Replay the whole store into fresh projections and swap them in.

        The replay fills unlogged shadow tables in short autocommitted steps (no transaction is
        held open, so the gap-free readers of every service on the server are not held back),
        reading through the store's own `read_all` statement (the transaction-id barrier) with
        the rows decoded straight into audit facts. The swap is one short transaction: it locks
        the checkpoint row (the incremental projector waits), replaces the live rows (readers see
        the old figures until it commits) and sets the checkpoint to the end of the replay, so
        anything newer is projected incrementally afterwards."""
        async with self._engine.connect() as reading_conn, self._engine.connect() as writing_conn:
            scan, writer = await _driver(reading_conn), await _driver(writing_conn)
            await writer.execute("SELECT pg_advisory_lock(hashtext($1))", f"{self._s}.rebuild")
            try:
                with gc_paused():  # the replay makes millions of objects, none cyclic garbage
                    await self._create_shadows(writer)
                    await writer.set_type_codec(
                        "timestamptz",
                        schema="pg_catalog",
                        encoder=timestamptz_wire,
                        decoder=timestamptz_from_wire,
                        format="tuple",
                    )
                    total, after = await self._replay(scan, writer, batch, progress)
                    await self._swap(after)
                    return total
            finally:
                await writer.reset_type_codec("timestamptz", schema="pg_catalog")
                await writer.execute(
                    "SELECT pg_advisory_unlock(hashtext($1))", f"{self._s}.rebuild"
                )

    async def _create_shadows(self, writer: Any) -> None:
        """The new tables, logged (they become the live ones); their keys and indexes are built
        after their rows (`_index`), in bulk."""
        for table in PROJECTION_TABLES:
            await writer.execute(f"DROP TABLE IF EXISTS {self._s}.{table}_rebuild")
            await writer.execute(
                f"CREATE TABLE {self._s}.{table}_rebuild (LIKE {self._s}.{table}"
                " INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)"
            )

    async def _index(self, writer: Any, table: str) -> None:
        """The table's key and indexes, in one round trip (a script without parameters)."""
        await writer.execute(
            ";\n".join(
                [
                    f"ALTER TABLE {self._s}.{table}_rebuild ADD CONSTRAINT {table}_rebuild_pkey"
                    f" PRIMARY KEY ({PRIMARY_KEYS[table]})",
                    *(
                        f"CREATE INDEX {name}_rebuild ON {self._s}.{table}_rebuild {definition}"
                        for name, indexed, definition in INDEXES
                        if indexed == table
                    ),
                ]
            )
        )

    async def _replay(
        self, scan: Any, writer: Any, batch: int, progress: Progress | None
    ) -> tuple[int, Checkpoint]:
        after, total, known = Checkpoint.start(), 0, dict[int, TicketLifecycle]()
        tables: dict[str, list[event_rows.Row]] = {t.name: [] for t in ROW_TABLES}
        # a short first batch: nothing overlaps its reading
        reading = asyncio.ensure_future(self._scan(scan, after, min(batch, _SLICE * 2)))
        copying: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        copying.set_result(None)
        while rows := await reading:  # read batch n+1 and write batch n-1 while folding n
            after = Checkpoint(int(rows[-1]["transaction_id"]), int(rows[-1]["position"]))
            reading = asyncio.ensure_future(self._scan(scan, after, batch))
            entries: list[timeline.TimelineEntry] = []
            for start in range(0, len(rows), _SLICE):
                entries += _fold(facts_from_rows(rows[start : start + _SLICE]), known, tables)[1]
                await asyncio.sleep(0)  # the driver takes in batch n+1, sends batch n-1
            await copying
            copying = asyncio.ensure_future(
                writer.copy_records_to_table(
                    "ticket_timeline_rebuild",
                    schema_name=self._s,
                    columns=_ENTRY_FIELDS,
                    records=entries,  # named tuples, in the table's column order
                )
            )
            total += len(rows)
            if progress is not None:
                progress(len(rows))
        await copying
        # the timeline's key and indexes on the reading connection (free now), meanwhile the
        # lifecycle rows and theirs on the writing one
        indexing = asyncio.ensure_future(self._index(scan, "ticket_timeline"))
        for table in ROW_TABLES:
            if tables[table.name]:
                await writer.copy_records_to_table(
                    f"{table.name}_rebuild",
                    schema_name=self._s,
                    columns=table.column_names,
                    records=tables[table.name],
                )
            await self._index(writer, table.name)
        if records := [_lifecycle_record(r) for r in known.values()]:
            # columns where every row holds the table's default (NULL, an empty array) are left
            # to it: less to encode (an array costs the driver ~2 us, with its type checks)
            filled = [
                (name, column)
                for name, column in zip(_FIELDS, zip(*records, strict=True), strict=True)
                if column.count(_COPY_DEFAULTS.get(name)) < len(column)
            ]
            await writer.copy_records_to_table(
                "ticket_lifecycle_rebuild",
                schema_name=self._s,
                columns=[name for name, _ in filled],
                records=zip(*(column for _, column in filled), strict=True),
            )
        await self._index(writer, "ticket_lifecycle")
        await writer.execute(derived.refresh_sql(self._s, suffix="_rebuild", only_tickets=False))
        await self._index(writer, derived.TABLE)
        await indexing
        return total, after

    async def _swap(self, after: Checkpoint) -> None:
        """One short transaction: the new tables take the live ones' names (readers wait for the
        commit, then read the new figures), the views are bound to them, the old tables go and
        the checkpoint moves to the end of the replay. The DDL goes as one script (one round
        trip instead of thirty statements, each prepared and then run)."""
        s = self._s
        script = [
            *(
                statement
                for table in PROJECTION_TABLES
                for statement in (
                    f"ALTER TABLE {s}.{table} RENAME TO {table}_retired",
                    f"ALTER TABLE {s}.{table}_rebuild RENAME TO {table}",
                )
            ),
            *(view_sql(s, view) for view in VIEWS),
            *(
                statement
                for table in PROJECTION_TABLES
                for statement in (
                    f"DROP TABLE {s}.{table}_retired",
                    f"ALTER TABLE {s}.{table} RENAME CONSTRAINT {table}_rebuild_pkey"
                    f" TO {table}_pkey",
                )
            ),
            *(f"ALTER INDEX {s}.{name}_rebuild RENAME TO {name}" for name, _, _ in INDEXES),
        ]
        async with self._engine.begin() as conn:
            await self._lock_checkpoint(conn)
            await (await _driver(conn)).execute(";\n".join(script))
            await self._save_checkpoint(conn, after)

    async def _scan(self, connection: Any, after: Checkpoint, limit: int) -> list[Any]:
        rows: list[Any] = await connection.fetch(
            self._scan_sql, str(after.transaction_id), after.position, limit
        )
        return rows

    async def _lock_checkpoint(self, conn: AsyncConnection) -> Checkpoint:
        await conn.execute(
            text(
                f"INSERT INTO {self._s}.projection_checkpoints (name, transaction_id, position)"
                " VALUES (:name, 0, 0) ON CONFLICT (name) DO NOTHING"
            ),
            {"name": NAME},
        )
        row = (
            await conn.execute(
                text(
                    f"SELECT transaction_id, position FROM {self._s}.projection_checkpoints"
                    " WHERE name = :name FOR UPDATE"
                ),
                {"name": NAME},
            )
        ).one()
        return Checkpoint(int(row[0]), int(row[1]))

    async def _save_checkpoint(self, conn: AsyncConnection, checkpoint: Checkpoint) -> None:
        await conn.execute(
            text(
                f"UPDATE {self._s}.projection_checkpoints SET transaction_id = :t,"
                " position = :p WHERE name = :name"
            ),
            {"t": checkpoint.transaction_id, "p": checkpoint.position, "name": NAME},
        )

    async def _apply(self, conn: AsyncConnection, records: Sequence[RecordedEvent]) -> None:
        facts = to_facts(records, await self._envelopes(conn, records))
        rows = await self._load(conn, _ticket_ids(facts))
        tables: dict[str, list[event_rows.Row]] = {t.name: [] for t in ROW_TABLES}
        changed, entries = _fold(facts, rows, tables)
        await self._upsert(conn, changed.values())
        await self._insert_timeline(conn, entries)
        for table in ROW_TABLES:
            await self._insert_rows(conn, table, tables[table.name])
        await self._refresh_derived(conn, changed, tables)
        await self._save_checkpoint(conn, facts[-1].checkpoint)

    async def _envelopes(
        self, conn: AsyncConnection, records: Sequence[RecordedEvent] | Sequence[Any]
    ) -> dict[UUID, tuple[str, str | None, datetime]]:
        result = await conn.execute(
            text(
                f"SELECT event_id, service, subject, occurred_at FROM {self._s}.audit_envelopes"
                " WHERE event_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": [_event_id(r) for r in records]},
        )
        return {row[0]: (row[1], row[2], row[3]) for row in result}

    async def _load(self, conn: AsyncConnection, ids: set[int]) -> dict[int, TicketLifecycle]:
        if not ids:
            return {}
        columns = ", ".join(_FIELDS)
        result = await conn.execute(
            text(
                f"SELECT {columns} FROM {self._s}.ticket_lifecycle"
                " WHERE ticket_id = ANY(CAST(:ids AS bigint[]))"
            ),
            {"ids": sorted(ids)},
        )
        return {int(row[0]): _row(dict(row._mapping)) for row in result}

    async def _upsert(self, conn: AsyncConnection, rows: Iterable[TicketLifecycle]) -> None:
        payload = [_json_row(row) for row in rows]
        if not payload:
            return
        columns = ", ".join(_FIELDS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _FIELDS if c != "ticket_id")
        await conn.execute(
            text(
                f"INSERT INTO {self._s}.ticket_lifecycle ({columns}) SELECT {columns}"
                f" FROM jsonb_populate_recordset(NULL::{self._s}.ticket_lifecycle,"
                " CAST(:rows AS jsonb))"
                f" ON CONFLICT (ticket_id) DO UPDATE SET {updates}"
            ),
            {"rows": json.dumps(payload, default=str)},
        )

    async def _insert_timeline(
        self, conn: AsyncConnection, entries: Sequence[timeline.TimelineEntry]
    ) -> None:
        if not entries:
            return
        columns = ", ".join(_ENTRY_FIELDS)
        await conn.execute(
            text(
                f"INSERT INTO {self._s}.ticket_timeline ({columns}) SELECT {columns}"
                f" FROM jsonb_populate_recordset(NULL::{self._s}.ticket_timeline,"
                " CAST(:rows AS jsonb)) ON CONFLICT (event_id, ticket_id) DO NOTHING"
            ),
            {"rows": json.dumps([_entry_row(e) for e in entries], default=str)},
        )

    async def _refresh_derived(
        self,
        conn: AsyncConnection,
        changed: Mapping[int, TicketLifecycle],
        tables: Mapping[str, Sequence[event_rows.Row]],
    ) -> None:
        """`ticket_releases` of the tickets whose lifecycle, releases or backports changed."""
        tickets = set(changed)
        for table in (rows_release.RELEASED_TICKETS, rows_release.BACKPORTS):
            tickets.update(row[1] for row in tables[table.name])  # (event_id, ticket_id, ...)
        if tickets:
            await conn.execute(text(derived.refresh_sql(self._s)), {"tickets": sorted(tickets)})

    async def _insert_rows(
        self, conn: AsyncConnection, table: event_rows.RowTable, new: Sequence[event_rows.Row]
    ) -> None:
        if not new:
            return
        columns = ", ".join(table.column_names)
        payload = [dict(zip(table.column_names, row, strict=True)) for row in new]
        await conn.execute(
            text(
                f"INSERT INTO {self._s}.{table.name} ({columns}) SELECT {columns}"
                f" FROM jsonb_populate_recordset(NULL::{self._s}.{table.name},"
                f" CAST(:rows AS jsonb)) ON CONFLICT ({', '.join(table.key)}) DO NOTHING"
            ),
            {"rows": json.dumps(payload, default=str)},
        )


def to_facts(
    records: Sequence[RecordedEvent],
    envelopes: Mapping[UUID, tuple[str, str | None, datetime]],
) -> list[AuditFact]:
    """Audit facts of stored records; without an envelope row (an event appended to the metrics
    store directly) the stream id `<service>:<subject>` and the record time stand in."""
    facts = []
    for record in records:
        service, _, subject = record.stream_id.partition(":")
        occurred_at = record.recorded_at
        if (envelope := envelopes.get(record.event_id)) is not None:
            service, subject, occurred_at = envelope[0], envelope[1] or subject, envelope[2]
        facts.append(
            AuditFact(
                event_id=record.event_id,
                type=record.type,
                schema_version=record.schema_version,
                source_service=service,
                subject=subject or None,
                data=(data := current_shape(record.type, record.schema_version, record.data)),
                occurred_at=occurred_at,
                actor_id=record.metadata.actor.id,
                actor_role=record.metadata.actor.role.value,
                reason=record.metadata.reason,
                checkpoint=Checkpoint(record.transaction_id, record.position),
                ticket_id=ticket_of(data, subject or None),
            )
        )
    return facts


def _ticket_ids(facts: Iterable[AuditFact]) -> set[int]:
    return {t for f in facts if (t := f.ticket_id) is not None}


def _row(mapping: Mapping[str, Any]) -> TicketLifecycle:
    values: dict[str, Any] = {
        k: (tuple(v) if k in _TUPLE_FIELDS else v) for k, v in mapping.items()
    }
    return TicketLifecycle(**values)


def _json_row(row: TicketLifecycle) -> dict[str, Any]:
    return {f: (list(getattr(row, f)) if f in _TUPLE_FIELDS else getattr(row, f)) for f in _FIELDS}


def _entry_row(entry: timeline.TimelineEntry) -> dict[str, Any]:
    return {f: getattr(entry, f) for f in _ENTRY_FIELDS}


def _fold(
    facts: Sequence[AuditFact],
    rows: dict[int, TicketLifecycle],
    tables: dict[str, list[event_rows.Row]],
) -> tuple[dict[int, TicketLifecycle], list[timeline.TimelineEntry]]:
    """Fold facts into `rows` (the engine's working rows: updated in place); the rows changed
    and the new timeline entries. Each row goes through `LIFECYCLE.apply_in_place`, the same
    handlers `project` applies. The event-grain rows (`rows.ROWS`) are added to `tables`."""
    changed: dict[int, TicketLifecycle] = {}
    entries: list[timeline.TimelineEntry] = []
    apply, entries_of = LIFECYCLE.apply_in_place, timeline.entries
    mappers = event_rows.ROWS.mappers
    for fact in facts:
        mapper = mappers.get(fact.type)
        if mapper is not None:
            for table, new in mapper(fact):
                tables[table].append(new)
        # the timeline also shows events naming several tickets (`ticket_ids`); the lifecycle
        # only those about one
        entries += entries_of(fact, sequence=fact.checkpoint.position)
        ticket_id = fact.ticket_id
        if ticket_id is None:
            continue
        row = rows.get(ticket_id)
        if row is None:
            row = rows[ticket_id] = TicketLifecycle(ticket_id=ticket_id)
        apply(row, fact)
        changed[ticket_id] = row
    return changed, entries


def facts_from_rows(rows: Sequence[Any]) -> list[AuditFact]:
    """Audit facts straight from rows of the rebuild's scan (`_SCAN`): the actor, reason, source
    service, subject and time picked out by PostgreSQL, data decoded once by the parser the
    store's `read_all` uses (so both paths see the same values), no model validation."""
    facts: list[AuditFact] = []
    add, parse, at_from_text, new = facts.append, from_json, datetime.fromisoformat, tuple.__new__
    upcast: dict[tuple[str, int], bool] = {}  # (type, version) -> needs_upcast
    for (
        position,
        transaction_id,
        event_id,
        type_,
        version,
        data,
        service,
        subject,
        occurred_at,
        actor_id,
        actor_role,
        reason,
    ) in rows:
        payload = parse(data)
        old = upcast.get((type_, version))
        if old is None:
            old = upcast[type_, version] = needs_upcast(type_, version)
        if old:
            payload = current_shape(type_, version, payload)
        # the named tuples' own constructors are Python functions: tuple.__new__ is a third
        add(
            new(
                AuditFact,
                (
                    event_id,
                    type_,
                    version,
                    service,
                    subject,
                    payload,
                    at_from_text(occurred_at),
                    actor_id,
                    actor_role,
                    reason,
                    new(Checkpoint, (transaction_id, position)),
                    ticket_of(payload, subject),
                ),
            )
        )
    return facts


def _event_id(record: Any) -> UUID:
    value = record.event_id if isinstance(record, RecordedEvent) else record["event_id"]
    return value if isinstance(value, UUID) else UUID(str(value))


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    return raw.driver_connection


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INFINITY, _NEGATIVE_INFINITY = datetime.max, datetime.min
_WIRE_INFINITY, _WIRE_NEGATIVE_INFINITY = 2**63 - 1, -(2**63)


def timestamptz_wire(value: datetime) -> tuple[int]:
    """A timestamptz as the driver sends it (microseconds since 2000-01-01 UTC), for the
    rebuild's COPY: the driver's own encoder costs about three times as much per value (it
    compares every value with its infinities and converts it to UTC first) and a lifecycle row
    has six or more. Same values as the driver's: a naive time is local time, as there."""
    if value.tzinfo is None:
        if value == _INFINITY:
            return (_WIRE_INFINITY,)
        if value == _NEGATIVE_INFINITY:
            return (_WIRE_NEGATIVE_INFINITY,)
        value = value.astimezone(UTC)
    return ((value - _PG_EPOCH) // _MICROSECOND,)


def timestamptz_from_wire(wire: tuple[int]) -> datetime:
    """The driver's decoding of the same (the codec needs both ways)."""
    (microseconds,) = wire
    if microseconds == _WIRE_INFINITY:
        return _INFINITY
    if microseconds == _WIRE_NEGATIVE_INFINITY:
        return _NEGATIVE_INFINITY
    return _PG_EPOCH + timedelta(microseconds=microseconds)


_SCAN = """
SELECT e.position, e.transaction_id, e.event_id, e.type,
       e.schema_version, e.data::text AS data,
       coalesce(a.service, split_part(e.stream_id, ':', 1)) AS service,
       nullif(CASE WHEN a.subject <> '' THEN a.subject
                   WHEN strpos(e.stream_id, ':') > 0
                   THEN substr(e.stream_id, strpos(e.stream_id, ':') + 1)
                   ELSE '' END, '') AS subject,
       to_char(coalesce(a.occurred_at, e.recorded_at) AT TIME ZONE 'UTC',
               'YYYY-MM-DD HH24:MI:SS.US+00') AS occurred_at,
       coalesce(e.metadata->'actor'->>'id', '') AS actor_id,
       coalesce(e.metadata->'actor'->>'role', '') AS actor_role,
       e.metadata->>'reason' AS reason
FROM {s}.events AS e LEFT JOIN {s}.audit_envelopes AS a USING (event_id)
WHERE (e.transaction_id, e.position) > ($1::text::xid8, $2::bigint)
  AND e.transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
ORDER BY e.transaction_id, e.position
LIMIT $3
"""
"""The rebuild's scan: the store's gap-free `read_all` (same condition and order: after the
checkpoint, below the oldest transaction still running) with what `to_facts` takes from the
envelope row and the metadata picked out by PostgreSQL, straight from jsonb. Without an envelope
row the stream id `<service>:<subject>` and the record time stand in, as in `to_facts`. The time
comes as UTC text (`datetime.fromisoformat` reads it for a fifth of the driver's timestamptz
decoding) and the transaction id as the driver's integer, as in the store's `read_all`."""

_lifecycle_record: Callable[[TicketLifecycle], tuple[Any, ...]] = attrgetter(*_FIELDS)
"""A ticket row as a COPY record (asyncpg takes tuples for the array columns)."""
