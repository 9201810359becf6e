"""Many rows in one statement, sent as one JSON array of arrays (`$1`) and cast to their columns'
types in SQL: the audit log's envelope rows, the projections' timeline entries and lifecycle
rows, up to a few hundred of each per batch.

Measured against the alternatives on the dev server, 500-row batches of envelope rows, per row
client + server CPU (docs/performance.md, "Pipeline", mrows): `executemany` 3.7-6.0 + 13-21 µs (a
Bind and Execute each), `unnest` of typed arrays 5.7-7.9 + 6-11 (the driver encodes every
element), `jsonb_populate_recordset` of objects 2.4-3.5 + 13-19 (an object per row to build, and
to parse), arrays of values 1.0-1.8 + 9-17; of timeline entries, objects 3.1-4.0 + 14.5-18.8,
arrays 1.3-1.8 + 12.0-16.8, `unnest` 8.8-10.3 + 10.4-13.0."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson


def select_from_json(types: Sequence[str | None]) -> str:
    """`SELECT` of the rows in `$1`, value i of each cast to `types[i]` (None: text, as `->>`
    gives it; `text[]`: from a JSON array of strings, in its order), in the order given."""
    values = ", ".join(_value(i, sql_type) for i, sql_type in enumerate(types))
    return f"SELECT {values} FROM jsonb_array_elements($1::jsonb) AS r"


def _value(i: int, sql_type: str | None) -> str:
    if sql_type is None:
        return f"r->>{i}"
    if sql_type == "text[]":
        return (
            f"ARRAY(SELECT item FROM jsonb_array_elements_text(r->{i}) WITH ORDINALITY"
            " AS items(item, n) ORDER BY n)"
        )
    return f"(r->>{i})::{sql_type}"


def dumps_rows(rows: Sequence[tuple[Any, ...]]) -> str:
    """`rows` (tuples, named ones too) as the JSON `select_from_json` reads: by orjson, UUIDs
    and times as it writes them (ISO 8601 with a `T`, which PostgreSQL reads as it reads
    `str`'s); by `json.dumps` what orjson refuses (integers beyond 64 bits, which the cast then
    refuses as the driver would)."""
    try:
        return orjson.dumps(rows, default=tuple).decode()  # a named tuple goes through default
    except orjson.JSONEncodeError:
        return json.dumps(rows, default=str)
