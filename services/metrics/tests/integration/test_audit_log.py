"""The audit log keeps every event as it arrived, including types this build does not know."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from lts_events.actors import Role
from lts_events.consumer import PermanentError, RawMessage
from lts_events.envelope import Envelope
from lts_events.relay import envelope_record
from lts_metrics.audit import COLUMNS, facts_of
from lts_metrics.audit_tables import PostgresAuditTables
from lts_metrics.handlers import AuditLog
from sqlalchemy import text

from .conftest import Metrics

pytestmark = pytest.mark.integration

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def future_event(ticket_id: int) -> Envelope:
    return Envelope(
        id=str(uuid4()),
        source="lts-flow/release",
        type="lts.release.rollback_executed",
        subject=f"ticket-{ticket_id}",
        time=AT,
        data={"ticket_id": ticket_id, "release": "v1.4.3", "why": {"health": "5xx > 2%"}},
        schemaversion=3,
        actorid="sam",
        actorrole=Role.SRE,
        reason="error rate above threshold",
    )


async def test_an_event_of_an_unknown_type_is_stored_with_its_original_facts(
    metrics: Metrics,
) -> None:
    envelope = future_event(7)

    stored = await metrics.audit.record(envelope, facts_of(envelope, topic="lts.release.events"))

    history = await metrics.store.read_stream("release:ticket-7")
    assert stored is True
    [record] = history.events
    assert record.event_id == UUID(envelope.id)
    assert (record.type, record.schema_version, record.data) == (
        "lts.release.rollback_executed",
        3,
        envelope.data,
    )
    assert record.metadata.actor.id == "sam"
    assert record.metadata.reason == envelope.reason


async def test_an_unknown_event_about_a_ticket_appears_in_its_timeline(metrics: Metrics) -> None:
    envelope = future_event(8)
    await metrics.audit.record(envelope, facts_of(envelope, topic="lts.release.events"))

    await metrics.settle()

    [item] = await metrics.queries.timeline(8)
    assert (item.event_type, item.source_service, item.actor_role) == (
        "lts.release.rollback_executed",
        "release",
        "sre",
    )
    assert item.occurred_at == AT
    assert item.reason == "error rate above threshold"


async def test_the_audit_log_view_shows_the_original_time_and_actor(metrics: Metrics) -> None:
    envelope = future_event(9)
    await metrics.audit.record(envelope, facts_of(envelope, topic="lts.release.events"))

    async with metrics.store.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT service, type, occurred_at, actor_id, actor_role, reason"
                    f" FROM {metrics.store.schema}.v_audit_log"
                )
            )
        ).one()

    assert tuple(row) == ("release", envelope.type, AT, "sam", "sre", envelope.reason)


async def test_a_kafka_message_in_binary_mode_is_audited_with_where_it_came_from(
    metrics: Metrics,
) -> None:
    envelope = future_event(10)
    _, value, headers = envelope_record(envelope)
    message = RawMessage.of(
        value=value,
        headers=headers,
        key=b"ticket-10",
        topic="lts.release.events",
        partition=2,
        offset=41,
    )

    assert await metrics.audit.on_batch([message]) == [None]

    async with metrics.store.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT ce_id, topic, kafka_partition, kafka_offset"
                    f" FROM {metrics.store.schema}.v_audit_envelopes"
                )
            )
        ).one()
    assert tuple(row) == (envelope.id, "lts.release.events", 2, 41)


async def test_a_message_that_is_not_a_cloudevent_is_a_permanent_error(metrics: Metrics) -> None:
    message = RawMessage.of(
        value=b"not json", headers=[], key=None, topic="lts.intake.events", partition=0, offset=1
    )

    [verdict] = await metrics.audit.on_batch([message])
    assert isinstance(verdict, PermanentError)
    assert "not a CloudEvent" in str(verdict)


def _message(envelope: Envelope, offset: int) -> RawMessage:
    _, value, headers = envelope_record(envelope)
    return RawMessage.of(
        value=value,
        headers=headers,
        key=(envelope.subject or "").encode(),
        topic="lts.release.events",
        partition=0,
        offset=offset,
    )


async def test_a_batch_is_stored_once_in_kafka_order_and_a_bad_message_is_refused_alone(
    metrics: Metrics,
) -> None:
    ticket = 7000 + uuid4().int % 1000
    first, second, other = future_event(ticket), future_event(ticket), future_event(ticket + 1)
    bad = RawMessage.of(
        value=b"{", headers=[], key=None, topic="lts.release.events", partition=0, offset=3
    )
    batch = [_message(first, 1), _message(second, 2), bad, _message(first, 4), _message(other, 5)]

    verdicts = await metrics.audit.on_batch(batch)
    again = await metrics.audit.on_batch(batch)  # the whole batch redelivered

    assert [v is None for v in verdicts] == [True, True, False, True, True]
    assert [v is None for v in again] == [True, True, False, True, True]
    history = await metrics.store.read_stream(f"release:ticket-{ticket}")
    assert [str(e.event_id) for e in history.events] == [first.id, second.id]
    assert await _envelope_rows(metrics, [first.id, second.id, other.id]) == 3


async def test_a_redelivered_batch_with_new_messages_stores_only_the_new_ones_once(
    metrics: Metrics,
) -> None:
    ticket = 8000 + uuid4().int % 1000
    first, second, third = (future_event(ticket) for _ in range(3))
    other = future_event(ticket + 1)
    await metrics.audit.on_batch([_message(first, 1), _message(second, 2)])

    verdicts = await metrics.audit.on_batch(  # redelivered from offset 1, with more behind it
        [_message(first, 1), _message(second, 2), _message(third, 3), _message(other, 4)]
    )

    assert verdicts == [None] * 4
    history = await metrics.store.read_stream(f"release:ticket-{ticket}")
    assert [str(e.event_id) for e in history.events] == [first.id, second.id, third.id]
    assert [e.stream_version for e in history.events] == [1, 2, 3]
    [copy] = (await metrics.store.read_stream(f"release:ticket-{ticket + 1}")).events
    assert str(copy.event_id) == other.id


async def test_a_batch_written_in_lanes_keeps_each_streams_order_and_every_event_once(
    metrics: Metrics,
) -> None:
    laned = AuditLog(
        PostgresAuditTables(metrics.store, fresh=metrics.projections.fresh),
        lanes=3,
        lane_minimum=1,
    )
    base = 20000 + uuid4().int % 10000 * 10
    # five streams of 1 to 5 events, interleaved as Kafka would hand them over
    stories = {base + n: [future_event(base + n) for _ in range(n + 1)] for n in range(5)}
    order = [e for round_ in range(5) for s in stories.values() for e in s[round_ : round_ + 1]]
    batch = [_message(event, offset) for offset, event in enumerate(order)]

    assert await laned.on_batch(batch[:9]) == [None] * 9
    # redelivered from the start with the rest behind it: only the rest is appended
    assert await laned.on_batch(batch) == [None] * len(batch)

    for ticket, story in stories.items():
        history = await metrics.store.read_stream(f"release:ticket-{ticket}")
        assert [str(e.event_id) for e in history.events] == [e.id for e in story]
        assert [e.stream_version for e in history.events] == list(range(1, len(story) + 1))
    assert await _envelope_rows(metrics, [e.id for e in order]) == len(order)


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone 4-5 hours off UTC (the server's sessions stay in UTC)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_the_envelope_rows_hold_the_facts_as_given(
    metrics: Metrics, local_time_not_utc: None
) -> None:
    """The rows go as JSON text in one statement; they must read back as the driver's own
    parameters stored them: a time without a zone as local time, text as it is, NULLs."""
    ticket = 9000 + uuid4().int % 1000
    envelopes = [future_event(ticket) for _ in range(3)]
    facts = [
        facts_of(envelopes[0], topic="lts.release.events", partition=3, offset=2**62)._replace(
            occurred_at=datetime(2026, 6, 1, 12, 0, 0, 123456),  # no zone: local time
            ce_source='lts-flow/"quoted" \\ é \n next line',
        ),
        facts_of(envelopes[1], topic="lts.release.events")._replace(stream_version=None),
        facts_of(envelopes[2], topic="lts.release.events", partition=0, offset=0),
    ]
    tables = PostgresAuditTables(metrics.store)

    for envelope, each in zip(envelopes, facts, strict=True):
        await AuditLog(tables).record(envelope, each)

    async with metrics.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    f"SELECT {', '.join(COLUMNS)} FROM {metrics.store.schema}.audit_envelopes"
                    " WHERE ce_id = ANY(:ids) ORDER BY ce_id"
                ),
                {"ids": [e.id for e in envelopes]},
            )
        ).all()
    expected = [f._replace(occurred_at=f.occurred_at.astimezone(UTC)) for f in facts]
    assert [tuple(row) for row in rows] == sorted(tuple(f) for f in expected)
    assert expected[0].occurred_at == datetime(2026, 6, 1, 16, 0, 0, 123456, tzinfo=UTC)


async def _envelope_rows(metrics: Metrics, ce_ids: list[str]) -> int:
    """How many `audit_envelopes` rows hold these CloudEvents ids."""
    async with metrics.store.engine.connect() as conn:
        found = await conn.execute(
            text(
                f"SELECT count(*) FROM {metrics.store.schema}.audit_envelopes"
                " WHERE ce_id = ANY(:ids)"
            ),
            {"ids": ce_ids},
        )
        return int(found.scalar_one())
