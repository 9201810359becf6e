"""Intake's own tables in its PostgreSQL schema, next to the event store:

- `ticket_counter` + `ticket_keys`: the sequential human ticket ids and the dedup keys (alert
  fingerprint, advisory id and aliases, issue URL) that lead to a ticket. Claiming keys and
  taking the next id happen under advisory locks on the keys, in the transaction that appends
  the ticket's events (`transaction`, then the store's `append_within`), so concurrent requests
  for the same alert or advisory get the same ticket, ids have no gaps, and no key ever leads
  to a ticket without events.
- `tickets`: the read model for the query API, folded from the store (see `views.py`), written
  with a version guard so the request path and the projection runner (`main.py`) can both
  apply events.

`PostgresIntakeTables` is the `tables.IntakeTables` port on them and the PostgreSQL store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from lts_events.contracts.common import ticket_id_of
from lts_events.envelope import RecordedEvent
from lts_events.store.port import AppendResult, SqlEventStore, StreamAppend
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from lts_intake.claims import Claim, ClaimRequest, resolve_claims
from lts_intake.fresh_views import FreshViews
from lts_intake.views import TicketView, folded_view, view_of


def _ddl(schema: str) -> list[str]:
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f'''CREATE TABLE IF NOT EXISTS "{schema}".ticket_counter (
              singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
              value bigint NOT NULL)''',
        f'INSERT INTO "{schema}".ticket_counter (value) VALUES (0) ON CONFLICT DO NOTHING',
        f'''CREATE TABLE IF NOT EXISTS "{schema}".ticket_keys (
              key text PRIMARY KEY,
              ticket_id bigint NOT NULL,
              claimed_at timestamptz NOT NULL DEFAULT now())''',
        f'CREATE INDEX IF NOT EXISTS ticket_keys_ticket ON "{schema}".ticket_keys (ticket_id)',
        f'''CREATE TABLE IF NOT EXISTS "{schema}".tickets (
              ticket_id bigint PRIMARY KEY,
              version integer NOT NULL,
              state text NOT NULL,
              source text NOT NULL,
              kind text NOT NULL,
              labels text[] NOT NULL,
              opened_at timestamptz NOT NULL,
              document jsonb NOT NULL)''',
        f'CREATE INDEX IF NOT EXISTS tickets_labels ON "{schema}".tickets USING gin (labels)',
        f'CREATE INDEX IF NOT EXISTS tickets_state ON "{schema}".tickets (state, source)',
        # the claim rule's PL/pgSQL twin, replaced by `claims.resolve_claims` for every path
        f'DROP FUNCTION IF EXISTS "{schema}".claim_ticket(text[], boolean)',
        _LOCK_KEYS_FUNCTION.replace("{s}", schema),
    ]


# Claims, step one: lock the keys (advisory locks, in hash order, so two batches never wait on
# each other's keys crosswise), then return the counter (key NULL, locked until commit: the
# last lock taken, so batches queue on it without deadlock) and the tickets the keys already
# lead to. Separate statements, so the lookup sees claims committed before the locks.
_LOCK_KEYS_FUNCTION = """
CREATE OR REPLACE FUNCTION "{s}".lock_ticket_keys(p_keys text[])
RETURNS TABLE (key text, ticket_id bigint) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(l.h)
     FROM (SELECT DISTINCT hashtextextended(x, 0) AS h FROM unnest(p_keys) AS x ORDER BY 1) AS l;
  RETURN QUERY SELECT NULL::text, c.value FROM "{s}".ticket_counter AS c FOR UPDATE;
  RETURN QUERY SELECT tk.key, tk.ticket_id FROM "{s}".ticket_keys AS tk
                WHERE tk.key = ANY(p_keys);
END $$"""


class ConnectionsClosed(RuntimeError):
    """Intake's connections were asked for after the store's engine was disposed."""


class Connections:
    """A few dedicated asyncpg connections for intake's hot path (claim, view update): handing
    one out is a queue get, where the SQLAlchemy pool's checkout costs a millisecond or more.
    They are terminated when the store's engine is disposed, and none is opened after that."""

    def __init__(self, engine: AsyncEngine, *, size: int = 4) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._idle: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        self._open: list[asyncpg.Connection] = []
        self.closed = False
        sa_event.listen(engine.sync_engine, "engine_disposed", lambda _engine: self.terminate())

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self.closed:
            raise ConnectionsClosed(
                "intake's connections are closed: the store's engine was disposed"
            )
        if self._idle.empty() and len(self._open) < self._size:
            connection = await asyncpg.connect(self._dsn)
            self._open.append(connection)
        else:
            connection = await self._idle.get()
        if connection.is_closed():
            self._open.remove(connection)
            connection = await asyncpg.connect(self._dsn)
            self._open.append(connection)
        try:
            yield connection
        finally:
            self._idle.put_nowait(connection)

    def terminate(self) -> None:
        self.closed = True
        for connection in self._open:
            connection.terminate()
        self._open.clear()


class IntakeRepository:
    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._schema = schema
        self._connections = Connections(engine)

    @asynccontextmanager
    async def _db(self) -> AsyncIterator[Any]:
        async with self._connections.acquire() as connection:
            yield connection

    async def create_tables(self) -> None:
        async with self._db() as db:
            await db.execute("SELECT pg_advisory_lock(hashtext('lts-intake-ddl'))")
            try:
                for statement in _ddl(self._schema):
                    await db.execute(statement)
            finally:
                await db.execute("SELECT pg_advisory_unlock(hashtext('lts-intake-ddl'))")

    # --- ids and dedup keys ------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction, for claims and the appends they lead to: the keys'
        locks and the counter row are held until it ends, so concurrent claims of the same
        keys (or of new ids) wait for the events, and an append that fails takes its claims
        with it."""
        async with self._db() as db, db.transaction():
            yield db

    @asynccontextmanager
    async def _within(self, db: asyncpg.Connection | None) -> AsyncIterator[Any]:
        if db is not None:
            yield db
        else:
            async with self.transaction() as own:
                yield own

    async def claim_many(
        self, requests: Sequence[ClaimRequest], *, within: asyncpg.Connection | None = None
    ) -> list[Claim]:
        """The ticket each request's keys lead to (see `claims.resolve_claims`), in turn: a
        later request sees the keys an earlier one linked. Written in the transaction of
        `within` (see `transaction`), else in one of its own; the keys' locks and the counter
        row are held until it ends."""
        s = self._schema
        keys = sorted({key for request in requests for key in request.keys})
        async with self._within(within) as db:
            rows = await db.fetch(f'SELECT key, ticket_id FROM "{s}".lock_ticket_keys($1)', keys)
            counter = next(int(r["ticket_id"]) for r in rows if r["key"] is None)
            known = {r["key"]: int(r["ticket_id"]) for r in rows if r["key"] is not None}
            plan = resolve_claims(requests, known=known, counter=counter)
            if plan.links or plan.counter != counter:
                await db.execute(
                    f"""WITH counted AS (
                          UPDATE "{s}".ticket_counter SET value = $3 WHERE value < $3)
                        INSERT INTO "{s}".ticket_keys (key, ticket_id)
                        SELECT * FROM unnest($1::text[], $2::bigint[])
                        ON CONFLICT (key) DO NOTHING""",
                    list(plan.links),
                    list(plan.links.values()),
                    plan.counter,
                )
        return plan.claims

    # --- read model --------------------------------------------------------------------------

    async def apply_within(self, db: asyncpg.Connection, recorded: Sequence[RecordedEvent]) -> None:
        """Fold recorded events into the ticket views (idempotent: older versions are skipped)
        on `db`, in the caller's transaction: the appends' own (`Intake.execute_batch`), or the
        projection runner's, which moves its checkpoint in it (`catch_up_within`)."""
        by_stream = _ticket_streams(recorded)
        if by_stream:
            await self._apply_in(db, by_stream)

    async def catch_up_within(
        self, db: asyncpg.Connection, recorded: Sequence[RecordedEvent]
    ) -> None:
        """`apply_within` for the projection runner, leaving out first the events the views
        already show (one read of their versions): the request path folds what it appends in
        its own transaction, so the runner mostly finds its work done, and folding and writing
        those views again was ~4% of intake's samples in the intake_http bench."""
        by_stream = _ticket_streams(recorded)
        if not by_stream:
            return
        rows = await db.fetch(
            f'SELECT ticket_id, version FROM "{self._schema}".tickets '
            "WHERE ticket_id = ANY($1::bigint[])",
            [_ticket_of(stream) for stream in by_stream],
        )
        shown = {int(r["ticket_id"]): int(r["version"]) for r in rows}
        behind = {}
        for stream, events in by_stream.items():
            newer = [e for e in events if e.stream_version > shown.get(_ticket_of(stream), 0)]
            if newer:
                behind[stream] = newer
        if behind:
            await self._apply_in(db, behind)

    async def _apply_in(self, db: Any, by_stream: dict[str, list[RecordedEvent]]) -> None:
        """Streams whose events here start at version 1 are folded from nothing (no read of
        their view); the others onto their stored view."""
        fresh = {k: v for k, v in by_stream.items() if min(e.stream_version for e in v) == 1}
        rest = {k: v for k, v in by_stream.items() if k not in fresh}
        if fresh:
            await self._upsert(db, [v for v in map(folded_view, fresh.values()) if v])
        if rest:
            await self._apply_streams(db, rest)

    async def _apply_streams(self, db: Any, by_stream: dict[str, list[RecordedEvent]]) -> None:
        s = self._schema
        ids = [_ticket_of(stream) for stream in by_stream]
        rows = await db.fetch(
            f'SELECT ticket_id, document::text AS document FROM "{s}".tickets '
            "WHERE ticket_id = ANY($1::bigint[]) ORDER BY ticket_id FOR UPDATE",
            ids,
        )
        views = {int(r["ticket_id"]): TicketView.model_validate_json(r["document"]) for r in rows}
        changed: list[TicketView] = []
        for stream, events in by_stream.items():
            ticket_id = _ticket_of(stream)
            view = views.get(ticket_id)
            before = view
            for event in sorted(events, key=lambda e: e.stream_version):
                current = view.version if view else 0
                if event.stream_version == current + 1:
                    view = view_of(view, event)
            if view is not None and view is not before:
                changed.append(view)
        await self._upsert(db, changed)

    async def _upsert(self, db: Any, changed: Sequence[TicketView]) -> None:
        s = self._schema
        if changed:
            await db.executemany(
                f'''INSERT INTO "{s}".tickets
                      (ticket_id, version, state, source, kind, labels, opened_at, document)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb)
                    ON CONFLICT (ticket_id) DO UPDATE SET
                      version = EXCLUDED.version, state = EXCLUDED.state,
                      labels = EXCLUDED.labels, document = EXCLUDED.document
                    WHERE "{s}".tickets.version < EXCLUDED.version''',
                [
                    (
                        v.ticket_id,
                        v.version,
                        v.state,
                        v.source.value,
                        v.kind.value,
                        v.labels,
                        v.opened_at,
                        v.model_dump_json(),
                    )
                    for v in changed
                ],
            )

    async def ticket(self, ticket_id: int) -> TicketView | None:
        async with self._db() as db:
            document = await db.fetchval(
                f'SELECT document::text FROM "{self._schema}".tickets WHERE ticket_id = $1',
                ticket_id,
            )
        return TicketView.model_validate_json(document) if document else None

    async def tickets(
        self, *, label: str | None, state: str | None, source: str | None, limit: int, after: int
    ) -> list[TicketView]:
        clauses: list[str] = ["ticket_id > $1"]
        args: list[object] = [after]
        for column, value in (("state", state), ("source", source)):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${len(args)}")
        if label is not None:
            args.append([label])
            clauses.append(f"labels @> ${len(args)}::text[]")
        args.append(limit)
        query = (
            f'SELECT document::text AS document FROM "{self._schema}".tickets '
            f"WHERE {' AND '.join(clauses)} "
            f"ORDER BY ticket_id LIMIT ${len(args)}"
        )
        async with self._db() as db:
            rows = await db.fetch(query, *args)
        return [TicketView.model_validate_json(r["document"]) for r in rows]


class PostgresIntakeTables:
    """`IntakeTables` on PostgreSQL: the repository's tables, on the connection and in the
    transaction of the store's `append_within`."""

    def __init__(self, store: SqlEventStore) -> None:
        self.repository = IntakeRepository(store.engine, schema=store.schema)
        self._store = store
        self.fresh = FreshViews(store)
        """The events whose views the request path wrote in their transaction (for the
        views' projection runner: `read=fresh.read`)."""

    async def create_tables(self) -> None:
        await self.repository.create_tables()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTicketTransaction]:
        async with self.repository.transaction() as db:
            transaction = PostgresTicketTransaction(db, self.repository, self._store)
            yield transaction
        self.fresh.committed(transaction.folded)  # reached only once COMMIT succeeded

    async def ticket(self, ticket_id: int) -> TicketView | None:
        return await self.repository.ticket(ticket_id)

    async def tickets(
        self, *, label: str | None, state: str | None, source: str | None, limit: int, after: int
    ) -> list[TicketView]:
        return await self.repository.tickets(
            label=label, state=state, source=source, limit=limit, after=after
        )


class PostgresTicketTransaction:
    __slots__ = ("_db", "_repository", "_store", "folded")

    def __init__(
        self, db: asyncpg.Connection, repository: IntakeRepository, store: SqlEventStore
    ) -> None:
        self._db = db
        self._repository = repository
        self._store = store
        self.folded: Sequence[RecordedEvent] = ()  # the events `update_views` folded

    async def claim_many(self, requests: Sequence[ClaimRequest]) -> list[Claim]:
        return await self._repository.claim_many(requests, within=self._db)

    async def append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        return await self._store.append_within(self._db, appends)

    async def update_views(self, recorded: Sequence[RecordedEvent]) -> None:
        await self._repository.apply_within(self._db, recorded)
        self.folded = recorded


def _ticket_streams(events: Sequence[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    by_stream: dict[str, list[RecordedEvent]] = {}
    for event in events:
        if ticket_id_of(event.stream_id) is not None:
            by_stream.setdefault(event.stream_id, []).append(event)
    return by_stream


def _ticket_of(stream_id: str) -> int:
    ticket_id = ticket_id_of(stream_id)
    assert ticket_id is not None, f"{stream_id} is not a ticket's stream"
    return ticket_id
