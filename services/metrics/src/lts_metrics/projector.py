"""The projection engine: metrics store -> read-model tables.

Incrementally through `lts_events.projection.ProjectionRunner` (the store's settled reads, batch
and checkpoint in one transaction): each batch is folded with the pure projections (`lifecycle`,
`timeline`, `rows`) and the changed rows written on the runner's transaction. A rebuild replays
the store into shadow tables and swaps them in with one short transaction (see `rebuild`).
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

import asyncpg
import orjson
from lts_events._fast import gc_paused
from lts_events.envelope import RecordedEvent
from lts_events.projection import ProjectionRunner
from lts_events.store import Checkpoint
from lts_events.store.port import SqlEventStore, StoredRow
from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lts_metrics import derived, rows_release, timeline
from lts_metrics import rows as event_rows
from lts_metrics.facts import AuditFact, current_shape, needs_upcast, ticket_of, typed
from lts_metrics.fresh_audits import EnvelopeRow, FreshAudits
from lts_metrics.json_rows import dumps_rows, select_from_json
from lts_metrics.lifecycle import LIFECYCLE, TicketLifecycle
from lts_metrics.queries import ProjectionStatus
from lts_metrics.row_tables import ALL as ROW_TABLES
from lts_metrics.schema import INDEXES, PRIMARY_KEYS, PROJECTION_TABLES, VIEWS, identifier, view_sql

NAME = "tickets"
_FIELDS = [f.name for f in fields(TicketLifecycle)]
_TUPLE_FIELDS = {"labels", "targets"}
_COPY_DEFAULTS: dict[str, Any] = dict.fromkeys(_TUPLE_FIELDS, ())
"""Lifecycle columns whose default (`schema`: NOT NULL DEFAULT '{}') is not NULL, as values."""
_TYPES = {
    "ticket_id": "bigint",
    "labels": "text[]",
    "targets": "text[]",
    "triaged_automatically": "boolean",
    "security_review": "boolean",
    "approvals": "integer",
    "events": "integer",
    **{f: "timestamptz" for f in _FIELDS if f.endswith(("_at", "_deadline"))},
}
_LIFECYCLE_TYPES = tuple(_TYPES.get(f) for f in _FIELDS)
"""The SQL types of `_FIELDS` (`schema`'s `ticket_lifecycle`; None: text)."""
_ENTRY_FIELDS = list(timeline.TimelineEntry._fields)
_ENTRY_TYPES = ("bigint", "bigint", "uuid", "timestamptz", None, None, None, None, None, None)
"""The SQL types of `_ENTRY_FIELDS` (`schema`'s `ticket_timeline`; None: text)."""

Progress = Callable[[int], None]
_SLICE = 500
"""The rebuild folds a batch in slices of this many events and lets the event loop run between
them: the server keeps sending the next batch and taking the last one meanwhile."""


class ProjectionEngine:
    def __init__(
        self,
        store: SqlEventStore,
        engine: AsyncEngine,
        *,
        schema: str,
        batch: int = 1000,
        fresh: FreshAudits | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._s = identifier(schema)
        self.fresh = fresh or FreshAudits(store)
        """This process's audit copies (`PostgresAuditTables`), which the runner reads first."""
        self.runner = ProjectionRunner(store, NAME, self._apply, batch=batch, read=self.fresh.read)
        self._envelopes_sql = _ENVELOPES.format(s=self._s)
        self._upsert_sql = (
            f"INSERT INTO {self._s}.ticket_lifecycle ({', '.join(_FIELDS)})"
            f" {select_from_json(_LIFECYCLE_TYPES)} ON CONFLICT (ticket_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in _FIELDS if c != "ticket_id")
        )
        self._insert_timeline_sql = (
            f"INSERT INTO {self._s}.ticket_timeline ({', '.join(_ENTRY_FIELDS)})"
            f" {select_from_json(_ENTRY_TYPES)} ON CONFLICT (event_id, ticket_id) DO NOTHING"
        )

    async def step(self, *, limit: int | None = None) -> int:
        """Project the next batch; returns how many events it applied (0: caught up)."""
        return await self.runner.step(limit=limit)

    async def catch_up(self, *, limit: int | None = None) -> int:
        return await self.runner.catch_up(limit=limit)

    async def behind(self) -> bool:
        """Whether an audited event is not projected yet."""
        return await self.runner.behind()

    async def status(self) -> ProjectionStatus:
        """How far the projections are behind the audit log."""
        checkpoint = await self.runner.checkpoint()
        audited = await self._store.count_after(after=Checkpoint.start())
        pending = await self._store.count_after(after=checkpoint)
        return ProjectionStatus(
            audited_events=audited,
            projected_events=audited - pending,
            pending_events=pending,
            caught_up=pending == 0,
        )

    async def rebuild(self, *, batch: int = 5000, progress: Progress | None = None) -> int:
        """Replay the whole store into fresh projections and swap them in.

        The replay fills unlogged shadow tables in short autocommitted steps (no transaction is
        held open, so the gap-free readers of every service on the server are not held back),
        reading the store's settled rows undecoded (`read_all_rows`: the transaction-id
        barrier) with their envelope rows, straight into audit facts. The swap is one short
        transaction: it holds the runner's checkpoint (the incremental projector waits, and drops
        a batch read before), replaces the live rows (readers see the old figures until it
        commits) and moves the checkpoint to the end of the replay, so anything newer is
        projected incrementally afterwards."""
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
        while facts := await reading:  # read batch n+1 and write batch n-1 while folding n
            after = facts[-1].checkpoint
            reading = asyncio.ensure_future(self._scan(scan, after, batch))
            entries: list[timeline.TimelineEntry] = []
            for start in range(0, len(facts), _SLICE):
                entries += _fold(facts[start : start + _SLICE], known, tables)[1]
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
            total += len(facts)
            if progress is not None:
                progress(len(facts))
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
        async with self._store.transaction() as db:
            await self.runner.hold(db)
            await db.execute(";\n".join(script))
            await self.runner.move(db, after)

    async def _scan(self, connection: Any, after: Checkpoint, limit: int) -> list[AuditFact]:
        """The rebuild's next batch as audit facts: the store's settled rows (`read_all_rows`,
        nothing decoded) with their envelope rows, read on `connection`."""
        rows = await self._store.read_all_rows(after=after, limit=limit)
        if not rows:
            return []
        envelopes = await connection.fetch(self._envelopes_sql, [row.event_id for row in rows])
        return facts_from_rows(rows, {envelope[0]: envelope for envelope in envelopes})

    async def _apply(self, db: asyncpg.Connection, records: Sequence[RecordedEvent]) -> None:
        """One batch of the runner, on its transaction (which then moves the checkpoint)."""
        envelopes = self.fresh.envelopes(records)
        if envelopes is None:
            envelopes = await self._envelopes(db, records)
        facts = to_facts(records, envelopes)
        rows = await self._load(db, _ticket_ids(facts))
        tables: dict[str, list[event_rows.Row]] = {t.name: [] for t in ROW_TABLES}
        changed, entries = _fold(facts, rows, tables)
        await self._upsert(db, changed.values())
        await self._insert_timeline(db, entries)
        for table in ROW_TABLES:
            await self._insert_rows(db, table, tables[table.name])
        await self._refresh_derived(db, changed, tables)

    async def _envelopes(
        self, db: asyncpg.Connection, records: Sequence[RecordedEvent]
    ) -> dict[UUID, EnvelopeRow]:
        rows = await db.fetch(
            f"SELECT event_id, service, subject, occurred_at FROM {self._s}.audit_envelopes"
            " WHERE event_id = ANY($1::uuid[])",
            [r.event_id for r in records],
        )
        return {UUID(bytes=row[0].bytes): (row[1], row[2], row[3]) for row in rows}

    async def _load(self, db: asyncpg.Connection, ids: set[int]) -> dict[int, TicketLifecycle]:
        if not ids:
            return {}
        rows = await db.fetch(
            f"SELECT {', '.join(_FIELDS)} FROM {self._s}.ticket_lifecycle"
            " WHERE ticket_id = ANY($1::bigint[])",
            sorted(ids),
        )
        return {int(row[0]): _row(dict(row)) for row in rows}

    async def _upsert(self, db: asyncpg.Connection, rows: Iterable[TicketLifecycle]) -> None:
        # the rows as arrays of values (json_rows): as objects read by jsonb_populate_recordset
        # they cost ~10 µs more of client and server CPU per row
        payload = [_lifecycle_record(row) for row in rows]
        if payload:
            await db.execute(self._upsert_sql, dumps_rows(payload))

    async def _insert_timeline(
        self, db: asyncpg.Connection, entries: Sequence[timeline.TimelineEntry]
    ) -> None:
        if not entries:
            return
        # the entries as arrays of values (json_rows): an object per entry, read by
        # jsonb_populate_recordset, cost ~4 µs more of client and server CPU per entry
        await db.execute(self._insert_timeline_sql, dumps_rows(entries))

    async def _refresh_derived(
        self,
        db: asyncpg.Connection,
        changed: Mapping[int, TicketLifecycle],
        tables: Mapping[str, Sequence[event_rows.Row]],
    ) -> None:
        """`ticket_releases` of the tickets whose lifecycle, releases or backports changed."""
        tickets = set(changed)
        for table in (rows_release.RELEASED_TICKETS, rows_release.BACKPORTS):
            tickets.update(row[1] for row in tables[table.name])  # (event_id, ticket_id, ...)
        if tickets:
            await db.execute(derived.refresh_sql(self._s), sorted(tickets))

    async def _insert_rows(
        self, db: asyncpg.Connection, table: event_rows.RowTable, new: Sequence[event_rows.Row]
    ) -> None:
        if not new:
            return
        columns = ", ".join(table.column_names)
        payload = [dict(zip(table.column_names, row, strict=True)) for row in new]
        await db.execute(
            f"INSERT INTO {self._s}.{table.name} ({columns}) SELECT {columns}"
            f" FROM jsonb_populate_recordset(NULL::{self._s}.{table.name}, $1::jsonb)"
            f" ON CONFLICT ({', '.join(table.key)}) DO NOTHING",
            _json(payload),
        )


def _json(payload: object) -> str:
    """A batch's rows as JSON for `jsonb_populate_recordset`: orjson (py-spy: json.dumps of these
    rows was 5.5% of metrics' samples in the pipeline burst), json.dumps for what orjson refuses
    (integers beyond 64 bits). Times, UUIDs and other values as `str` writes them, or as orjson
    does (ISO 8601 with a `T`): PostgreSQL reads either the same."""
    try:
        return orjson.dumps(payload, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(payload, default=str)


def to_facts(
    records: Sequence[RecordedEvent],
    envelopes: Mapping[UUID, EnvelopeRow],
) -> list[AuditFact]:
    """Audit facts of stored records; without an envelope row (an event appended to the metrics
    store directly) the stream id `<service>:<subject>` and the record time stand in. Made as
    `facts_from_rows` makes them (the named tuples without their Python-level constructors,
    whether a type needs upcasting asked once per type and version): every audited event goes
    through here."""
    facts: list[AuditFact] = []
    add, new = facts.append, tuple.__new__
    upcast: dict[tuple[str, int], bool] = {}  # (type, version) -> needs_upcast
    for record in records:
        envelope = envelopes.get(record.event_id)
        subject: str | None
        if envelope is None:
            service, _, subject = record.stream_id.partition(":")
            occurred_at = record.recorded_at
        else:
            service, subject, occurred_at = envelope
            subject = subject or record.stream_id.partition(":")[2]
        subject = subject or None
        type_, version = record.type, record.schema_version
        data: Mapping[str, Any] = record.data
        old = upcast.get((type_, version))
        if old is None:
            old = upcast[type_, version] = needs_upcast(type_, version)
        if old:
            data = current_shape(type_, version, data)
        metadata = record.metadata
        actor = metadata.actor
        add(
            new(
                AuditFact,
                (
                    record.event_id,
                    type_,
                    version,
                    service,
                    subject,
                    data,
                    typed(type_, data),
                    occurred_at,
                    actor.id,
                    actor.role.value,
                    metadata.reason,
                    new(Checkpoint, (record.transaction_id, record.position)),
                    ticket_of(data, subject),
                ),
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
    apply, entries_of, rows_of = LIFECYCLE.apply_in_place, timeline.entries, event_rows.ROWS.rows_of
    for fact in facts:
        for table, new in rows_of(fact):
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


def facts_from_rows(rows: Sequence[StoredRow], envelopes: Mapping[str, Any]) -> list[AuditFact]:
    """Audit facts straight from the store's undecoded rows (`read_all_rows`: the actor and
    reason picked out by PostgreSQL) and their envelope rows (`_ENVELOPES`, by event id text),
    the data decoded once by the parser the store's `read_all` uses (so both paths see the same
    values), then into its contract class by `facts.typed` (no model validation). Without an
    envelope row the stream id `<service>:<subject>` and the record time stand in, as in
    `to_facts`."""
    facts: list[AuditFact] = []
    add, parse, at_from_text, new = facts.append, from_json, datetime.fromisoformat, tuple.__new__
    upcast: dict[tuple[str, int], bool] = {}  # (type, version) -> needs_upcast
    no_envelope = (None, None, None, None, None)
    for row in rows:
        type_, version = row.type, row.schema_version
        payload = parse(row.data)
        old = upcast.get((type_, version))
        if old is None:
            old = upcast[type_, version] = needs_upcast(type_, version)
        if old:
            payload = current_shape(type_, version, payload)
        _, event_id, service, subject, occurred_at = envelopes.get(row.event_id, no_envelope)
        if service is None:
            event_id, occurred_at = UUID(row.event_id), row.recorded_at
            service, _, subject = row.stream_id.partition(":")
        elif not subject:
            subject = row.stream_id.partition(":")[2]
        subject = subject or None
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
                    typed(type_, payload),
                    at_from_text(occurred_at),
                    row.actor_id,
                    row.actor_role,
                    row.reason,
                    new(Checkpoint, (row.transaction_id, row.position)),
                    ticket_of(payload, subject),
                ),
            )
        )
    return facts


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


_ENVELOPES = """
SELECT event_id::text, event_id, service, subject,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')
FROM {s}.audit_envelopes WHERE event_id = ANY($1::uuid[])
"""
"""The envelope rows of a rebuild batch, keyed by the event id as the store's rows give it
(text); the time as UTC text, as the store's rows give theirs (`datetime.fromisoformat` reads
it for a fifth of the driver's timestamptz decoding)."""

_lifecycle_record: Callable[[TicketLifecycle], tuple[Any, ...]] = attrgetter(*_FIELDS)
"""A ticket row as a COPY record (asyncpg takes tuples for the array columns)."""
