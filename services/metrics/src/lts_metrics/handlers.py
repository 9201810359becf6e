"""The async shell of the audit log: Kafka messages in, each one's audit copy stored once.

A Kafka batch is stored in one transaction (`audit_tables.AuditTables`): its envelope facts in
one statement and its audit copies through the store's `append_within` (several copies of one
stream chain in Kafka order).
A message that is not a CloudEvent, or whose data does not fit its type, is refused alone (DLQ);
a message already audited (a redelivery) changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from lts_events.consumer import PermanentError, RawMessage
from lts_events.envelope import Envelope, NewEvent
from lts_events.store import ProcessedMessage
from lts_events.store.port import ANY, AppendResult, StreamAppend
from pydantic import ValidationError

from lts_metrics import audit
from lts_metrics.audit_tables import AuditTables

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, tables: AuditTables) -> None:
        self._tables = tables

    async def on_batch(self, messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        """Store a Kafka batch's events at once; one verdict per message."""
        verdicts: list[PermanentError | None] = []
        fresh: dict[str, tuple[audit.EnvelopeFacts, NewEvent]] = {}
        for message in messages:
            try:
                envelope = Envelope.from_kafka(message.value, message.headers)
            except Exception as error:
                verdicts.append(PermanentError(f"not a CloudEvent: {error}"))
                continue
            facts = audit.facts_of(
                envelope, topic=message.topic, partition=message.partition, offset=message.offset
            )
            try:
                copy = audit.audit_copy(envelope, facts)
            except ValidationError as error:
                verdicts.append(PermanentError(f"invalid {envelope.type}: {error}"))
                continue
            verdicts.append(None)
            fresh.setdefault(envelope.id, (facts, copy))  # the same event twice: once
        entries = list(fresh.items())
        try:
            if entries:
                await self._store_all(entries)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "events_event_id_key":
                raise
            await self._store_each(entries)
        return verdicts

    async def _store_each(
        self, entries: list[tuple[str, tuple[audit.EnvelopeFacts, NewEvent]]]
    ) -> None:
        """One by one, skipping an event whose id the audit log already holds under another
        message (the batch that met it rolled back whole)."""
        for entry in entries:
            try:
                await self._store_all([entry])
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != "events_event_id_key":
                    raise
                log.info("event already audited", extra={"event_id": str(entry[1][0].event_id)})

    async def _store_all(
        self, entries: list[tuple[str, tuple[audit.EnvelopeFacts, NewEvent]]]
    ) -> list[AppendResult]:
        appends = [
            StreamAppend(
                facts.stream_id,
                [copy],
                expected_version=ANY,
                processed=ProcessedMessage(audit.CONSUMER, ce_id),
            )
            for ce_id, (facts, copy) in entries
        ]
        rows = [facts.row() for _, (facts, _copy) in entries]
        return await self._tables.write(rows, appends)

    async def record(self, envelope: Envelope, facts: audit.EnvelopeFacts) -> bool:
        """Store one envelope the batch's way; True when stored now, False when it was already
        in the audit log."""
        (result,) = await self._store_all(
            [(envelope.id, (facts, audit.audit_copy(envelope, facts)))]
        )
        return not result.duplicate
