"""The topics of ended test and bench runs are deleted from the local broker by `lts infra up`
(`lts_devtools.infra.stale_topics`); a service's topics and a running run's are kept."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest
from lts_devtools.infra import ensure_infrastructure
from lts_devtools.infra.stale_topics import (
    STALE_AFTER_S,
    creation_times,
    is_run_topic,
    stale_run_topics,
)
from lts_devtools.infra.topics import delete_topics, topic_names
from lts_events.infra import kafka_bootstrap, state
from lts_events.kafka import ensure_topics

# names as the test suites, benches and chaos runs make them (seen on the broker)
RUN_TOPICS = [
    "lts.release_3fa9c0d1e2.events",
    "lts.inbound.alerts_0b5e7aa913",
    "e2e-9c1f00ab42.lts.triage.events",
    "bench-4e1a2f.lts.intake.events",
    "rt-wake_5d2c9e0f1a_63_0a7be41c29",
    "log-level-77e0c1d3a5",
]
SERVICE_TOPICS = [
    "lts.intake.events",
    "lts.inbound.alerts",
    "lts.dlq",
    "__consumer_offsets",
    "lts.facade.events",  # hex letters only: a word, not a run id
    "lts.build-2026.events",  # digits only, but 4 of them
    "lts.deadbeef1x.events",  # inside a longer word
]


@pytest.mark.parametrize("name", RUN_TOPICS)
def test_a_topic_named_with_a_run_id_is_a_run_topic(name: str) -> None:
    assert is_run_topic(name)


@pytest.mark.parametrize("name", SERVICE_TOPICS)
def test_a_topic_named_without_a_run_id_is_not(name: str) -> None:
    assert not is_run_topic(name)


def test_only_run_topics_created_long_enough_ago_are_stale() -> None:
    now = 1_000_000.0
    created = {
        "lts.release_3fa9c0d1e2.events": now - STALE_AFTER_S,
        "lts.release_aaaa00001.events": now - STALE_AFTER_S + 60,  # a run still going
        "lts.intake.events": now - 10 * STALE_AFTER_S,
    }

    assert stale_run_topics(created, now=now) == ["lts.release_3fa9c0d1e2.events"]


def test_a_topic_is_as_old_as_its_newest_partition(tmp_path: Path) -> None:
    for partition, at in ((0, 100.0), (1, 300.0), (2, 200.0)):
        folder = tmp_path / f"lts.triage_0b5e7aa913.events-{partition}"
        folder.mkdir()
        (folder / "partition.metadata").write_text("version: 0\n")
        os.utime(folder / "partition.metadata", (at, at))
    (tmp_path / "meta.properties").write_text("")
    (tmp_path / "__cluster_metadata-0").mkdir()  # no partition.metadata: not a topic's

    assert creation_times(tmp_path) == {"lts.triage_0b5e7aa913.events": 300.0}


async def _created(data_dir: Path, names: list[str], *, partitions: int) -> None:
    """Wait until the broker has written each topic's partitions to disk."""
    timeout = 30.0
    deadline = time.monotonic() + timeout
    markers = [
        data_dir / f"{name}-{partition}" / "partition.metadata"
        for name in names
        for partition in range(partitions)
    ]
    while not all(marker.exists() for marker in markers):
        assert time.monotonic() < deadline, f"{names} not on disk after {timeout} s"
        await asyncio.sleep(0.1)


@pytest.mark.integration
async def test_infra_up_deletes_the_local_broker_s_stale_run_topics_only(kafka: str) -> None:
    recorded = state.load("kafka")
    if recorded is None or kafka_bootstrap(recorded) != kafka:
        pytest.skip("the broker is not the local one of `lts infra up`")
    data_dir = Path(str(recorded["home"])) / "data"
    run = uuid.uuid4().hex[:10]
    ended, running, service = f"lts.prune_{run}.events", f"lts.live_{run}.events", "lts.prunetest"
    await ensure_topics(kafka, [ended, running, service], partitions=2)
    await _created(data_dir, [ended, running, service], partitions=2)
    hours_ago = time.time() - STALE_AFTER_S - 60
    for name in (ended, service):
        for marker in data_dir.glob(f"{name}-*/partition.metadata"):
            os.utime(marker, (hours_ago, hours_ago))

    try:
        found = await asyncio.to_thread(ensure_infrastructure, environ={"LTS_INFRA": "local"})
        left = await topic_names(kafka)
    finally:
        await delete_topics(kafka, [service])

    assert found.kafka_bootstrap_servers == kafka
    assert ended not in left
    assert {running, service} <= left
