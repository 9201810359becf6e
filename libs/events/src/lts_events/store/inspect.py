"""Read-only queries over an event store's tables, for tools that do not own the store
(`lts audit reconcile`, chain anchors, `lts store verify`). The one place outside
`store/postgres.py` that knows the store's tables; nothing here writes.

Every function takes an asyncpg connection and the store's schema (a checked identifier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from lts_events.store.migrate import checked_schema
from lts_events.store.port import Checkpoint
from lts_events.store.sql import AFTER_CHECKPOINT, SETTLED


@dataclass(frozen=True, slots=True)
class StoredRef:
    """Where one stored event sits and what it is, without its content."""

    stream_id: str
    stream_version: int
    event_id: str
    type: str
    checkpoint: Checkpoint


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of a stream (up to some point of the store)."""

    stream_id: str
    stream_version: int
    hash: str


def _s(schema: str) -> str:
    return f'"{checked_schema(schema)}"'


async def has_store(conn: asyncpg.Connection, schema: str) -> bool:
    """Whether `schema` holds an event store (its `events` table)."""
    found = await conn.fetchval("SELECT to_regclass($1)", f"{_s(schema)}.events")
    return found is not None


async def stored_events(conn: asyncpg.Connection, schema: str) -> list[StoredRef]:
    """Every event of the store (one statement, so one snapshot), in stream and version order."""
    rows = await conn.fetch(
        "SELECT e.stream_id, e.stream_version, e.event_id::text AS event_id, e.type, "
        "e.transaction_id::text::bigint AS transaction_id, e.position "
        f"FROM {_s(schema)}.events AS e ORDER BY e.stream_id, e.stream_version"
    )
    return [
        StoredRef(
            r["stream_id"],
            r["stream_version"],
            r["event_id"],
            r["type"],
            Checkpoint(r["transaction_id"], r["position"]),
        )
        for r in rows
    ]


async def present(conn: asyncpg.Connection, schema: str, event_ids: Sequence[str]) -> set[str]:
    """Those of `event_ids` the store holds now."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        f"SELECT event_id::text FROM {_s(schema)}.events WHERE event_id = ANY($1::uuid[])",
        list(event_ids),
    )
    return {r[0] for r in rows}


async def checkpoint(conn: asyncpg.Connection, schema: str, name: str) -> Checkpoint | None:
    """A reader's saved checkpoint (e.g. the relay's), None when it never saved one."""
    row = await conn.fetchrow(
        f"SELECT transaction_id, position FROM {_s(schema)}.checkpoints WHERE name = $1", name
    )
    return None if row is None else Checkpoint(row["transaction_id"], row["position"])


async def settled_end(conn: asyncpg.Connection, schema: str) -> Checkpoint | None:
    """The last settled event: nothing can ever be committed at or before it any more."""
    row = await conn.fetchrow(
        "SELECT e.transaction_id::text::bigint AS transaction_id, e.position "
        f"FROM {_s(schema)}.events AS e WHERE {SETTLED} "
        "ORDER BY e.transaction_id DESC, e.position DESC LIMIT 1"
    )
    return None if row is None else Checkpoint(row["transaction_id"], row["position"])


async def settled_since(
    conn: asyncpg.Connection,
    schema: str,
    after: Checkpoint,
    *,
    excluding_stream: str,
    limit: int,
) -> int:
    """How many settled events follow `after` outside `excluding_stream`, counting to `limit`
    at most (a bounded index range scan)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 "
        f"FROM {_s(schema)}.events AS e "
        f"WHERE {AFTER_CHECKPOINT} AND {SETTLED} AND e.stream_id <> $3 LIMIT $4) AS newer",
        str(after.transaction_id),
        after.position,
        excluding_stream,
        limit,
    )
    return count


async def heads(conn: asyncpg.Connection, schema: str, upto: Checkpoint) -> list[Head]:
    """Each stream's last event among those at or before `upto`, ordered by stream id in
    Unicode code point order (Python's, and PostgreSQL's "C" collation)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (e.stream_id) e.stream_id, e.stream_version, e.hash "
        f"FROM {_s(schema)}.events AS e "
        "WHERE (e.transaction_id, e.position) <= ($1::text::xid8, $2::bigint) "
        "ORDER BY e.stream_id, e.stream_version DESC",
        str(upto.transaction_id),
        upto.position,
    )
    found = [Head(r["stream_id"], r["stream_version"], r["hash"]) for r in rows]
    found.sort(key=lambda head: head.stream_id)  # the database's collation may differ
    return found


async def last_of_stream(
    conn: asyncpg.Connection, schema: str, stream_id: str
) -> dict[str, Any] | None:
    """The last event of a stream: its id, type, schema version and data (JSON text)."""
    row = await conn.fetchrow(
        "SELECT event_id::text AS event_id, type, schema_version, data::text AS data "
        f"FROM {_s(schema)}.events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1",
        stream_id,
    )
    return None if row is None else dict(row)


async def of_type(
    conn: asyncpg.Connection, schema: str, type_: str, *, field: str, value: str
) -> list[dict[str, Any]]:
    """Events of `type_` whose data field `field` is `value` (any stream): id and data."""
    rows = await conn.fetch(
        "SELECT event_id::text AS event_id, schema_version, data::text AS data "
        f"FROM {_s(schema)}.events WHERE type = $1 AND data->>$2 = $3 ORDER BY position",
        type_,
        field,
        value,
    )
    return [dict(r) for r in rows]
