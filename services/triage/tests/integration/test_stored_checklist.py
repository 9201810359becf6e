"""A `TicketTriaged` stored before the checklist was nested (schema 1: the answers as top-level
fields) reads from PostgreSQL as today's shape: the answers in `checklist`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.contracts.common import Severity, ticket_stream
from lts_events.contracts.triage import ChangeKind, Effort, TicketTriaged, TriageChecklist
from lts_events.envelope import Metadata
from lts_events.event import JsonDict
from lts_events.hashing import GENESIS, JCS_HASH, event_hash
from lts_events.store.postgres import PostgresEventStore
from lts_triage.config import Settings
from lts_triage.handlers import TriageHandlers

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SCHEMA_1 = {
    "ticket_id": 0,  # set per test
    "severity": "high",
    "proposed_severity": "medium",
    "triaged_by": "tess",
    "automatic": False,
    "opened_at": "2026-03-02T09:00:00Z",
    "triaged_at": "2026-03-02T11:00:00Z",
    "sla_deadline": "2026-03-03T09:00:00Z",
    "within_sla": True,
    "plan_deadline": "2026-03-05T11:00:00Z",
    "reproduced": None,
    "affected_versions": ["1.4.2", "1.3.7"],
    "public_exploit": True,
    "workaround": False,
    "api_change": False,
    "effort": "L",
    "security": True,
    "change_kind": "feature",
    "regression": True,
}
"""`TicketTriaged.to_data()` as schema 1 wrote it."""


async def append_raw(
    database_url: str, schema: str, stream: str, *, type_: str, schema_version: int, data: JsonDict
) -> None:
    """Write the row an older release of the service appended: its JSON, its schema version."""
    event_id = uuid.uuid4()
    metadata = Metadata(actor=Actor(id="tess", role=Role.TRIAGE_ENGINEER)).model_dump(mode="json")
    digest = event_hash(
        previous_hash=GENESIS,
        event_id=event_id,
        stream_id=stream,
        stream_version=1,
        type_=type_,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
        hash_version=JCS_HASH,
    )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f'INSERT INTO "{schema}".events (stream_id, stream_version, event_id, type, '
            "schema_version, data, metadata, hash, hash_version) "
            "VALUES ($1, 1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)",
            stream,
            event_id,
            type_,
            schema_version,
            json.dumps(data),
            json.dumps(metadata),
            digest,
            JCS_HASH,
        )
    finally:
        await connection.close()


async def test_a_schema_1_ticket_triaged_reads_with_its_answers_in_the_checklist(
    database_url: str, drop_schemas: list[str], ticket_id: int
) -> None:
    schema = f"triage_v1_{uuid.uuid4().hex[:10]}"
    drop_schemas.append(schema)
    store = await PostgresEventStore.connect(database_url, schema=schema)
    stream = ticket_stream(ticket_id)
    try:
        await append_raw(
            database_url,
            schema,
            stream,
            type_=TicketTriaged.type,
            schema_version=1,
            data={**SCHEMA_1, "ticket_id": ticket_id},
        )

        stored = (await store.read_stream(stream)).events[0]
        state, _ = await TriageHandlers(store, policy=Settings().policy(), clock=lambda: T0).load(
            ticket_id
        )
        report = await store.verify()
    finally:
        await store.close()

    expected = TriageChecklist(
        reproduced=None,
        affected_versions=("1.4.2", "1.3.7"),
        public_exploit=True,
        workaround=False,
        api_change=False,
        effort=Effort.LARGE,
        security=True,
        change_kind=ChangeKind.FEATURE,
        regression=True,
    )
    assert stored.schema_version == 1
    assert isinstance(stored.event, TicketTriaged)
    assert stored.event.checklist == expected
    assert (stored.event.severity, stored.event.triaged_by) == (Severity.HIGH, "tess")
    assert state.triage is not None
    assert state.triage.checklist == expected
    assert report.ok
