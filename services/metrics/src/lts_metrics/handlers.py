"""The async shell of the audit log: one Kafka message in, its audit copy stored once."""

from __future__ import annotations

import logging

import asyncpg
from lts_events.consumer import PermanentError, RawMessage
from lts_events.envelope import Envelope
from lts_events.store import ProcessedMessage
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lts_metrics import audit
from lts_metrics.schema import identifier

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store
        self._s = identifier(store.schema)

    async def on_message(self, message: RawMessage) -> None:
        """Store the event carried by `message`, whatever its type; a message that is not a
        CloudEvent goes to the dead-letter topic."""
        try:
            envelope = Envelope.from_kafka(message.value, message.headers)
        except Exception as error:
            raise PermanentError(f"not a CloudEvent: {error}") from error
        facts = audit.facts_of(
            envelope, topic=message.topic, partition=message.partition, offset=message.offset
        )
        await self.record(envelope, facts)

    async def record(self, envelope: Envelope, facts: audit.EnvelopeFacts) -> bool:
        """True when stored now, False when it was already in the audit log."""
        if await self._store.is_processed(ProcessedMessage(audit.CONSUMER, envelope.id)):
            return False
        await self._save_envelope(facts)
        try:
            result = await audit.record(self._store, envelope, facts)
        except (asyncpg.UniqueViolationError, IntegrityError) as error:
            if "events_event_id_key" not in str(error):
                raise
            log.info("event already audited", extra={"event_id": str(facts.event_id)})
            return False
        return not result.duplicate

    async def _save_envelope(self, facts: audit.EnvelopeFacts) -> None:
        columns = list(facts.row())
        async with self._store.engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {self._s}.audit_envelopes ({', '.join(columns)})"
                    f" VALUES ({', '.join(':' + c for c in columns)})"
                    " ON CONFLICT (event_id) DO NOTHING"
                ),
                facts.row(),
            )
