"""The async shell of the audit log: Kafka messages in, each one's audit copy stored once.

A Kafka batch is stored through `audit_tables.AuditTables`, its envelope facts in one statement
and its audit copies through the store's `append_within` (several copies of one stream chain in
Kafka order), in one transaction per lane (`audit.lanes_of`: whole streams, written at once).
A message that is not a CloudEvent, or whose data does not fit its type, is refused alone (DLQ);
a message already audited (a redelivery) changes nothing: the audit log holds an event id once
(`audit_tables`), and records no processed-message row."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from lts_events.consumer import PermanentError, RawMessage
from lts_events.envelope import Envelope, NewEvent
from lts_events.store.port import ANY, AppendResult, StreamAppend
from pydantic import ValidationError

from lts_metrics import audit
from lts_metrics.audit_tables import AuditTables


class AuditLog:
    def __init__(self, tables: AuditTables, *, lanes: int = 1, lane_minimum: int = 100) -> None:
        """`lanes`: transactions a batch is written in at once, its streams shared out among
        them (`audit.lanes_of`), when each gets `lane_minimum` events at least."""
        self._tables = tables
        self._lanes = lanes
        self._lane_minimum = lane_minimum

    async def on_batch(self, messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        """Store a Kafka batch's events at once; one verdict per message."""
        verdicts: list[PermanentError | None] = []
        fresh: dict[UUID, tuple[audit.EnvelopeFacts, NewEvent]] = {}
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
            fresh.setdefault(facts.event_id, (facts, copy))  # the same event twice: once
        if fresh:
            await self._store_in_lanes(list(fresh.values()))
        return verdicts

    async def _store_in_lanes(
        self, entries: Sequence[tuple[audit.EnvelopeFacts, NewEvent]]
    ) -> None:
        """The batch in concurrent transactions on disjoint streams: while one waits for
        PostgreSQL, the next is chained (metrics alone on one event loop otherwise waits for
        each statement in turn). A lane that fails fails the batch, after the others ended;
        the batch again then finds what they stored and appends only the rest."""
        lanes = min(self._lanes, len(entries) // self._lane_minimum)
        if lanes <= 1:  # as one transaction, without sharing the streams out first
            await self._store(entries)
            return
        outcomes = await asyncio.gather(
            *(self._store(lane) for lane in audit.lanes_of(entries, lanes=lanes)),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _store(
        self, entries: Sequence[tuple[audit.EnvelopeFacts, NewEvent]]
    ) -> list[AppendResult]:
        """One append per stream, its copies in Kafka order: a stream's events in a batch are
        one append in one statement (an append per event took a statement per event of a
        stream, `append_within`'s waves)."""
        streams: dict[str, list[NewEvent]] = {}
        for facts, copy in entries:
            streams.setdefault(facts.stream_id, []).append(copy)
        appends = [
            StreamAppend(stream, copies, expected_version=ANY) for stream, copies in streams.items()
        ]
        return await self._tables.write([facts for facts, _ in entries], appends)

    async def record(self, envelope: Envelope, facts: audit.EnvelopeFacts) -> bool:
        """Store one envelope the batch's way; True when stored now, False when it was already
        in the audit log."""
        results = await self._store([(facts, audit.audit_copy(envelope, facts))])
        return any(result.recorded for result in results)
