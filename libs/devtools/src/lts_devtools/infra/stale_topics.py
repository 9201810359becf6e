"""Topics that test and bench runs left on the local broker, deleted once they are old.

Each test session, bench and chaos run creates its own topics, named with a run id (a hex token:
`lts.triage_3fa9c0d1e2.events`, `e2e-3fa9c0d1e2.lts.intake.events`, `bench-3fa9c0.`...), and
leaves them behind: a `make test` adds ~400 topics (~1,400 partitions). The local broker keeps
its data across restarts, so they pile up until the JVM runs out of file descriptors (it died of
"Too many open files" at 19,905 partitions). Other runs may share the broker at the same time,
so a run cannot delete "every topic but the first ones"; what no run can still use is a run
topic created more than `STALE_AFTER_S` ago (a CI run has 90 minutes in all).

Only the local broker's (`lts infra up`'s) topics are pruned: its data directory says when each
partition was created (`partition.metadata` is written once, at creation). A broker given by
the environment or run by Docker is not ours to clean."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path

from lts_devtools.infra.topics import delete_topics

log = logging.getLogger(__name__)

STALE_AFTER_S = 2 * 3600.0
"""A run topic this old belongs to a run that has ended (test sessions take minutes here)."""

# a token of 6+ lowercase hex digits, at least one a digit, not inside a longer word
_RUN_ID = re.compile(r"(?<![0-9A-Za-z])(?=[a-f]*[0-9])[0-9a-f]{6,}(?![0-9A-Za-z])")


def is_run_topic(name: str) -> bool:
    """Named with a run id: created by a test, bench or chaos run, never by a service alone
    (services name their topics `lts.<service>.events`, `lts.inbound.<kind>`...)."""
    return not name.startswith("__") and _RUN_ID.search(name) is not None


def stale_run_topics(created: Mapping[str, float], *, now: float) -> list[str]:
    """The run topics among `created` (topic -> when its newest partition was created, epoch
    seconds) created at least `STALE_AFTER_S` before `now`, sorted."""
    return sorted(
        name for name, at in created.items() if is_run_topic(name) and now - at >= STALE_AFTER_S
    )


def creation_times(data_dir: Path) -> dict[str, float]:
    """Topic -> when its newest partition was created, from the broker's data directory (one
    `<topic>-<partition>` directory per partition, with its `partition.metadata`)."""
    created: dict[str, float] = {}
    for marker in data_dir.glob("*-*/partition.metadata"):
        topic, _, partition = marker.parent.name.rpartition("-")
        if not partition.isdigit():
            continue
        try:
            at = marker.stat().st_mtime
        except FileNotFoundError:  # deleted while we looked
            continue
        created[topic] = max(at, created.get(topic, at))
    return created


async def delete_stale_run_topics(bootstrap_servers: str, data_dir: Path) -> list[str]:
    """Delete the local broker's stale run topics; the names deleted."""
    stale = stale_run_topics(creation_times(data_dir), now=time.time())
    if stale:
        await delete_topics(bootstrap_servers, stale)
        log.info("deleted %d topics of runs that ended", len(stale))
    return stale
