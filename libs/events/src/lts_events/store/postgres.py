"""The PostgreSQL event store: one schema per service. SQLAlchemy's async engine runs the
migrations and is handed to the service for its own read models; the store's own statements go
through a plain asyncpg pool (prepared statements, no per-call greenlet hop), which on a
single-event append costs a fraction of an engine checkout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, overload
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lts_events.envelope import NewEvent, RecordedEvent
from lts_events.hashing import GENESIS
from lts_events.store.chaining import ChainedEvent, chain, event_rows
from lts_events.store.chaining import _quote as quote_json
from lts_events.store.commits import Commits, notify_after_commit
from lts_events.store.heads import StreamHeads
from lts_events.store.migrate import checked_schema
from lts_events.store.migrate import migrate as run_migrations
from lts_events.store.port import (
    ANY,
    NO_STREAM,
    AppendResult,
    Checkpoint,
    ConcurrencyError,
    ExpectedVersion,
    ProcessedMessage,
    StoredRow,
    StreamAppend,
    StreamHistory,
    Timer,
)
from lts_events.store.rows import (
    checkpoint_from_row,
    dumps,
    recorded_from_chained,
    recorded_from_read_all_rows,
    recorded_from_row,
    timer_columns,
    timer_from_row,
)
from lts_events.store.sql import AppendShape, statements
from lts_events.store.verification import ChainWalker, StoredEvent, VerifyReport

__all__ = ["PostgresEventStore", "VerifyReport", "asyncpg_url"]

IDLE_IN_TRANSACTION_TIMEOUT = timedelta(seconds=30)
_ATTEMPTS = 50  # re-reads of the head when racing writers move it (ANY) before giving up
_GROUP_LIMIT = 64  # appends written together by one statement at most
_GROUP_EVENTS = 200  # events of a group at most (large appends gain nothing from sharing one
# statement, and several statements in flight keep more server cores busy)


def asyncpg_url(database_url: str) -> str:
    """`postgresql://user@host:port/db` (or `postgres://`) as SQLAlchemy's asyncpg URL."""
    return _url(database_url, "postgresql+asyncpg")


def _url(database_url: str, driver: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    return url.set(drivername=driver).render_as_string(hide_password=False)


class PostgresEventStore:
    """An `EventStore` in the PostgreSQL schema `schema`. Build it with `connect`."""

    def __init__(
        self, engine: AsyncEngine, pool: asyncpg.Pool, *, schema: str, pool_size: int = 10
    ) -> None:
        self._engine = engine
        self._pool = pool
        self._schema = checked_schema(schema)
        self._sql = statements(schema)
        self._heads = StreamHeads()
        self._queue: list[_Pending] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._max_flushers = max(1, pool_size // 2)
        # Batches read ahead, by (statement, after, limit): `read_all` and `read_all_rows`
        # select different columns.
        self._read_ahead: dict[tuple[str, Checkpoint, int], asyncio.Task[list[Any]]] = {}
        self.commits = Commits()

    @classmethod
    async def connect(
        cls,
        database_url: str,
        *,
        schema: str,
        migrate: bool = True,
        pool_size: int = 10,
        idle_in_transaction_timeout: timedelta = IDLE_IN_TRANSACTION_TIMEOUT,
    ) -> PostgresEventStore:
        """Open a pool on `database_url` and, unless `migrate` is false, bring `schema` to the
        newest migration (serialised across processes by an advisory lock)."""
        checked_schema(schema)
        settings = {
            "idle_in_transaction_session_timeout": str(
                int(idle_in_transaction_timeout.total_seconds() * 1000)
            ),
            "application_name": f"lts-{schema}"[:63],
        }
        engine = create_async_engine(
            asyncpg_url(database_url),
            pool_size=pool_size,
            max_overflow=pool_size,
            # A pooled connection that died with a database restart is replaced on checkout
            # instead of failing the first request after every outage (one round trip each).
            pool_pre_ping=True,
            connect_args={"server_settings": settings},
        )
        try:
            if migrate:
                await run_migrations(engine, schema=schema)
            pool = await asyncpg.create_pool(
                _url(database_url, "postgresql"),
                min_size=1,
                max_size=pool_size,
                server_settings=settings,
                reset=_keep_session,
            )
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, pool, schema=schema, pool_size=pool_size)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def schema(self) -> str:
        return self._schema

    async def close(self) -> None:
        ahead, self._read_ahead = list(self._read_ahead.values()), {}
        for task in ahead:
            task.cancel()
        await asyncio.gather(*ahead, return_exceptions=True)
        await self._pool.close()
        await self._engine.dispose()

    def _connection(self) -> Any:
        """An asyncpg connection from the store's pool (`async with`)."""
        return self._pool.acquire()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the store's pool in a transaction, for `append_within` and whatever
        must commit or roll back with those appends (a consumer's own rows)."""
        async with self._pool.acquire() as db, db.transaction():
            yield db

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: ExpectedVersion,
        processed: ProcessedMessage | None = None,
        schedule: Sequence[Timer] = (),
        fired_timer: str | None = None,
    ) -> AppendResult:
        statement = self._sql.append[
            AppendShape(processed is not None, bool(schedule), fired_timer is not None)
        ]
        consumer, message_id = (
            (processed.consumer, processed.message_id) if processed else (None, None)
        )
        guess = self._heads.guess(stream_id, expected_version)
        version = 0
        if guess is not None and fired_timer is None:
            # An append with a known head: join the appends other tasks (a consumer's lanes,
            # concurrent requests) make meanwhile in one statement (group commit): one round
            # trip, one transaction and one WAL flush for the lot. Measured on the durable
            # server, 8 writers: client and server CPU per event halved at 1 event per append,
            # 15% less at 50 (docs/performance.md, "Store").
            version, previous = guess
            chained = chain(stream_id, events, head_version=version, head_hash=previous)
            pending = _Pending(stream_id, version, chained, processed, schedule, statement)
            written = await self._grouped(pending)
            if written is not None:
                if chained:
                    self._heads.remember(stream_id, version + len(chained), chained[-1].hash)
                return _appended(stream_id, version, chained, written)
            guess = None  # moved or already processed: re-read the head to tell which
        async with self._connection() as db:
            for _ in range(_ATTEMPTS):
                if guess is None:
                    head = await db.fetchrow(
                        self._sql.head, stream_id, consumer, message_id, fired_timer
                    )
                    version, previous = head["stream_version"] or 0, head["hash"] or GENESIS
                    if head["processed"] or head["fired"]:
                        return AppendResult(stream_id, version, duplicate=True)
                    _check_version(stream_id, expected_version, actual=version)
                else:
                    (version, previous), guess = guess, None  # a wrong guess is re-read
                chained = chain(stream_id, events, head_version=version, head_hash=previous)
                extra = _optional_parts(processed, schedule, fired_timer)
                written = await _insert(db, statement, stream_id, version, chained, extra)
                if written is not None:
                    if chained:
                        self.commits.notify()  # a statement of its own: committed
                        self._heads.remember(stream_id, version + len(chained), chained[-1].hash)
                    return _appended(stream_id, version, chained, written)
        raise ConcurrencyError(stream_id, expected=expected_version, actual=version)

    async def append_within(
        self, db: asyncpg.Connection, appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        """Write `appends` on `db`, in the caller's open transaction, so that they commit or
        roll back with whatever else the caller writes there (intake: the ticket ids and dedup
        keys it claimed for them). Several appends to one stream chain in the given order.
        An append whose processed message is already recorded writes nothing and comes back
        `duplicate`. A stream not at its expected version raises `ConcurrencyError`: the
        caller's transaction must then roll back (the statement that found it may have failed).
        Heads are learnt from reads only, never from these uncommitted writes."""
        heads = await self._heads_within(db, appends)
        waves: list[list[_Pending]] = []
        depth: dict[str, int] = {}
        for append in appends:
            stream = append.stream_id
            version, previous = heads[stream]
            chained = chain(stream, append.events, head_version=version, head_hash=previous)
            if chained:
                heads[stream] = (version + len(chained), chained[-1].hash)
            level = depth[stream] = depth.get(stream, -1) + 1
            if level == len(waves):
                waves.append([])
            waves[level].append(_Pending(stream, version, chained, append.processed, (), ""))
        for wave in waves:  # a stream's later appends chain from its earlier ones' events
            for group in _groups(wave):
                try:
                    row = await db.fetchrow(self._sql.append_many, _many_payload(group))
                except asyncpg.UniqueViolationError as error:
                    if error.constraint_name != "events_stream_version_key":
                        raise
                    raise _taken(group, str(error.detail or "")) from error
                _resolve_group(group, row)
        if any(p.chained for wave in waves for p in wave):
            notify_after_commit(db, self.commits)
        return [await self._written(db, p) for wave in waves for p in wave]

    async def _heads_within(
        self, db: asyncpg.Connection, appends: Sequence[StreamAppend]
    ) -> dict[str, tuple[int, str]]:
        """Each stream's head as its first append expects it: remembered heads where they
        agree with the expectation, the others read in one round trip (a batch of new streams
        cost one query each before)."""
        first: dict[str, ExpectedVersion] = {}
        for append in appends:
            first.setdefault(append.stream_id, append.expected_version)
        heads: dict[str, tuple[int, str]] = {}
        unknown: list[str] = []
        for stream, expected in first.items():
            guess = self._heads.guess(stream, expected)
            if guess is None:
                unknown.append(stream)
            else:
                heads[stream] = guess
        if unknown:
            found = {
                row["stream_id"]: (row["stream_version"], row["hash"])
                for row in await db.fetch(self._sql.heads, unknown)
            }
            for stream in unknown:
                version, previous = found.get(stream, (0, GENESIS))
                _check_version(stream, first[stream], actual=version)
                heads[stream] = version, previous
        return heads

    async def _written(self, db: asyncpg.Connection, pending: _Pending) -> AppendResult:
        written = pending.done.result()
        if written is not None:
            return _appended(pending.stream_id, pending.version, pending.chained, written)
        consumer, message = (
            (pending.processed.consumer, pending.processed.message_id)
            if pending.processed
            else (None, None)
        )
        head = await db.fetchrow(self._sql.head, pending.stream_id, consumer, message, None)
        actual = head["stream_version"] or 0
        if head["processed"]:
            return AppendResult(pending.stream_id, actual, duplicate=True)
        raise ConcurrencyError(pending.stream_id, expected=pending.version, actual=actual)

    async def _grouped(self, pending: _Pending) -> _Written | None:
        """What was written of `pending`'s append, written together with whichever appends
        other tasks queue meanwhile; None when its stream moved or its message was already
        processed."""
        self._queue.append(pending)
        if len(self._flushers) < self._max_flushers:
            flusher = asyncio.create_task(self._flush_queued())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        return await pending.done

    async def _flush_queued(self) -> None:
        """Write the queue in groups until it is empty: a group takes each stream and each
        processed message once (a later append to the same stream chains from the earlier)."""
        while self._queue:
            group: list[_Pending] = []
            later: list[_Pending] = []
            streams: set[str] = set()
            messages: set[ProcessedMessage] = set()
            size = 0
            for index, pending in enumerate(self._queue):
                if len(group) >= _GROUP_LIMIT or size >= _GROUP_EVENTS:
                    later += self._queue[index:]  # full: not scanned (a batch queues hundreds)
                    break
                if (
                    (group and size + len(pending.chained) > _GROUP_EVENTS)
                    or pending.stream_id in streams
                    or (pending.processed is not None and pending.processed in messages)
                ):
                    later.append(pending)
                    continue
                group.append(pending)
                size += len(pending.chained)
                streams.add(pending.stream_id)
                if pending.processed is not None:
                    messages.add(pending.processed)
            self._queue = later
            try:
                async with self._connection() as db:
                    await self._write_group(db, group)
                if size:  # events were written (a group of empty appends wakes nobody)
                    self.commits.notify()  # each statement its own transaction: all committed
            except BaseException as error:
                for pending in group:
                    pending.fail(error)
                if not isinstance(error, Exception):
                    for pending in self._queue:
                        pending.fail(error)
                    self._queue = []
                    raise

    async def _write_group(self, db: Any, group: Sequence[_Pending]) -> None:
        if len(group) > 1:
            try:
                row = await db.fetchrow(self._sql.append_many, _many_payload(group))
            except (asyncpg.PostgresError, asyncpg.InterfaceError):
                pass  # e.g. a racing writer took a version: one by one below, each on its own
            else:
                _resolve_group(group, row)
                return
        for pending in group:
            try:
                found = await _insert(
                    db,
                    pending.statement,
                    pending.stream_id,
                    pending.version,
                    pending.chained,
                    _optional_parts(pending.processed, pending.schedule, None),
                )
            except Exception as error:
                pending.fail(error)
            else:
                pending.resolve(found)

    async def read_stream(self, stream_id: str) -> StreamHistory:
        async with self._connection() as db:
            rows = await db.fetch(self._sql.read_stream, stream_id)
        history = StreamHistory(stream_id, tuple(recorded_from_row(row) for row in rows))
        if history.events:
            self._heads.remember(stream_id, history.version, history.events[-1].hash)
        return history

    async def read_streams(self, stream_ids: Sequence[str]) -> Mapping[str, StreamHistory]:
        tails = await self.read_stream_tails(dict.fromkeys(stream_ids, 0))
        return {stream_id: StreamHistory(stream_id, tuple(e)) for stream_id, e in tails.items()}

    async def read_stream_tails(
        self, after: Mapping[str, int]
    ) -> Mapping[str, Sequence[RecordedEvent]]:
        found: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in after}
        if after:
            async with self._connection() as db:
                rows = await db.fetch(
                    self._sql.read_stream_tails, list(after), list(after.values())
                )
            for row in rows:
                found[row[2]].append(recorded_from_row(row))
        for stream_id, events in found.items():
            if events:
                self._heads.remember(stream_id, events[-1].stream_version, events[-1].hash)
        return found

    async def read_all(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[RecordedEvent]:
        return recorded_from_read_all_rows(await self._read_all(self._sql.read_all, after, limit))

    async def read_all_rows(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[StoredRow]:
        rows = await self._read_all(self._sql.read_all_rows, after, limit)
        return list(map(_stored_row, rows))

    async def settled_positions(self, *, after: Checkpoint, limit: int = 1000) -> list[Checkpoint]:
        async with self._connection() as db:
            rows = await db.fetch(
                self._sql.settled_positions, str(after.transaction_id), after.position, limit
            )
        return [Checkpoint(row[1], row[0]) for row in rows]

    async def _read_all(self, statement: str, after: Checkpoint, limit: int) -> list[Any]:
        """The rows of a `read_all` statement (`sql._READ_ALL`: position and transaction id
        first) after `after`, read ahead when the batch before was full."""
        rows = await self._read_ahead_rows(statement, after, limit)
        if rows is None:
            rows = await self._fetch_all(statement, after, limit)
        if len(rows) == limit:  # a full batch: its reader usually asks for the next one
            self._start_read_ahead(statement, Checkpoint(rows[-1][1], rows[-1][0]), limit)
            await asyncio.sleep(0)  # the read-ahead sends its query before this batch is decoded
        return rows

    async def _fetch_all(self, statement: str, after: Checkpoint, limit: int) -> list[Any]:
        async with self._connection() as db:
            rows: list[Any] = await db.fetch(
                statement, str(after.transaction_id), after.position, limit
            )
        return rows

    def _start_read_ahead(self, statement: str, after: Checkpoint, limit: int) -> None:
        """Read the batch after a full one while its reader works on that one (the server's
        time and the round trip overlap the decoding). Only a full read-ahead batch is ever
        returned, and a full one is what reading afresh would return: rows that became readable
        since belong to transactions the barrier held back, which sort after all of them."""
        key = (statement, after, limit)
        if key in self._read_ahead:
            return
        if len(self._read_ahead) >= _READ_AHEAD_KEPT:  # readers that stopped: drop the oldest
            self._read_ahead.pop(next(iter(self._read_ahead))).cancel()
        task = asyncio.ensure_future(self._fetch_all(statement, after, limit))
        task.add_done_callback(_unclaimed)
        self._read_ahead[key] = task

    async def _read_ahead_rows(
        self, statement: str, after: Checkpoint, limit: int
    ) -> list[Any] | None:
        """The rows read ahead for exactly this call, if they make a full batch."""
        task = self._read_ahead.pop((statement, after, limit), None)
        if task is None or task.cancelled():
            return None
        try:
            rows = await task
        except Exception:
            return None  # read again: an error is then the caller's
        return rows if len(rows) == limit else None  # short: newer events may be readable now

    async def count_after(self, *, after: Checkpoint) -> int:
        async with self._connection() as db:
            count: int = await db.fetchval(
                self._sql.count_after, str(after.transaction_id), after.position
            )
        return count

    async def is_processed(self, message: ProcessedMessage) -> bool:
        async with self._connection() as db:
            found: bool = await db.fetchval(
                self._sql.is_processed, message.consumer, message.message_id
            )
        return found

    async def processed_among(self, messages: Sequence[ProcessedMessage]) -> set[ProcessedMessage]:
        if not messages:
            return set()
        async with self._connection() as db:
            rows = await db.fetch(
                self._sql.processed_among,
                [m.consumer for m in messages],
                [m.message_id for m in messages],
            )
        return {ProcessedMessage(row[0], row[1]) for row in rows}

    async def load_checkpoint(self, name: str) -> Checkpoint:
        async with self._connection() as db:
            row = await db.fetchrow(self._sql.load_checkpoint, name)
        return checkpoint_from_row(row)

    async def save_checkpoint(self, name: str, checkpoint: Checkpoint) -> None:
        async with self._connection() as db:
            await db.execute(
                self._sql.save_checkpoint, name, checkpoint.transaction_id, checkpoint.position
            )

    async def due_timers(self, *, now: datetime, limit: int = 100) -> Sequence[Timer]:
        async with self._connection() as db:
            rows = await db.fetch(self._sql.due_timers, now, limit)
        return tuple(timer_from_row(row) for row in rows)

    async def verify(self) -> VerifyReport:
        """Walk every stream in version order and recompute its hash chain (one snapshot)."""
        walker = ChainWalker()
        async with (
            self._connection() as db,
            db.transaction(isolation="repeatable_read", readonly=True),
        ):
            async for row in db.cursor(self._sql.walk, prefetch=2000):
                walker.feed(_stored(row))
        return walker.report()

    async def export(self) -> AsyncIterator[str]:
        """Every event as one line of JSON, in stream and version order (one snapshot), with
        what its hash covers, its hash and hash version, the data and metadata as stored: for
        verifiers outside Python (docs/hash-chain.md)."""
        async with (
            self._connection() as db,
            db.transaction(isolation="repeatable_read", readonly=True),
        ):
            async for row in db.cursor(self._sql.export, prefetch=2000):
                yield row["line"]


@dataclass(slots=True)
class _Pending:
    """An append waiting for its group's statement."""

    stream_id: str
    version: int
    chained: Sequence[ChainedEvent]
    processed: ProcessedMessage | None
    schedule: Sequence[Timer]
    statement: str  # the single-append statement, for writing it on its own
    done: asyncio.Future[_Written | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def resolve(self, written: _Written | None) -> None:
        if not self.done.done():
            self.done.set_result(written)

    def fail(self, error: BaseException) -> None:
        if self.done.done():
            return
        if isinstance(error, Exception):
            self.done.set_exception(error)
        else:
            self.done.cancel()


# A StoredRow of a `read_all_rows` row (its columns in StoredRow's order) without a Python
# call per row, as `StoredRow._make` would make.
_stored_row = partial(tuple.__new__, StoredRow)
_READ_AHEAD_KEPT = 4  # batches read ahead and not asked for yet, at most


def _unclaimed(task: asyncio.Task[Any]) -> None:
    """A batch read ahead that nobody asks for may fail (schema dropped, store closing)
    without anyone hearing of it."""
    if not task.cancelled():
        task.exception()


def _taken(group: Sequence[_Pending], detail: str) -> ConcurrencyError:
    """The `ConcurrencyError` of the group's append whose version a racing writer took (the
    unique violation's detail names its stream)."""
    for pending in group:
        if f"({pending.stream_id}, " in detail:
            return ConcurrencyError(
                pending.stream_id, expected=pending.version, actual=pending.version + 1
            )
    return ConcurrencyError(group[0].stream_id, expected=group[0].version, actual=-1)


def _groups(wave: Sequence[_Pending]) -> list[list[_Pending]]:
    """Appends to distinct streams cut into `append_many` groups (sizes as the group commit's;
    a processed message once per group)."""
    groups: list[list[_Pending]] = []
    size = 0
    messages: set[ProcessedMessage] = set()
    for pending in wave:
        if (
            not groups
            or len(groups[-1]) >= _GROUP_LIMIT
            or (groups[-1] and size + len(pending.chained) > _GROUP_EVENTS)
            or pending.processed in messages
        ):
            groups.append([])
            size = 0
            messages = set()
        groups[-1].append(pending)
        size += len(pending.chained)
        if pending.processed is not None:
            messages.add(pending.processed)
    return groups


def _resolve_group(group: Sequence[_Pending], row: Any) -> None:
    """Hand each append of a group what was written of it, or None when it was not written,
    from `append_many`'s one row (sql._APPEND_MANY)."""
    written = set(row["written"] or ())
    positions: Sequence[int] = row["positions"] or ()
    if sum(len(p.chained) for i, p in enumerate(group) if i in written) != len(positions):
        raise RuntimeError("append_many returned other positions than its appends' events")
    transaction_id, recorded_at = row["transaction_id"], row["recorded_at"]
    taken = 0
    for index, pending in enumerate(group):
        if index not in written:
            pending.resolve(None)
            continue
        own = positions[taken : taken + len(pending.chained)]
        taken += len(own)
        pending.resolve(_Written(own, transaction_id, recorded_at))


class _Written(NamedTuple):
    """What the server gave an append's events: their positions in version order, and the
    transaction id and record time they share. Kept as is until `_recorded` needs it (a dict
    per event made here cost 3% of a 50-event append's client CPU, mostly for nobody)."""

    positions: Sequence[int]
    transaction_id: int
    recorded_at: datetime


def _many_payload(group: Sequence[_Pending]) -> str:
    """The JSON array `append_many` takes, joined from the canonical JSON already made."""
    items = []
    for index, pending in enumerate(group):
        processed = pending.processed
        consumer = quote_json(processed.consumer) if processed else "null"
        message = quote_json(processed.message_id) if processed else "null"
        timers = dumps([_timer_object(t) for t in pending.schedule]) if pending.schedule else "null"
        rows, metadata = event_rows(pending.chained)
        items.append(
            f'{{"i":{index},"s":{quote_json(pending.stream_id)},"v":{int(pending.version)},'
            f'"c":{consumer},"m":{message},"e":{rows},"md":{metadata},"t":{timers}}}'
        )
    return "[" + ",".join(items) + "]"


def _timer_object(timer: Timer) -> dict[str, Any]:
    return {
        "timer_id": timer.timer_id,
        "consumer": timer.consumer,
        "stream_id": timer.stream_id,
        "due_at": (
            timer.due_at if timer.due_at.tzinfo else timer.due_at.replace(tzinfo=UTC)
        ).isoformat(),
        "kind": timer.kind,
        "payload": timer.payload,
    }


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The store changes no session state (no SET, LISTEN, session locks or open cursors), so a
    released connection needs no reset query: asyncpg still rolls back an open transaction."""
    del connection


def _optional_parts(
    processed: ProcessedMessage | None, schedule: Sequence[Timer], fired_timer: str | None
) -> list[Any]:
    """The parameters of the append statement's optional parts (see `sql.AppendShape`); made
    only for a statement of its own (the group commit takes its parts from `_many_payload`)."""
    extra: list[Any] = []
    if processed is not None:
        extra += [processed.consumer, processed.message_id]
    if schedule:
        extra += timer_columns(schedule)
    if fired_timer is not None:
        extra.append(fired_timer)
    return extra


async def _insert(
    db: Any,
    statement: str,
    stream_id: str,
    version: int,
    chained: Sequence[ChainedEvent],
    extra: Sequence[Any],
) -> _Written | None:
    """What was written, or None when the stream moved or the message was already processed
    (the caller re-reads the head to tell which)."""
    try:
        row = await db.fetchrow(statement, stream_id, version, *event_rows(chained), *extra)
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name != "events_stream_version_key":
            raise
        return None  # a racing writer took these versions
    if not row["ok"]:
        return None
    positions: Sequence[int] = row["positions"] or ()
    if len(positions) != len(chained):
        raise RuntimeError("append returned other positions than its events")
    return _Written(positions, row["transaction_id"], row["recorded_at"])


def _check_version(stream_id: str, expected: ExpectedVersion, *, actual: int) -> None:
    if expected == ANY:
        return
    wanted = 0 if expected == NO_STREAM else expected
    if wanted != actual:
        raise ConcurrencyError(stream_id, expected=expected, actual=actual)


def _appended(
    stream_id: str, version: int, chained: Sequence[ChainedEvent], written: _Written
) -> AppendResult:
    recorded = _RecordedOnDemand(partial(_recorded, stream_id, chained, written), len(chained))
    return AppendResult(stream_id, version + len(chained), recorded)


def _recorded(
    stream_id: str, chained: Sequence[ChainedEvent], written: _Written
) -> list[RecordedEvent]:
    positions, transaction_id, at = written
    return [
        recorded_from_chained(
            stream_id, event, position=position, transaction_id=transaction_id, at=at
        )
        for event, position in zip(chained, positions, strict=True)
    ]


class _RecordedOnDemand(Sequence[RecordedEvent]):
    """An append's events as RecordedEvents, made when first asked for: a consumer's appends
    (most of a busy service's) never look at them, and making them cost ~3% of its CPU."""

    __slots__ = ("_count", "_events", "_make")

    def __init__(self, make: Callable[[], list[RecordedEvent]], count: int) -> None:
        self._make: Callable[[], list[RecordedEvent]] | None = make
        self._events: list[RecordedEvent] = []
        self._count = count

    def _made(self) -> list[RecordedEvent]:
        if self._make is not None:
            self._events, self._make = self._make(), None
        return self._events

    @overload
    def __getitem__(self, index: int) -> RecordedEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RecordedEvent]: ...

    def __getitem__(self, index: int | slice) -> RecordedEvent | Sequence[RecordedEvent]:
        return self._made()[index]

    def __len__(self) -> int:
        return self._count

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return self._made() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __repr__(self) -> str:
        return repr(self._made())


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=UUID(bytes=row["event_id"].bytes),
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=row["metadata"],
        hash=row["hash"],
        hash_version=row["hash_version"],
    )
