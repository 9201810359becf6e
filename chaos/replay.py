"""Published again: every message that drove a decision of the release load, copied onto its
topic a second time (same key, value and CloudEvent headers, so the same event id), as a relay
that crashed between publishing a batch and storing its checkpoint publishes it again after
the restart. A leader's SIGKILL only sometimes lands in that window; this makes the redelivery
certain, so each consumer's check for a message already processed is always put to the test
(a redelivered `DocumentReleased` must not plan its deliveries twice, a `ReleasePublished` must
not start a second canary, a `PlanApproved` must not open a backport twice)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from lts_events.contracts.comms.documents import DocumentReleased
from lts_events.contracts.release.backports import BackportOpened
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.ci import CiResultRecorded
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import RolledBack
from lts_events.contracts.triage import PlanApproved
from lts_events.kafka import events_topic

from chaos.load import Delivery, Progress, send
from chaos.observe import topic_partitions

log = logging.getLogger(__name__)

REPLAYED: Mapping[str, frozenset[str]] = {
    events_topic("triage"): frozenset({PlanApproved.type}),
    events_topic("release"): frozenset(
        cls.type
        for cls in (
            CiResultRecorded,
            BackportOpened,
            CandidateOpened,
            ReleasePublished,
            RolledBack,
        )
    ),
    events_topic("comms"): frozenset({DocumentReleased.type}),
}
"""Per topic, the types the release load's decisions are taken on (by release and comms)."""


async def publish_again(bootstrap_servers: str, namespace: str) -> int:
    """Every message of `REPLAYED` on the run's topics, published once more; how many."""
    copies = 0
    for topic, types in REPLAYED.items():
        again = await _read(bootstrap_servers, namespace + topic, types)
        await send(bootstrap_servers, namespace + topic, again, rate=1000.0, progress=Progress(0))
        copies += len(again)
    log.info("replay: %d messages of the release load published again", copies)
    return copies


async def _read(bootstrap_servers: str, topic: str, types: frozenset[str]) -> list[Delivery]:
    """The topic's messages of `types`, from its start to its end as of now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        partitions = await topic_partitions(admin, [topic])
        ends = await reader.end_offsets(partitions) if partitions else {}
        left = {tp for tp, end in ends.items() if end > 0}
        if not left:
            return []
        reader.assign(list(left))
        await reader.seek_to_beginning(*left)
        found: list[Delivery] = []
        while left:
            batches = await reader.getmany(*left, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    headers = tuple((k, bytes(v)) for k, v in record.headers)
                    if dict(headers).get("ce_type", b"").decode() in types:
                        found.append(Delivery(record.key or b"", record.value or b"", headers))
                    if record.offset + 1 >= ends[tp]:
                        left.discard(tp)
        return found
    finally:
        await reader.stop()
        await admin.close()
