"""The I/O of `lts audit reconcile`: read each producer's store (through the read-only
`lts_events.store.inspect`), Kafka's offsets and the audit log, in the order that makes
`reconcile.reconcile`'s verdicts sound:

1. the producer's events and its relay's checkpoint, in one snapshot;
2. the end offsets of its topic, right after: everything relayed by the snapshot lies before;
3. the audit consumer's committed offsets, waited for (until the deadline) to reach those ends:
   the consumer commits only after the audit copies committed;
4. the audit log;
5. the audited ids the snapshot lacked, looked up in the store again (appended meanwhile).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from lts_events.infra import Found
from lts_events.reach import cannot_reach
from lts_events.relay import checkpoint_name
from lts_events.store import inspect

from lts_metrics.audit import SEPARATOR, topic_of
from lts_metrics.reconcile import AuditedRef, Progress, ServiceReport, reconcile
from lts_metrics.schema import identifier

POLL_S = 0.25
CONNECT_TIMEOUT_S = 10.0


class Unreachable(RuntimeError):
    """Kafka or PostgreSQL did not answer; the message says which and where."""


def unreachable(what: str, found: Found, error: BaseException) -> Unreachable:
    return Unreachable(cannot_reach(what, found.address, error))


@dataclass(frozen=True)
class AuditLogAt:
    """Where the audit log is: its schema, and the consumer group that fills it."""

    schema: str
    group: str
    namespace: str = ""


class Offsets:
    """End offsets of topics and committed offsets of a consumer group, one client each."""

    def __init__(self, kafka: Found) -> None:
        self._kafka = kafka
        self._admin = AIOKafkaAdminClient(bootstrap_servers=kafka.address)
        self._reader = AIOKafkaConsumer(bootstrap_servers=kafka.address, group_id=None)

    async def __aenter__(self) -> Offsets:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self._admin.start()
                await self._reader.start()
        except Exception as error:
            await self._close()
            raise unreachable("Kafka", self._kafka, error) from error
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._reader.stop()
        await self._admin.close()

    async def ends(self, topic: str) -> dict[TopicPartition, int]:
        """Each partition's end offset now; empty when the topic does not exist."""
        described = await self._admin.describe_topics([topic])
        partitions = [
            TopicPartition(topic, p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        ]
        if not partitions:
            return {}
        ends: Mapping[TopicPartition, int] = await self._reader.end_offsets(partitions)
        return dict(ends)

    async def consumed(
        self, group: str, ends: Mapping[TopicPartition, int], *, deadline: float
    ) -> bool:
        """Wait until `group` committed every partition of `ends` up to its end (True), or
        the deadline passes (False)."""
        wanted = {tp: end for tp, end in ends.items() if end > 0}
        while True:
            committed = await self._admin.list_consumer_group_offsets(group)
            if all(tp in committed and committed[tp].offset >= end for tp, end in wanted.items()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)


async def audited(conn: asyncpg.Connection, audit: AuditLogAt, service: str) -> list[AuditedRef]:
    """The audit copies of `service`'s events: the metrics store's streams `<service>:...`."""
    s = identifier(audit.schema)
    prefix = f"{service}{SEPARATOR}"
    rows = await conn.fetch(
        "SELECT substr(e.stream_id, length($1) + 1) AS stream_id, a.stream_version, "
        "e.event_id::text AS event_id, e.type "
        f"FROM {s}.events AS e LEFT JOIN {s}.audit_envelopes AS a USING (event_id) "
        "WHERE left(e.stream_id, length($1)) = $1",
        prefix,
    )
    return [AuditedRef(r["stream_id"], r["stream_version"], r["event_id"], r["type"]) for r in rows]


async def audited_services(conn: asyncpg.Connection, audit: AuditLogAt) -> list[str]:
    """The producers the audit log holds copies of."""
    s = identifier(audit.schema)
    rows = await conn.fetch(
        f"SELECT DISTINCT split_part(stream_id, $1, 1) FROM {s}.events "
        "WHERE strpos(stream_id, $1) > 0",
        SEPARATOR,
    )
    return sorted(r[0] for r in rows)


async def reconcile_service(
    conn: asyncpg.Connection,
    offsets: Offsets,
    audit: AuditLogAt,
    service: str,
    *,
    deadline: float,
) -> ServiceReport:
    """One producer (its store is the schema named after it) against the audit log."""
    topic = topic_of(service, namespace=audit.namespace)
    has_store = await inspect.has_store(conn, service)
    stored: list[inspect.StoredRef] = []
    relayed_to = None
    if has_store:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            stored = await inspect.stored_events(conn, service)
            relayed_to = await inspect.checkpoint(conn, service, checkpoint_name(topic))
    ends = await offsets.ends(topic)
    consumed = await offsets.consumed(audit.group, ends, deadline=deadline)
    copies = await audited(conn, audit, service)
    known = {s.event_id for s in stored}
    unknown = [a.event_id for a in copies if a.event_id not in known]
    later = await inspect.present(conn, service, unknown) if has_store else set()
    report = reconcile(service, stored, copies, Progress(relayed_to, consumed), stored_later=later)
    if not has_store:
        report.note = f"no event store in schema {service!r} of this database"
    return report


async def reconcile_all(
    conn: asyncpg.Connection,
    offsets: Offsets,
    audit: AuditLogAt,
    services: Sequence[str],
    *,
    settle: float,
) -> list[ServiceReport]:
    """Every service, again until nothing is in flight or `settle` seconds have passed."""
    deadline = time.monotonic() + settle
    while True:
        reports = [
            await reconcile_service(conn, offsets, audit, service, deadline=deadline)
            for service in services
        ]
        if not any(r.in_flight for r in reports) or time.monotonic() >= deadline:
            return reports
        await asyncio.sleep(POLL_S)
