"""The projections fold what their own process just audited from memory (`fresh_audits`):
the same rows as a rebuild, and never past a transaction that commits late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lts_devtools.jsonb_strategies import jsonb_numbers, jsonb_strings, jsonb_values
from lts_events.consumer import RawMessage
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.relay import envelope_record
from lts_events.store import ANY, NO_STREAM
from lts_events.store.port import StreamAppend
from lts_metrics.audit import audit_copy, audited_class, facts_of
from lts_metrics.fresh_audits import reads_back_alike
from lts_metrics.samples import ENGINEER, TicketStory

from .conftest import Metrics
from .test_rebuild import snapshot

pytestmark = pytest.mark.integration

T0 = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)


def story(ticket_id: int) -> list[Envelope]:
    return TicketStory(
        ticket_id=ticket_id,
        opened_at=T0,
        triaged_after=timedelta(hours=1),
        planned_after=timedelta(hours=2),
    ).envelopes()


def topic(envelope: Envelope) -> str:
    return "lts.intake.events" if envelope.type.startswith("lts.intake.") else "lts.triage.events"


async def test_what_this_process_audited_is_projected_from_memory_as_a_rebuild_would(
    metrics: Metrics,
) -> None:
    envelopes = [e for n in range(1, 6) for e in story(n)]
    for envelope in envelopes:
        await metrics.audit.record(envelope, facts_of(envelope, topic=topic(envelope)))
        await metrics.projections.step(limit=3)
    await metrics.settle()
    incremental = await snapshot(metrics)

    await metrics.projections.rebuild(batch=4)

    assert metrics.projections.fresh.served == len(envelopes)
    assert await snapshot(metrics) == incremental


async def test_a_kafka_batch_with_several_events_of_a_stream_is_projected_as_a_rebuild_would(
    metrics: Metrics,
) -> None:
    """A batch's copies come back from the store stream by stream (`append_within`'s waves):
    each is held with its own envelope row (the events of a story happen at different times)."""
    envelopes = [e for n in range(11, 15) for e in story(n)]
    batch = [
        RawMessage.of(
            value=value,
            headers=headers,
            key=None,
            topic=topic(envelope),
            partition=0,
            offset=offset,
        )
        for offset, envelope in enumerate(envelopes)
        for _, value, headers in [envelope_record(envelope)]
    ]

    assert await metrics.audit.on_batch(batch) == [None] * len(batch)
    await metrics.settle()
    incremental = await snapshot(metrics)
    await metrics.projections.rebuild()

    assert metrics.projections.fresh.served == len(envelopes)
    assert await snapshot(metrics) == incremental


async def test_data_that_reads_back_otherwise_is_read_from_the_store(metrics: Metrics) -> None:
    """An integral float is stored as an integer (canonical JSON): `3.0` in memory, `3` read
    back; the timeline shows which."""
    envelope = Envelope(
        id=str(uuid4()),
        source="lts-flow/release",
        type="lts.release.patch_scored",  # unknown to this build: the timeline shows its data
        subject="ticket-9",
        time=T0,
        data={"ticket_id": 9, "score": 3.0},
        actorid=ENGINEER.id,
        actorrole=ENGINEER.role,
    )
    await metrics.audit.record(envelope, facts_of(envelope, topic="lts.release.events"))
    await metrics.settle()
    incremental = await snapshot(metrics)

    await metrics.projections.rebuild()

    assert metrics.projections.fresh.served == 0
    assert await snapshot(metrics) == incremental
    [entry] = incremental["ticket_timeline"]
    assert entry[-1] == "patch_scored: score=3"


async def test_an_audit_committed_after_a_later_one_is_not_skipped(metrics: Metrics) -> None:
    """The transaction-id barrier holds for what is served from memory: a copy audited in a
    transaction that began first and commits last is projected, not jumped over."""
    late, early = story(1)[0], story(2)[0]
    facts = facts_of(late, topic=topic(late))
    async with metrics.store.transaction() as held_open:
        await held_open.execute("SELECT pg_current_xact_id()")  # its transaction id is taken now
        await metrics.audit.record(early, facts_of(early, topic=topic(early)))  # held in memory
        await metrics.store.append_within(
            held_open, [StreamAppend(facts.stream_id, [audit_copy(late, facts)], ANY)]
        )
        while_open = await metrics.projections.catch_up()

    await metrics.settle()

    assert while_open == 0
    assert [t.event_type for t in await metrics.queries.timeline(1)] == [late.type]
    assert [t.event_type for t in await metrics.queries.timeline(2)] == [early.type]


def tagged(value: Any) -> Any:
    """`value` with the type of every number and string in it: equal only if equal and of the
    same types (key order aside: jsonb keeps its own)."""
    if isinstance(value, dict):
        return sorted((k, tagged(v)) for k, v in value.items())
    if isinstance(value, list):
        return [tagged(v) for v in value]
    return (type(value).__name__, repr(value))


# where a number's exactness or notation changes (lts_devtools.jsonb_strategies says how)
_EDGES = [2**53 - 1, -(2**53) + 1, 2**60, 2**60 + 1, -(2**70), 1e16 + 2, 1.5e22, 3.0, -0.0, 0.1]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.dictionaries(jsonb_strings, jsonb_values, max_size=4)
        | st.fixed_dictionaries({"n": jsonb_numbers}),
        min_size=1,
        max_size=20,
    )
)
async def test_data_held_as_reading_back_alike_reads_back_from_the_store_alike(
    metrics: Metrics, values: list[dict[str, Any]]
) -> None:
    await _assert_read_back_alike_when_held(metrics, values)


async def test_numbers_at_the_edges_are_held_only_if_they_read_back_alike(
    metrics: Metrics,
) -> None:
    await _assert_read_back_alike_when_held(
        metrics, [{"n": number} for number in _EDGES] + [{"n": [n]} for n in _EDGES]
    )


async def _assert_read_back_alike_when_held(metrics: Metrics, values: list[dict[str, Any]]) -> None:
    copies = [
        NewEvent.of(audited_class("lts.test.data", 1).model_validate(v), Metadata(actor=ENGINEER))
        for v in values
    ]
    stream = f"test:{uuid4()}"
    await metrics.store.append(stream, copies, expected_version=NO_STREAM)

    stored = (await metrics.store.read_stream(stream)).events

    for value, record in zip(values, stored, strict=True):
        if reads_back_alike(value):
            assert tagged(record.data) == tagged(value)
