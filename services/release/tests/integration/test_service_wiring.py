"""The release service starts as it runs (real `SPEC`, real Kafka and PostgreSQL) and hears its
own topic: a candidate opened in its store comes back through the relay and is listed on its
line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lts_events.actors import Actor, Role
from lts_events.contracts.release.candidates import (
    Bump,
    CandidateListed,
    CandidateOpened,
    candidate_stream,
    line_stream,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.store.port import NO_STREAM
from lts_release.appending import Outcome, append

from .conftest import Running, eventually

pytestmark = pytest.mark.integration


async def test_an_opened_candidate_is_listed_on_its_line_through_the_own_topic(
    release_service: Running, unique: str
) -> None:
    line = f"9.{int(unique[:6], 16)}"
    candidate_id = f"{line}.0rc1"
    opened = CandidateOpened(
        candidate_id=candidate_id,
        line=line,
        version=f"{line}.0",
        rc=1,
        tag=f"v{line}.0rc1",
        final_tag=f"v{line}.0",
        previous_version=None,
        bump=Bump.FIRST,
        backports=(),
        rollout_strategy=RolloutStrategy.IMMEDIATE,
        emergency=False,
        opened_by="rm",
        opened_at=datetime.now(UTC),
    )
    manager = Actor(id="rm", role=Role.RELEASE_MANAGER)

    await append(
        release_service.store,
        candidate_stream(candidate_id),
        [Outcome(opened, manager)],
        version=NO_STREAM,
    )

    async def listed() -> CandidateListed | None:
        history = await release_service.store.read_stream(line_stream(line))
        found = [r.event for r in history.events if isinstance(r.event, CandidateListed)]
        return found[0] if found else None

    assert (await eventually(listed)).candidate_id == candidate_id
